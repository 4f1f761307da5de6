//! Configuration errors. Every error names the file and line (or the
//! configuration source) it comes from, in Postfix's `FILE, line N:` style.

use crate::fail_closed::Unimplemented;

/// The items joined by `separator`.
fn join(items: &[Unimplemented], separator: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}

/// Errors with file and line context.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A `main.cf` / `master.cf` syntax error, e.g.
    /// `main.cf, line 3: missing '=' after attribute name: "foo bar"`.
    #[error("{file}, line {line}: {msg}")]
    Syntax {
        file: String,
        line: usize,
        msg: String,
    },
    /// A parameter value that does not parse as its kind (boolean, time...).
    #[error("{location}: bad value for parameter {name}: {value:?}: {why}")]
    BadValue {
        location: String,
        name: String,
        value: String,
        why: String,
    },
    /// Settings that ask for a feature gatepost lacks and whose being
    /// ignored would weaken security or filtering (the fail-closed check).
    #[error(
        "{}; refusing to run without {} (name {} in gatepost_accept_unimplemented to run anyway)",
        join(.0, "; "),
        if .0.len() == 1 { "it" } else { "them" },
        if .0.len() == 1 { "it" } else { "them" }
    )]
    Unimplemented(Vec<Unimplemented>),
    /// A file that exists but cannot be read.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
