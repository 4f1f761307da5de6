//! `gatepost check`: find configuration mistakes before a client does.
//! Collects [`Finding`]s from the configuration's load warnings
//! ([`config_warnings`]), the restriction engine's start-up warnings,
//! the parsed restriction lists (unknown names, bad or missing tables,
//! dead configuration), the queue directory's permissions, and the
//! open-relay proof ([`relay_proof`]), which evaluates the real engine
//! for an outside client.

mod dead;
mod names;
mod relay_proof;
mod tables;

use std::fmt;
use std::sync::Arc;

use gatepost_config::{params, Config};
use gatepost_rewrite::Rewriter;

use crate::restriction::RestrictionList;
use crate::Policy;

pub use relay_proof::RelayForm;

/// How bad a finding is; the exit status of `gatepost check` is that of
/// the worst one (0 info or nothing, 1 warning, 2 fatal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Fatal,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Fatal => "fatal",
        }
    }
}

/// One problem, where it was written (`main.cf:12`), and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// The file, and the line when known.
    pub file: String,
    pub line: Option<usize>,
    pub text: String,
    /// The finding is the open-relay proof (the start-up override applies).
    pub open_relay: bool,
}

impl Finding {
    fn new(severity: Severity, origin: Option<(String, usize)>, text: String) -> Finding {
        let (file, line) = match origin {
            Some((file, line)) => (file, Some(line)),
            None => ("main.cf".to_string(), None),
        };
        Finding {
            severity,
            file,
            line,
            text,
            open_relay: false,
        }
    }

    /// `FILE:LINE` or `FILE`.
    pub fn location(&self) -> String {
        match self.line {
            Some(line) => format!("{}:{line}", self.file),
            None => self.file.clone(),
        }
    }
}

impl fmt::Display for Finding {
    /// `SEVERITY: FILE:LINE: text`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.severity.word(),
            self.location(),
            self.text
        )
    }
}

/// Run every check on `cfg`. `forms` are the recipient forms of the
/// open-relay battery for a foreign domain (see [`relay_proof`]).
pub async fn check_config(
    cfg: &Config,
    rewriter: Arc<Rewriter>,
    forms: &[RelayForm],
) -> Vec<Finding> {
    let mut out: Vec<Finding> = queue_permissions(cfg).into_iter().collect();
    let resolver = gatepost_dns::Resolver::shared(cfg);
    let policy = match Policy::from_config(cfg, rewriter, resolver) {
        Ok(p) => p,
        Err(e) => {
            out.push(Finding::new(Severity::Fatal, None, e.to_string()));
            return out;
        }
    };
    for w in policy.warnings() {
        // Restrictions after `permit` are reported with their line below.
        if !(w.starts_with("restriction `") && w.ends_with("' is ignored")) {
            out.push(Finding::new(Severity::Warning, None, w.clone()));
        }
    }
    out.extend(names::unknown_restrictions(&policy));
    out.extend(tables::table_problems(cfg, &policy));
    out.extend(dead::dead_configuration(cfg, &policy));
    out.extend(relay_proof::prove(cfg, policy, forms).await);
    out
}

/// The warnings collected while loading the configuration, as findings
/// (kept apart: the server logs these itself at start-up).
pub fn config_warnings(cfg: &Config) -> Vec<Finding> {
    cfg.warnings()
        .iter()
        .map(|w| Finding::new(Severity::Warning, None, w.clone()))
        .collect()
}

/// A world-writable queue directory lets any local user plant mail.
fn queue_permissions(cfg: &Config) -> Option<Finding> {
    use std::os::unix::fs::PermissionsExt;
    let dir = cfg.get(&params::QUEUE_DIRECTORY);
    let mode = std::fs::metadata(&dir).ok()?.permissions().mode();
    (mode & 0o002 != 0).then(|| {
        Finding::new(
            Severity::Warning,
            cfg.origin(params::QUEUE_DIRECTORY.name()),
            format!(
                "queue_directory {dir} is world-writable (mode {:o}): any local user can plant or remove mail",
                mode & 0o7777
            ),
        )
    })
}

impl Policy {
    /// Every parsed list with the name it is known by: the stage
    /// parameters, then the restriction classes (sorted by name).
    pub(crate) fn named_lists(&self) -> Vec<&RestrictionList> {
        let mut classes: Vec<&RestrictionList> = self.classes.values().collect();
        classes.sort_by(|a, b| a.name.cmp(&b.name));
        [
            &self.client,
            &self.helo,
            &self.sender,
            &self.relay,
            &self.recipient,
            &self.data,
            &self.eod,
            &self.etrn,
        ]
        .into_iter()
        .chain(classes)
        .collect()
    }

    /// Where the list `name` was set, when it came from a file.
    pub(crate) fn origin_of(&self, name: &str) -> Option<(String, usize)> {
        self.origins.get(name).cloned()
    }
}

/// `name (main.cf:5)`, or `name (default)` for a list nobody set.
pub(crate) fn list_label(policy: &Policy, name: &str) -> String {
    match policy.origin_of(name) {
        Some((file, line)) => format!("{name} ({file}:{line})"),
        None => format!("{name} (default)"),
    }
}
