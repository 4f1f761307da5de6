//! An in-memory exact-match table with case-folded keys: the storage behind
//! `inline:`, `texthash:` and the loaded form of compiled (`hash:`) files.

use std::collections::HashMap;

use crate::{Table, TableError, TableKind};

/// Exact-match table held in memory. Keys are folded to lower case on insert
/// and on lookup (Postfix's `DICT_FLAG_FOLD_FIX`). The first of duplicate
/// keys wins, as with `postmap`.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemoryTable {
    name: String,
    map: HashMap<String, String>,
    warnings: Vec<String>,
}

impl MemoryTable {
    pub(crate) fn new(name: &str) -> MemoryTable {
        MemoryTable {
            name: name.to_string(),
            ..MemoryTable::default()
        }
    }

    /// Insert unless present; returns false for a duplicate key.
    pub(crate) fn insert(&mut self, key: &str, value: &str) -> bool {
        let key = key.to_lowercase();
        if self.map.contains_key(&key) {
            return false;
        }
        self.map.insert(key, value.to_string());
        true
    }

    pub(crate) fn warn(&mut self, text: String) {
        self.warnings.push(text);
    }

    pub(crate) fn get(&self, key: &str) -> Option<&String> {
        self.map.get(&key.to_lowercase())
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The entries (folded keys), e.g. to serve as a loaded compiled table.
    pub(crate) fn into_map(self) -> HashMap<String, String> {
        self.map
    }

    /// Entries sorted by key (for writing files deterministically).
    pub(crate) fn sorted_entries(&self) -> Vec<(&str, &str)> {
        let mut entries: Vec<(&str, &str)> = self
            .map
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        entries.sort_unstable();
        entries
    }
}

impl Table for MemoryTable {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> TableKind {
        TableKind::Exact
    }

    fn lookup(&self, key: &str) -> Result<Option<String>, TableError> {
        Ok(self.get(key).cloned())
    }

    fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_keys_and_keeps_first() {
        let mut t = MemoryTable::new("test:x");
        assert!(t.insert("Example.COM", "OK"));
        assert!(!t.insert("example.com", "REJECT"));
        assert_eq!(t.lookup("EXAMPLE.com").unwrap().as_deref(), Some("OK"));
        assert_eq!(t.lookup("other").unwrap(), None);
        assert_eq!(t.len(), 1);
        assert_eq!(t.kind(), TableKind::Exact);
    }
}
