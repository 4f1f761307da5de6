//! The milter parameters of postconf(5), read once per service:
//! `smtpd_milters` / `non_smtpd_milters` (each entry `endpoint` or, as in
//! Postfix 3.0 and later, `{ endpoint, name=value, ... }` with per-filter
//! `connect_timeout`, `command_timeout`, `content_timeout`, `protocol` and
//! `default_action`), `milter_protocol`, `milter_default_action`, the
//! three timeouts, the macro lists of each stage (with
//! `milter_unknown_command_macros`), `milter_macro_defaults`,
//! `milter_header_checks` and the values of `{daemon_name}` and `v`.

use std::sync::Arc;
use std::time::Duration;

use gatepost_config::{params, parse_time, split_list, Config, Param};
use gatepost_table::{open_table, MapList, Table, TableError};

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
    /// `milter_unknown_command_macros` (protocol 3 and later).
    pub unknown: Vec<String>,
}

/// One filter of the list with the settings it runs with: the main.cf
/// values, or its own from a `{ endpoint, name=value ... }` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSpec {
    /// `inet:host:port` or `unix:/path` (`local:` too).
    pub endpoint: String,
    /// `milter_protocol` (or `protocol=`) as written, checked when the
    /// filter is connected, as Postfix does.
    pub protocol: String,
    /// `milter_default_action` (or `default_action=`) as written.
    pub default_action: String,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub content_timeout: Duration,
    /// Why the entry could not be read (Postfix stops with this text): the
    /// filter then answers `451 4.3.5 Server configuration problem`.
    pub error: Option<String>,
}

/// `milter_header_checks`: the tables, opened once.
#[derive(Debug, Clone, Default)]
pub struct HeaderCheckTables {
    specs: Vec<String>,
    pub(crate) maps: MapList,
}

impl PartialEq for HeaderCheckTables {
    fn eq(&self, other: &Self) -> bool {
        self.specs == other.specs
    }
}

impl Eq for HeaderCheckTables {}

impl HeaderCheckTables {
    /// Open `specs` (any table type; regexp and pcre in practice).
    pub fn open(program: &str, specs: &[String]) -> HeaderCheckTables {
        let maps = MapList::open(
            program,
            params::MILTER_HEADER_CHECKS.name(),
            specs,
            |spec: &str| -> Result<Arc<dyn Table>, TableError> { open_table(spec) },
        );
        HeaderCheckTables {
            specs: specs.to_vec(),
            maps,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MilterSettings {
    /// The filters, in order.
    pub filters: Vec<FilterSpec>,
    pub macros: StageMacros,
    /// `milter_macro_defaults`: value of a macro (bare name) that has none.
    pub macro_defaults: Vec<(String, String)>,
    /// `milter_header_checks`.
    pub header_checks: HeaderCheckTables,
    /// `{daemon_name}` (`milter_macro_daemon_name`).
    pub daemon_name: String,
    /// `v` (`milter_macro_v`).
    pub version_macro: String,
}

/// The main.cf values each filter starts from.
struct Shared {
    protocol: String,
    default_action: String,
    connect_timeout: Duration,
    command_timeout: Duration,
    content_timeout: Duration,
}

impl MilterSettings {
    /// The filters of `list` (`smtpd_milters` or `non_smtpd_milters`) with
    /// the shared milter parameters; `None` when the list is empty.
    pub fn from_config(cfg: &Config, list: &Param<Vec<String>>) -> Option<MilterSettings> {
        let entries = cfg.get(list);
        if entries.is_empty() {
            return None;
        }
        let shared = Shared {
            protocol: cfg.get(&params::MILTER_PROTOCOL),
            default_action: cfg.get(&params::MILTER_DEFAULT_ACTION),
            connect_timeout: cfg.get(&params::MILTER_CONNECT_TIMEOUT),
            command_timeout: cfg.get(&params::MILTER_COMMAND_TIMEOUT),
            content_timeout: cfg.get(&params::MILTER_CONTENT_TIMEOUT),
        };
        let names = |p: &Param<Vec<String>>| cfg.get(p);
        let program = if list.name() == params::SMTPD_MILTERS.name() {
            "smtpd"
        } else {
            "cleanup"
        };
        let defaults = cfg.get(&params::MILTER_MACRO_DEFAULTS);
        Some(MilterSettings {
            filters: entries
                .iter()
                .map(|entry| FilterSpec::parse(entry, &shared))
                .collect(),
            macros: StageMacros {
                connect: names(&params::MILTER_CONNECT_MACROS),
                helo: names(&params::MILTER_HELO_MACROS),
                mail: names(&params::MILTER_MAIL_MACROS),
                rcpt: names(&params::MILTER_RCPT_MACROS),
                data: names(&params::MILTER_DATA_MACROS),
                end_of_header: names(&params::MILTER_END_OF_HEADER_MACROS),
                end_of_data: names(&params::MILTER_END_OF_DATA_MACROS),
                unknown: names(&params::MILTER_UNKNOWN_COMMAND_MACROS),
            },
            macro_defaults: parse_macro_defaults(&defaults, program),
            header_checks: HeaderCheckTables::open(
                program,
                &cfg.get(&params::MILTER_HEADER_CHECKS),
            ),
            daemon_name: cfg.get(&params::MILTER_MACRO_DAEMON_NAME),
            version_macro: cfg.get(&params::MILTER_MACRO_V),
        })
    }

    /// The default value of a macro (bare name), if one is configured.
    pub fn macro_default(&self, bare: &str) -> Option<&str> {
        self.macro_defaults
            .iter()
            .find(|(name, _)| name == bare)
            .map(|(_, value)| value.as_str())
    }
}

/// `{ text }` → `text` (Postfix `extpar`), or why not.
fn strip_group(item: &str) -> Result<&str, String> {
    let inner = item.strip_prefix('{').unwrap_or(item);
    let mut level = 1usize;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => level += 1,
            '}' => {
                level -= 1;
                if level == 0 {
                    if !inner[i + 1..].trim().is_empty() {
                        return Err(format!("syntax error after '}}' in \"{item}\""));
                    }
                    return Ok(inner[..i].trim());
                }
            }
            _ => {}
        }
    }
    Err(format!("missing '}}' in \"{item}\""))
}

/// `name=value` (Postfix `split_nameval`): the name and value, blanks
/// around them dropped.
fn split_nameval(text: &str) -> Result<(&str, &str), &'static str> {
    let text = text.trim_start();
    let name_end = text
        .find(|c: char| c == '=' || c.is_whitespace())
        .unwrap_or(text.len());
    if name_end == 0 {
        return Err("missing attribute name");
    }
    let rest = text[name_end..].trim_start();
    let Some(value) = rest.strip_prefix('=') else {
        return Err("missing '=' after attribute name");
    };
    Ok((&text[..name_end], value.trim()))
}

impl FilterSpec {
    /// One entry of the list: `endpoint`, or `{ endpoint, name=value ... }`
    /// (Postfix `milter_new()` and `attr_override()`).
    fn parse(entry: &str, shared: &Shared) -> FilterSpec {
        let mut spec = FilterSpec {
            endpoint: entry.to_string(),
            protocol: shared.protocol.clone(),
            default_action: shared.default_action.clone(),
            connect_timeout: shared.connect_timeout,
            command_timeout: shared.command_timeout,
            content_timeout: shared.content_timeout,
            error: None,
        };
        if entry.starts_with('{') {
            if let Err(why) = spec.read_group(entry) {
                spec.error = Some(why);
            }
        }
        spec
    }

    fn read_group(&mut self, entry: &str) -> Result<(), String> {
        let inner = strip_group(entry).map_err(|e| format!("milter service syntax error: {e}"))?;
        let mut items = split_list(inner).into_iter();
        let endpoint = items
            .next()
            .ok_or_else(|| format!("empty milter definition: \"{entry}\""))?;
        self.endpoint = endpoint;
        for item in items {
            let nameval = if item.starts_with('{') {
                strip_group(&item)?.to_string()
            } else {
                item
            };
            let (name, value) = split_nameval(&nameval)
                .map_err(|e| format!("malformed option: {e}: \"...{nameval}...\""))?;
            let time = |slot: &mut Duration| -> Result<(), String> {
                match parse_time(value, 's') {
                    Ok(d) if d >= Duration::from_secs(1) => {
                        *slot = d;
                        Ok(())
                    }
                    _ => Err(format!("{name}: bad time value or unit: {value}")),
                }
            };
            match name {
                "connect_timeout" => time(&mut self.connect_timeout)?,
                "command_timeout" => time(&mut self.command_timeout)?,
                "content_timeout" => time(&mut self.content_timeout)?,
                "protocol" => self.protocol = value.to_string(),
                "default_action" => self.default_action = value.to_string(),
                _ => return Err(format!("unknown option: \"{name} = {value}\"")),
            }
        }
        Ok(())
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

    /// Protocol version and the steps offered, from the protocol setting
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

/// `milter_macro_defaults` (Postfix `milter_macro_defaults_create()`):
/// `name=value`, `{name}=value` or `{ name = value }`, separated by commas
/// or blanks; the first entry of a name counts. A malformed entry is
/// logged and left out.
fn parse_macro_defaults(value: &str, program: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for item in split_list(value) {
        // `{name}=value` names a macro in its braced form; `{ n = v }` is
        // one entry with blanks allowed.
        let braced_name = item.starts_with('{')
            && item
                .find('}')
                .is_some_and(|end| item[end + 1..].starts_with('='));
        let nameval = if item.starts_with('{') && !braced_name {
            match strip_group(&item) {
                Ok(inner) => inner.to_string(),
                Err(e) => {
                    gatepost_log::warning(
                        program,
                        format!("malformed default macro entry: {e} in \"{value}\""),
                    );
                    continue;
                }
            }
        } else {
            item.clone()
        };
        let (name, macro_value) = if braced_name {
            let end = nameval.find('}').unwrap_or(0);
            (&nameval[..=end], nameval[end + 2..].trim())
        } else {
            match split_nameval(&nameval) {
                Ok(pair) => pair,
                Err(e) => {
                    gatepost_log::warning(
                        program,
                        format!("malformed default macro entry: {e} in \"{value}\""),
                    );
                    continue;
                }
            }
        };
        let bare = name
            .trim_start_matches('{')
            .trim_end_matches('}')
            .to_string();
        if out.iter().any(|(n, _)| *n == bare) {
            gatepost_log::warning(
                program,
                format!("ignoring multiple default macro entries for {{{bare}}} in \"{value}\""),
            );
            continue;
        }
        out.push((bare, macro_value.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        Shared {
            protocol: "6".into(),
            default_action: "tempfail".into(),
            connect_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(30),
            content_timeout: Duration::from_secs(300),
        }
    }

    fn with_protocol(p: &str) -> FilterSpec {
        let mut s = FilterSpec::parse("inet:127.0.0.1:1", &shared());
        s.protocol = p.into();
        s
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

    /// `{ endpoint, name=value, { name = value } }` as Postfix 3.0 reads
    /// it, and the texts Postfix stops with.
    #[test]
    fn per_filter_settings() {
        let s = FilterSpec::parse(
            "{ inet:127.0.0.1:8891, connect_timeout=10s, default_action=accept, \
             command_timeout=2m, { content_timeout = 1h }, protocol=4 }",
            &shared(),
        );
        assert_eq!(s.error, None);
        assert_eq!(s.endpoint, "inet:127.0.0.1:8891");
        assert_eq!(s.connect_timeout, Duration::from_secs(10));
        assert_eq!(s.command_timeout, Duration::from_secs(120));
        assert_eq!(s.content_timeout, Duration::from_secs(3600));
        assert_eq!(s.default_action(), Some(DefaultAction::Accept));
        assert_eq!(s.protocol, "4");
        let plain = FilterSpec::parse("unix:/run/f.sock", &shared());
        assert_eq!(
            (
                plain.endpoint.as_str(),
                plain.protocol.as_str(),
                plain.error
            ),
            ("unix:/run/f.sock", "6", None)
        );
        let errors = [
            ("{ }", "empty milter definition: \"{ }\""),
            (
                "{ inet:h:1, connect_timeout = 1s }",
                "malformed option: missing '=' after attribute name: \"...connect_timeout...\"",
            ),
            (
                "{ inet:h:1, colour=blue }",
                "unknown option: \"colour = blue\"",
            ),
            (
                "{ inet:h:1, command_timeout=soon }",
                "command_timeout: bad time value or unit: soon",
            ),
            (
                "{ inet:h:1",
                "milter service syntax error: missing '}' in \"{ inet:h:1\"",
            ),
        ];
        for (entry, want) in errors {
            let s = FilterSpec::parse(entry, &shared());
            assert_eq!(s.error.as_deref(), Some(want), "{entry}");
        }
    }

    #[test]
    fn macro_defaults() {
        let got = parse_macro_defaults(
            "auth_type=none, {client_name}=nobody { rcpt_host = a b } auth_type=x bad",
            "smtpd",
        );
        assert_eq!(
            got,
            vec![
                ("auth_type".to_string(), "none".to_string()),
                ("client_name".into(), "nobody".into()),
                ("rcpt_host".into(), "a b".into()),
            ]
        );
    }

    #[test]
    fn settings_from_main_cf() {
        let mut cfg = Config::defaults();
        cfg.set(
            "smtpd_milters",
            "inet:127.0.0.1:1, { unix:/x, default_action=accept }",
        );
        cfg.set("milter_default_action", "reject");
        cfg.set("milter_macro_defaults", "foo=bar");
        let s = MilterSettings::from_config(&cfg, &params::SMTPD_MILTERS).expect("filters");
        let actions: Vec<&str> = s
            .filters
            .iter()
            .map(|f| f.default_action.as_str())
            .collect();
        assert_eq!(actions, ["reject", "accept"]);
        assert_eq!(s.macro_default("foo"), Some("bar"));
        assert!(s.header_checks.is_empty());
        assert!(s.macros.unknown.is_empty());
    }
}
