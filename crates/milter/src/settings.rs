//! The milter parameters of postconf(5), read once per service:
//! `smtpd_milters` / `non_smtpd_milters`, `milter_protocol`,
//! `milter_default_action`, the three timeouts, the macro lists of each
//! stage and the values of `{daemon_name}` and `v`.

use std::time::Duration;

use gatepost_config::{params, Config, Param};

use crate::protocol::{step, V2_STEPS, V6_STEPS};

/// What a filter that cannot be reached or breaks the protocol means for
/// the mail (`milter_default_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultAction {
    Accept,
    Reject,
    Tempfail,
    Quarantine,
}

/// The macro names sent at each stage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageMacros {
    pub connect: Vec<String>,
    pub helo: Vec<String>,
    pub mail: Vec<String>,
    pub rcpt: Vec<String>,
    pub data: Vec<String>,
    pub end_of_header: Vec<String>,
    pub end_of_data: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MilterSettings {
    /// `inet:host:port` or `unix:/path` (`local:` too), in order.
    pub milters: Vec<String>,
    /// `milter_protocol` as written (checked when a filter is connected,
    /// as Postfix does).
    pub protocol: String,
    /// `milter_default_action` as written.
    pub default_action: String,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub content_timeout: Duration,
    pub macros: StageMacros,
    /// `{daemon_name}` (`milter_macro_daemon_name`).
    pub daemon_name: String,
    /// `v` (`milter_macro_v`).
    pub version_macro: String,
}

impl MilterSettings {
    /// The filters of `list` (`smtpd_milters` or `non_smtpd_milters`) with
    /// the shared milter parameters; `None` when the list is empty.
    pub fn from_config(cfg: &Config, list: &Param<Vec<String>>) -> Option<MilterSettings> {
        let milters = cfg.get(list);
        if milters.is_empty() {
            return None;
        }
        let names = |p: &Param<Vec<String>>| cfg.get(p);
        Some(MilterSettings {
            milters,
            protocol: cfg.get(&params::MILTER_PROTOCOL),
            default_action: cfg.get(&params::MILTER_DEFAULT_ACTION),
            connect_timeout: cfg.get(&params::MILTER_CONNECT_TIMEOUT),
            command_timeout: cfg.get(&params::MILTER_COMMAND_TIMEOUT),
            content_timeout: cfg.get(&params::MILTER_CONTENT_TIMEOUT),
            macros: StageMacros {
                connect: names(&params::MILTER_CONNECT_MACROS),
                helo: names(&params::MILTER_HELO_MACROS),
                mail: names(&params::MILTER_MAIL_MACROS),
                rcpt: names(&params::MILTER_RCPT_MACROS),
                data: names(&params::MILTER_DATA_MACROS),
                end_of_header: names(&params::MILTER_END_OF_HEADER_MACROS),
                end_of_data: names(&params::MILTER_END_OF_DATA_MACROS),
            },
            daemon_name: cfg.get(&params::MILTER_MACRO_DAEMON_NAME),
            version_macro: cfg.get(&params::MILTER_MACRO_V),
        })
    }

    /// The default action; an unknown word is Postfix's "unrecognized
    /// default action" (a configuration problem, `None`).
    pub fn default_action(&self) -> Option<DefaultAction> {
        match self.default_action.to_ascii_lowercase().as_str() {
            "accept" => Some(DefaultAction::Accept),
            "reject" => Some(DefaultAction::Reject),
            "tempfail" => Some(DefaultAction::Tempfail),
            "quarantine" => Some(DefaultAction::Quarantine),
            _ => None,
        }
    }

    /// Protocol version and the steps offered, from `milter_protocol`
    /// (`6`, `4 no_header_reply`, ...); the word that is wrong otherwise.
    pub fn protocol(&self) -> Result<(u32, u32), String> {
        let mut version = 0;
        let mut steps = 0;
        for word in self
            .protocol
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty())
        {
            let (v, mask) = match word {
                "2" => (2, V2_STEPS),
                "3" => (3, V2_STEPS | step::NOUNKNOWN),
                "4" => (4, V2_STEPS | step::NOUNKNOWN | step::NODATA),
                "6" => (6, V6_STEPS),
                "no_header_reply" => (0, step::NR_HDR),
                _ => return Err(word.to_string()),
            };
            if v != 0 && version != 0 {
                return Err(word.to_string());
            }
            if v != 0 {
                version = v;
            }
            steps |= mask;
        }
        if version == 0 {
            return Err(String::new());
        }
        Ok((version, steps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_protocol(p: &str) -> MilterSettings {
        MilterSettings {
            milters: vec!["inet:127.0.0.1:1".into()],
            protocol: p.into(),
            default_action: "tempfail".into(),
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
            content_timeout: Duration::from_secs(1),
            macros: StageMacros::default(),
            daemon_name: String::new(),
            version_macro: String::new(),
        }
    }

    #[test]
    fn protocol_versions() {
        assert_eq!(with_protocol("6").protocol(), Ok((6, V6_STEPS)));
        assert_eq!(
            with_protocol("2 no_header_reply").protocol(),
            Ok((2, V2_STEPS | step::NR_HDR))
        );
        assert_eq!(with_protocol("5").protocol(), Err("5".into()));
        assert_eq!(with_protocol("2, 6").protocol(), Err("6".into()));
        assert_eq!(
            with_protocol("no_header_reply").protocol(),
            Err(String::new())
        );
    }

    #[test]
    fn default_actions() {
        let mut s = with_protocol("6");
        for (word, action) in [
            ("accept", Some(DefaultAction::Accept)),
            ("REJECT", Some(DefaultAction::Reject)),
            ("tempfail", Some(DefaultAction::Tempfail)),
            ("quarantine", Some(DefaultAction::Quarantine)),
            ("bounce", None),
        ] {
            s.default_action = word.into();
            assert_eq!(s.default_action(), action, "{word}");
        }
    }
}
