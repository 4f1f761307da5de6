//! `static:text` and `static:{text with spaces}`: every lookup returns the
//! same value.

use crate::error::TableError;
use crate::spec::extpar;
use crate::{Table, TableKind};

#[derive(Debug, Clone)]
pub(crate) struct StaticTable {
    name: String,
    value: String,
}

impl StaticTable {
    pub(crate) fn open(spec: &str, name: &str) -> Result<StaticTable, TableError> {
        let value = extpar(name).map_err(|why| TableError::config(spec, why))?;
        Ok(StaticTable {
            name: spec.to_string(),
            value,
        })
    }
}

impl Table for StaticTable {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> TableKind {
        TableKind::Exact
    }

    fn lookup(&self, _key: &str) -> Result<Option<String>, TableError> {
        Ok(Some(self.value.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_values() {
        let cases = [
            ("static:OK", "OK", "OK"),
            (
                "static:{550 5.7.1 static says no}",
                "{550 5.7.1 static says no}",
                "550 5.7.1 static says no",
            ),
            ("static:{ spaced }", "{ spaced }", "spaced"),
        ];
        for (spec, name, want) in cases {
            let t = StaticTable::open(spec, name).unwrap();
            assert_eq!(t.lookup("anything").unwrap().as_deref(), Some(want));
            assert_eq!(t.name(), spec);
        }
        assert!(StaticTable::open("static:{x", "{x").is_err());
    }
}
