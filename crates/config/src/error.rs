//! Configuration errors. Every error names the file and line (or the
//! configuration source) it comes from, in Postfix's `FILE, line N:` style.

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
    /// A file that exists but cannot be read.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
