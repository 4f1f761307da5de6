//! Domain match lists (`mydestination`, `relay_domains`,
//! `virtual_*_domains`, ...), Postfix's `match_hostname()`:
//!
//! - `example.com` matches itself (case-insensitive); with
//!   `match_subdomains` (the feature is in `parent_domain_matches_subdomains`)
//!   it also matches `sub.example.com`.
//! - `.example.com` matches subdomains only, when `match_subdomains` is off.
//! - `type:table` matches when the name is found; exact tables are also asked
//!   the parent domains (`example.com`, `com` with `match_subdomains`,
//!   `.example.com`, `.com` without); pattern tables see the full name only.
//! - `!pattern` negates; `/file` includes patterns; the first match wins.

use std::sync::Arc;

use crate::error::TableError;
use crate::keys::parent_keys;
use crate::match_items::{expand_items, is_table_spec};
use crate::{Table, TableKind};

#[derive(Debug, Clone)]
pub(crate) enum HostPattern {
    Literal(String),
    Table(Arc<dyn Table>),
}

/// Literal `match_hostname()` comparison.
pub(crate) fn literal_matches(name: &str, pattern: &str, match_subdomains: bool) -> bool {
    if name.eq_ignore_ascii_case(pattern) {
        return true;
    }
    if pattern.is_empty() || name.len() <= pattern.len() {
        return false;
    }
    let split = name.len() - pattern.len();
    let (head, tail) = (&name.as_bytes()[..split], &name.as_bytes()[split..]);
    if !tail.eq_ignore_ascii_case(pattern.as_bytes()) {
        return false;
    }
    if match_subdomains {
        head.last() == Some(&b'.')
    } else {
        pattern.starts_with('.')
    }
}

/// Table `match_hostname()`: the name, then (exact tables only) its parents.
pub(crate) fn table_matches(
    table: &dyn Table,
    name: &str,
    match_subdomains: bool,
) -> Result<bool, TableError> {
    if name.is_empty() {
        return Ok(false);
    }
    let name = name.to_lowercase();
    if table.lookup(&name)?.is_some() {
        return Ok(true);
    }
    if table.kind() != TableKind::Exact {
        return Ok(false);
    }
    for key in parent_keys(&name, match_subdomains) {
        if table.lookup(&key)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

impl HostPattern {
    pub(crate) fn parse(pattern: &str) -> Result<HostPattern, TableError> {
        if is_table_spec(pattern) {
            Ok(HostPattern::Table(crate::open_table(pattern)?))
        } else {
            Ok(HostPattern::Literal(pattern.to_string()))
        }
    }

    pub(crate) fn matches(&self, name: &str, match_subdomains: bool) -> Result<bool, TableError> {
        match self {
            HostPattern::Literal(p) => Ok(literal_matches(name, p, match_subdomains)),
            HostPattern::Table(t) => table_matches(t.as_ref(), name, match_subdomains),
        }
    }
}

/// A Postfix match list of domain patterns.
#[derive(Debug, Clone, Default)]
pub struct DomainList {
    entries: Vec<(bool, HostPattern)>,
    match_subdomains: bool,
    warnings: Vec<String>,
}

impl DomainList {
    /// `match_subdomains`: whether `example.com` also matches `sub.example.com`
    /// (the feature is listed in `parent_domain_matches_subdomains`).
    pub fn parse(items: &[String], match_subdomains: bool) -> Result<DomainList, TableError> {
        let mut warnings = Vec::new();
        let mut entries = Vec::new();
        for item in expand_items(items, &mut warnings)? {
            entries.push((item.positive, HostPattern::parse(&item.pattern)?));
        }
        Ok(DomainList {
            entries,
            match_subdomains,
            warnings,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// First matching pattern decides; a negated pattern means "no".
    /// A table lookup failure is returned as the error.
    pub fn matches(&self, domain: &str) -> Result<bool, TableError> {
        for (positive, pattern) in &self.entries {
            if pattern.matches(domain, self.match_subdomains)? {
                return Ok(*positive);
            }
        }
        Ok(false)
    }

    /// Warnings from parsing (e.g. `#` comments inside pattern files).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn list(items: &[&str], sub: bool) -> DomainList {
        let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        DomainList::parse(&items, sub).unwrap()
    }

    #[test]
    fn literal_patterns() {
        // (pattern, match_subdomains, name, expected)
        let cases = [
            ("example.com", false, "example.com", true),
            ("example.com", false, "EXAMPLE.Com", true),
            ("example.com", false, "sub.example.com", false),
            ("example.com", true, "sub.example.com", true),
            ("example.com", true, "a.b.example.com", true),
            ("example.com", true, "badexample.com", false),
            (".example.com", false, "sub.example.com", true),
            (".example.com", false, "example.com", false),
            (".example.com", false, "badexample.com", false),
            // Postfix quirk: with parent matching, .example.com needs "x..example.com".
            (".example.com", true, "sub.example.com", false),
            (".example.com", true, ".example.com", true),
            ("localhost", false, "localhost", true),
        ];
        for (pattern, sub, name, want) in cases {
            assert_eq!(
                list(&[pattern], sub).matches(name).unwrap(),
                want,
                "{pattern} {sub} {name}"
            );
        }
    }

    #[test]
    fn negation_first_match_wins() {
        let l = list(&["!bad.example.com", "example.com"], true);
        let cases = [
            ("example.com", true),
            ("bad.example.com", false),
            ("x.bad.example.com", false),
            ("good.example.com", true),
            ("other.org", false),
        ];
        for (name, want) in cases {
            assert_eq!(l.matches(name).unwrap(), want, "{name}");
        }
        assert!(!l.is_empty());
        assert!(list(&[], false).is_empty());
    }

    #[test]
    fn tables_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("domains");
        fs::write(&file, "file.example\n!no.listed.example, listed.example\n").unwrap();
        let regexp = dir.path().join("re");
        fs::write(&regexp, "/^re\\./ ok\n").unwrap();
        let f = file.to_str().unwrap();
        let inline = "inline:{ tab.example=x, .dot.example=y }";
        let re = format!("regexp:{}", regexp.to_str().unwrap());
        // (match_subdomains, name, expected)
        let cases = [
            (false, "file.example", true),
            (false, "sub.file.example", false),
            (true, "sub.file.example", true),
            (true, "no.listed.example", false),
            (true, "yes.listed.example", true),
            (false, "tab.example", true),
            (false, "sub.tab.example", false),
            (true, "sub.tab.example", true),
            (false, "sub.dot.example", true),
            (true, "sub.dot.example", false),
            (false, "re.example", true),
            (true, "x.re.example", false),
        ];
        for (sub, name, want) in cases {
            let l = list(&[f, inline, &re], sub);
            assert_eq!(l.matches(name).unwrap(), want, "{sub} {name}");
        }
    }

    #[test]
    fn table_failure_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("map");
        let n = name.to_str().unwrap();
        fs::write(&name, "a.example OK\n").unwrap();
        crate::postmap_build(&format!("hash:{n}")).unwrap();
        let l = list(&[&format!("hash:{n}")], true);
        assert!(l.matches("a.example").unwrap());
        fs::remove_file(format!("{n}.gpdb")).unwrap();
        fs::remove_file(&name).unwrap();
        assert!(l.matches("a.example").unwrap_err().is_temporary());
        let items = vec![format!("hash:{n}")];
        assert!(DomainList::parse(&items, true).is_err());
    }
}
