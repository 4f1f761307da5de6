//! The restriction engine: Postfix's `smtpd_*_restrictions` parsed once into
//! typed restriction lists and evaluated per SMTP stage with Postfix's
//! semantics (`smtpd_delay_reject`, `defer_if_permit` / `defer_if_reject`,
//! `warn_if_reject`, restriction classes, access-table results, reply
//! post-processing and DSN mapping, `soft_bounce`). Reference:
//! docs/restrictions.md, smtpd(8), access(5) and Postfix's `smtpd/smtpd_check.c`.
//!
//! This file holds the public types and the start-up parsing; see the
//! module headers for the evaluation pieces.
//!
//! Modules: `restriction` (parsing), `settings`, `stages` (per-stage
//! drivers), `eval` (one list), `dispatch` (a restriction name to its code),
//! `access` and `access_result` (access tables), `server_access`
//! (`check_*_{mx,ns,a}_access`), `relay` (address classes, relay decision),
//! `dns` ([`DnsChecks`]), `dnscheck` (DNS-based restrictions), `rbl`,
//! `lookup` (resolution, networks, tables), `policy_client` and
//! `policy_request` (policy delegation), `reply` (reply post-processing),
//! `dsn`, `logline` (log events into text), `trace` (`policy-test`).
#![forbid(unsafe_code)]

mod access;
mod access_result;
pub mod check;
mod dispatch;
mod dns;
mod dnscheck;
mod dsn;
mod eval;
mod logline;
mod lookup;
mod policy_client;
mod policy_request;
mod rbl;
mod relay;
mod reply;
mod restriction;
mod server_access;
mod settings;
mod stages;
mod trace;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use gatepost_config::{params, split_list, Config, Param};
use gatepost_proto::Reply;
use gatepost_rewrite::Rewriter;
use gatepost_table::{DomainList, NetworkList};

pub use dns::{DnsChecks, DnsStatus, RblAnswer, ResolverDns, ServerHosts, ServerKind, SpfAnswer};
pub use eval::Deferral;
pub use logline::format_event;
pub use trace::render_trace;

use lookup::{ConfigEnv, Env, Maps};
use restriction::{has_required, Parser, RestrictionList, TableOpener, TableRef};
use settings::Settings;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Fatal configuration error (smtpd would not start), with Postfix's
    /// text (without the `fatal: ` log prefix).
    #[error("{0}")]
    Fatal(String),
}

/// SMTP stage being checked (the STAGE word of log lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connect,
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    EndOfMessage,
    Etrn,
    Vrfy,
}

impl Stage {
    /// `CONNECT`, `HELO`, `EHLO`, `MAIL`, `RCPT`, `DATA`, `END-OF-MESSAGE`, `ETRN`, `VRFY`.
    pub fn log_name(self) -> &'static str {
        match self {
            Stage::Connect => "CONNECT",
            Stage::Helo => "HELO",
            Stage::Ehlo => "EHLO",
            Stage::Mail => "MAIL",
            Stage::Rcpt => "RCPT",
            Stage::Data => "DATA",
            Stage::EndOfMessage => "END-OF-MESSAGE",
            Stage::Etrn => "ETRN",
            Stage::Vrfy => "VRFY",
        }
    }
}

/// What the server knows about the session at the moment of a check.
#[derive(Debug, Clone)]
pub struct Facts {
    pub client_addr: IpAddr,
    /// Verified client name, or `unknown`.
    pub client_name: String,
    /// Unverified reverse name, or `unknown`.
    pub reverse_client_name: String,
    pub server_addr: IpAddr,
    /// HELO/EHLO argument, if given.
    pub helo: Option<String>,
    /// `SMTP` or `ESMTP`.
    pub protocol: String,
    /// Envelope sender (internal form); `Some("")` for `<>`, `None` before MAIL.
    pub sender: Option<String>,
    /// Recipient being checked (RCPT/VRFY), internal form as given by the client.
    pub recipient: Option<String>,
    /// Number of accepted recipients: at RCPT those accepted before this
    /// one; at DATA / END-OF-MESSAGE all of them.
    pub recipient_count: usize,
    pub queue_id: Option<String>,
    /// The session's "improper pipelining" flag (docs/restrictions.md#improper-pipelining).
    pub improper_pipelining: bool,
    /// The SASL mechanism of the login (`PLAIN`), with `sasl_username`.
    pub sasl_method: Option<String>,
    pub sasl_username: Option<String>,
    pub etrn_domain: Option<String>,
    pub size: u64,
    /// The session's TLS, once STARTTLS or wrapper mode succeeded.
    pub encryption: Option<Encryption>,
    /// The client name lookup failed temporarily (PTR or its forward
    /// check): `reject_unknown_client_hostname` then always answers 450.
    pub client_name_tempfail: bool,
    /// The reverse (PTR) lookup failed temporarily.
    pub reverse_name_tempfail: bool,
}

impl Facts {
    /// A client just connected: `client_name` is both the verified and the
    /// reverse name (`unknown` when there is none), the protocol is `SMTP`,
    /// and nothing else is known yet.
    pub fn new(client_addr: IpAddr, client_name: &str, server_addr: IpAddr) -> Facts {
        Facts {
            client_addr,
            client_name: client_name.to_string(),
            reverse_client_name: client_name.to_string(),
            server_addr,
            helo: None,
            protocol: "SMTP".into(),
            sender: None,
            recipient: None,
            recipient_count: 0,
            queue_id: None,
            improper_pipelining: false,
            sasl_method: None,
            sasl_username: None,
            etrn_domain: None,
            size: 0,
            encryption: None,
            client_name_tempfail: false,
            reverse_name_tempfail: false,
        }
    }
}

/// What a session's TLS negotiated, as Postfix's policy delegation
/// sends it (`encryption_protocol`, `encryption_cipher`, `encryption_keysize`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    /// `TLSv1.3`.
    pub protocol: String,
    /// OpenSSL's cipher name, `TLS_AES_256_GCM_SHA384`.
    pub cipher: String,
    pub keysize: u32,
}

/// Per-session policy state carried across stages: the pending
/// `defer_if_permit` raised by the client, helo and sender stages (docs/restrictions.md#deferred-decisions)
/// and the transaction's DISCARD flag. Create one per connection; call
/// [`SessionPolicy::reset_transaction`] at RSET / end of a transaction.
#[derive(Debug, Clone, Default)]
pub struct SessionPolicy {
    pub(crate) client_defer: Option<Deferral>,
    pub(crate) helo_defer: Option<Deferral>,
    pub(crate) sender_defer: Option<Deferral>,
    pub(crate) discard: bool,
}

impl SessionPolicy {
    /// Forget transaction state (a DISCARD action applies to one message).
    pub fn reset_transaction(&mut self) {
        self.discard = false;
    }

    /// Whether a DISCARD action is in effect for the current transaction.
    pub fn discarding(&self) -> bool {
        self.discard
    }
}

/// One log line the server must write for this check.
///
/// `action` is `reject`, `reject_warning`, `warn`, `info`, `hold`,
/// `discard`, `filter`, `redirect`, `bcc` or `hangup`, rendered with the
/// session context as `ID: ACTION: STAGE from name[addr]: TEXT; from=<>
/// to=<> proto= helo=<>`; or [`LogEvent::WARNING`] (`warning: TEXT`), or
/// [`LogEvent::NOTE`] (a plain informational line such as `mapping DSN
/// status ...`). [`format_event`] renders all three.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub action: String,
    pub text: String,
}

impl LogEvent {
    /// Action of a plain `warning: TEXT` line.
    pub const WARNING: &'static str = "warning";
    /// Action of a plain informational line (no session context).
    pub const NOTE: &'static str = "note";
}

/// Access-table actions that change the message rather than the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageAction {
    Hold(String),
    Discard(String),
    Filter(String),
    Redirect(String),
    Bcc(String),
    Prepend(String),
}

/// One step of the evaluation, for `policy-test` traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStep {
    /// Parameter whose list was being evaluated, e.g. `smtpd_recipient_restrictions`
    /// (a class name, or the access table, for nested lists).
    pub list: String,
    /// The restriction as written (`reject_unauth_destination`, `check_client_access hash:/x`).
    pub restriction: String,
    /// Where the list was set, when it came from a file.
    pub origin: Option<(String, usize)>,
    /// `OK`, `DUNNO`, `REJECT 554 5.7.1 ...`, `DEFER_IF_PERMIT ...`,
    /// `DEFER_IF_REJECT ...`, `REJECT_WARNING ...`, `WARN_IF_REJECT`.
    pub result: String,
}

/// The outcome of one check.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// `None`: proceed. `Some(reply)`: send this reply instead of the success reply.
    pub reply: Option<Reply>,
    pub events: Vec<LogEvent>,
    pub actions: Vec<MessageAction>,
    pub trace: Vec<TraceStep>,
    /// An access table said HANGUP: drop the connection without sending
    /// anything (`reply` then holds a 421 for servers that cannot).
    pub hangup: bool,
}

/// The parsed restriction configuration.
#[derive(Debug)]
pub struct Policy {
    pub(crate) s: Settings,
    pub(crate) client: RestrictionList,
    pub(crate) helo: RestrictionList,
    pub(crate) sender: RestrictionList,
    pub(crate) relay: RestrictionList,
    pub(crate) recipient: RestrictionList,
    pub(crate) data: RestrictionList,
    pub(crate) eod: RestrictionList,
    pub(crate) etrn: RestrictionList,
    pub(crate) classes: HashMap<String, RestrictionList>,
    pub(crate) local_rcpt_maps: Maps,
    pub(crate) virt_mailbox_maps: Maps,
    pub(crate) relay_rcpt_maps: Maps,
    pub(crate) sender_login_maps: Maps,
    pub(crate) rbl_reply_maps: Maps,
    pub(crate) env: Arc<dyn Env>,
    pub(crate) dns: Arc<dyn DnsChecks>,
    pub(crate) origins: HashMap<String, (String, usize)>,
    pub(crate) warnings: Vec<String>,
    /// Connections to policy services (`check_policy_service`).
    pub(crate) policy_clients: policy_client::PolicyClients,
}

/// The restriction list parameter of each SMTP stage.
const STAGE_PARAMS: [&Param<Vec<String>>; 8] = [
    &params::SMTPD_CLIENT_RESTRICTIONS,
    &params::SMTPD_HELO_RESTRICTIONS,
    &params::SMTPD_SENDER_RESTRICTIONS,
    &params::SMTPD_RELAY_RESTRICTIONS,
    &params::SMTPD_RECIPIENT_RESTRICTIONS,
    &params::SMTPD_DATA_RESTRICTIONS,
    &params::SMTPD_END_OF_DATA_RESTRICTIONS,
    &params::SMTPD_ETRN_RESTRICTIONS,
];

/// The built-in restriction class.
const BUILTIN_CLASS: (&str, &str) = (
    "reject_sender_login_mismatch",
    "reject_authenticated_sender_login_mismatch reject_unauthenticated_sender_login_mismatch",
);

impl Policy {
    /// Parse every restriction list; fails like Postfix's smtpd start-up
    /// (e.g. no working `reject_unauth_destination` instance). DNS checks
    /// use `resolver`, the service's.
    pub fn from_config(
        cfg: &Config,
        rewriter: Arc<Rewriter>,
        resolver: gatepost_dns::Resolver,
    ) -> Result<Policy, PolicyError> {
        let s = Settings::read(cfg)?;
        let env = ConfigEnv {
            rewriter,
            mynetworks: NetworkList::parse(&cfg.mynetworks(), s.mynetworks_parent_match),
            relay_domains: DomainList::parse(
                &cfg.get(&params::RELAY_DOMAINS),
                s.relay_domains_parent_match,
            ),
        };
        let open = |spec: &str| gatepost_table::open_table(spec).map_err(|e| e.to_string());
        let dns =
            Arc::new(ResolverDns::new(resolver).with_myhostname(&cfg.get(&params::MYHOSTNAME)));
        Policy::build(cfg, Arc::new(env), &open, dns)
    }

    /// Use another DNS implementation (tests, the real resolver).
    pub fn with_dns(mut self, dns: Arc<dyn DnsChecks>) -> Policy {
        self.dns = dns;
        self
    }

    /// Warnings found while parsing (logged once at start-up).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub(crate) fn build(
        cfg: &Config,
        env: Arc<dyn Env>,
        open: &TableOpener,
        dns: Arc<dyn DnsChecks>,
    ) -> Result<Policy, PolicyError> {
        let s = Settings::read(cfg)?;
        let mut warnings = Vec::new();
        let class_names = cfg.get(&params::SMTPD_RESTRICTION_CLASSES);
        let mut class_set: HashSet<String> = class_names.iter().cloned().collect();
        class_set.insert(BUILTIN_CLASS.0.to_string());
        let mut parser = Parser {
            classes: &class_set,
            open,
            cache: HashMap::new(),
        };
        let mut stage = |param: &Param<Vec<String>>| parser.parse(param.name(), &cfg.get(param));
        let client = stage(&params::SMTPD_CLIENT_RESTRICTIONS);
        let helo = stage(&params::SMTPD_HELO_RESTRICTIONS);
        let sender = stage(&params::SMTPD_SENDER_RESTRICTIONS);
        let relay = stage(&params::SMTPD_RELAY_RESTRICTIONS);
        let recipient = stage(&params::SMTPD_RECIPIENT_RESTRICTIONS);
        let data = stage(&params::SMTPD_DATA_RESTRICTIONS);
        let eod = stage(&params::SMTPD_END_OF_DATA_RESTRICTIONS);
        let etrn = stage(&params::SMTPD_ETRN_RESTRICTIONS);
        let mut classes = HashMap::new();
        for name in &class_names {
            // A class is a parameter named by the user.
            let definition = cfg.expanded(name);
            if definition.trim().is_empty() {
                return Err(PolicyError::Fatal(format!(
                    "restriction class `{name}' needs a definition"
                )));
            }
            let list = parser.parse(name, &split_list(&definition));
            classes.insert(name.clone(), list);
        }
        let builtin: Vec<String> = BUILTIN_CLASS.1.split(' ').map(str::to_string).collect();
        classes.insert(
            BUILTIN_CLASS.0.to_string(),
            parser.parse(BUILTIN_CLASS.0, &builtin),
        );

        let lists = [
            &client, &helo, &sender, &relay, &recipient, &data, &eod, &etrn,
        ];
        if !has_required(&recipient.tokens, &classes, &mut warnings, 0)
            && !has_required(&relay.tokens, &classes, &mut warnings, 0)
        {
            return Err(PolicyError::Fatal(restriction::fail_required_text()));
        }
        if lists
            .into_iter()
            .chain(classes.values())
            .flat_map(|l| l.tokens.iter())
            .any(|t| t.eq_ignore_ascii_case("check_relay_domains"))
        {
            warnings.push(
                "support for restriction \"check_relay_domains\" will be removed from Postfix; use \"reject_unauth_destination\" instead"
                    .to_string(),
            );
        }
        for l in lists.into_iter().chain(classes.values()) {
            for t in &l.tokens {
                if t.starts_with('{') {
                    warnings.push(format!("expected maptype:mapname instead of '{t}'"));
                }
            }
        }

        let mut maps = |param: &Param<Vec<String>>| {
            let param_name = param.name();
            let mut m = Maps {
                param: param_name.to_string(),
                tables: Vec::new(),
            };
            for item in cfg.get(param) {
                if item.contains(':') {
                    m.tables.push(TableRef {
                        spec: item.clone(),
                        table: open(&item),
                    });
                } else {
                    warnings.push(format!(
                        "{param_name}: ignoring item \"{item}\": need maptype:mapname"
                    ));
                }
            }
            m
        };
        let local_rcpt_maps = maps(&params::LOCAL_RECIPIENT_MAPS);
        let virt_mailbox_maps = maps(&params::VIRTUAL_MAILBOX_MAPS);
        let relay_rcpt_maps = maps(&params::RELAY_RECIPIENT_MAPS);
        let sender_login_maps = maps(&params::SMTPD_SENDER_LOGIN_MAPS);
        let rbl_reply_maps = maps(&params::RBL_REPLY_MAPS);

        let mut origins = HashMap::new();
        for name in STAGE_PARAMS
            .iter()
            .map(|p| p.name().to_string())
            .chain(class_names.iter().cloned())
        {
            if let Some(o) = cfg.origin(&name) {
                origins.insert(name, o);
            }
        }
        Ok(Policy {
            s,
            client,
            helo,
            sender,
            relay,
            recipient,
            data,
            eod,
            etrn,
            classes,
            local_rcpt_maps,
            virt_mailbox_maps,
            relay_rcpt_maps,
            sender_login_maps,
            rbl_reply_maps,
            env,
            dns,
            origins,
            warnings,
            policy_clients: policy_client::PolicyClients::default(),
        })
    }

    /// Evaluate the restrictions that apply at `stage` (with
    /// `smtpd_delay_reject = yes`, client/helo/sender lists run at RCPT).
    pub async fn check(&self, stage: Stage, facts: &Facts, session: &mut SessionPolicy) -> Verdict {
        self.evaluate(stage, facts, session, self.s.delay_reject)
            .await
    }

    /// `smtpd_delay_reject`: client, helo and sender lists wait for RCPT TO.
    pub fn delay_reject(&self) -> bool {
        self.s.delay_reject
    }

    /// For `policy-test`: when `smtpd_delay_reject = yes` postpones the
    /// list of `stage` (CONNECT, HELO/EHLO, MAIL) to RCPT TO, what that list
    /// says with what is known at `stage`, evaluated on a copy of the
    /// session state; `None` when the list runs at its own stage.
    pub async fn preview_postponed(
        &self,
        stage: Stage,
        facts: &Facts,
        session: &SessionPolicy,
    ) -> Option<Verdict> {
        if !self.s.delay_reject || postponed_list(stage).is_none() {
            return None;
        }
        let mut copy = session.clone();
        Some(self.evaluate(stage, facts, &mut copy, false).await)
    }

    async fn evaluate(
        &self,
        stage: Stage,
        facts: &Facts,
        session: &mut SessionPolicy,
        delay: bool,
    ) -> Verdict {
        let mut c = eval::Check::new(self, facts, stage, session.discard);
        let status = match stage {
            Stage::Connect if !delay => c.check_client(session).await,
            Stage::Helo | Stage::Ehlo if !delay => c.check_helo(session).await,
            Stage::Mail if !delay => c.check_mail(session).await,
            Stage::Connect | Stage::Helo | Stage::Ehlo | Stage::Mail => eval::Status::Dunno,
            Stage::Rcpt | Stage::Vrfy => c.check_rcpt(session).await,
            Stage::Etrn => c.check_etrn(session).await,
            Stage::Data => c.check_data(false).await,
            Stage::EndOfMessage => c.check_data(true).await,
        };
        session.discard |= c.discard;
        let reply = if status == eval::Status::Reject || c.hangup {
            Some(reply::to_reply(&c.error_text))
        } else {
            None
        };
        Verdict {
            reply,
            events: c.events,
            actions: c.actions,
            trace: c.trace,
            hangup: c.hangup,
        }
    }
}

/// The restriction list that `smtpd_delay_reject = yes` postpones from
/// `stage` to RCPT TO, if any.
pub fn postponed_list(stage: Stage) -> Option<&'static str> {
    match stage {
        Stage::Connect => Some(params::SMTPD_CLIENT_RESTRICTIONS.name()),
        Stage::Helo | Stage::Ehlo => Some(params::SMTPD_HELO_RESTRICTIONS.name()),
        Stage::Mail => Some(params::SMTPD_SENDER_RESTRICTIONS.name()),
        _ => None,
    }
}
