//! The table error type (temporary vs configuration failure) and the helper
//! that renders I/O errors the way Postfix's `%m` does.

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// Lookup could not be answered now (→ 4xx, never a silent pass).
    #[error("{table}: temporary lookup failure: {why}")]
    Temporary { table: String, why: String },
    /// The table spec or its file is wrong (→ 451 4.3.5 Server configuration error).
    #[error("{table}: {why}")]
    Config { table: String, why: String },
}

impl TableError {
    pub(crate) fn config(table: &str, why: impl Into<String>) -> TableError {
        TableError::Config {
            table: table.to_string(),
            why: why.into(),
        }
    }

    pub(crate) fn temporary(table: &str, why: impl Into<String>) -> TableError {
        TableError::Temporary {
            table: table.to_string(),
            why: why.into(),
        }
    }

    /// True for [`TableError::Temporary`].
    pub fn is_temporary(&self) -> bool {
        matches!(self, TableError::Temporary { .. })
    }
}

pub(crate) use gatepost_log::io_text;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn io_text_strips_os_error_suffix() {
        let err = io::Error::from_raw_os_error(2);
        assert_eq!(io_text(&err), "No such file or directory");
        let custom = io::Error::other("corrupt database");
        assert_eq!(io_text(&custom), "corrupt database");
    }

    #[test]
    fn display_formats() {
        let t = TableError::temporary("hash:/x", "boom");
        assert_eq!(t.to_string(), "hash:/x: temporary lookup failure: boom");
        assert!(t.is_temporary());
        let c = TableError::config("hash:/x", "open database /x.db: No such file or directory");
        assert_eq!(
            c.to_string(),
            "hash:/x: open database /x.db: No such file or directory"
        );
        assert!(!c.is_temporary());
    }
}
