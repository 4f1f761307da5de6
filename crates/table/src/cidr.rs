//! `cidr:/path` (cidr_table(5)): `pattern whitespace result` rules tried in
//! file order against the full client address; `if pattern` ... `endif`
//! blocks (nestable) and `!pattern` negation. Bad rules are skipped with
//! Postfix's warning, readable through [`Table::warnings`]. The file is read
//! when the table is opened.

use std::fs;
use std::net::IpAddr;

use crate::cidr_match::{parse_cidr, CidrPattern};
use crate::error::{io_text, TableError};
use crate::readlline::{is_space, logical_lines};
use crate::{Table, TableKind};

#[derive(Debug, Clone)]
enum Op {
    Match(CidrPattern, String),
    If(CidrPattern),
    EndIf,
}

#[derive(Debug, Clone)]
struct Rule {
    op: Op,
    nesting: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct CidrTable {
    name: String,
    rules: Vec<Rule>,
    warnings: Vec<String>,
}

impl CidrTable {
    pub(crate) fn open(spec: &str, path: &str) -> Result<CidrTable, TableError> {
        let content = fs::read(path)
            .map_err(|e| TableError::config(spec, format!("open {path}: {}", io_text(&e))))?;
        Ok(CidrTable::parse(
            spec,
            path,
            &String::from_utf8_lossy(&content),
        ))
    }

    pub(crate) fn parse(spec: &str, path: &str, content: &str) -> CidrTable {
        let mut warnings = Vec::new();
        let mut rules = Vec::new();
        let mut nesting = 0usize;
        let mut open_ifs: Vec<usize> = Vec::new();
        for line in logical_lines(content, path, &mut warnings) {
            let n = line.lineno;
            let text = line.text.as_str();
            let (key, value) = match text.find(is_space) {
                Some(pos) => (&text[..pos], text[pos..].trim_matches(is_space)),
                None => (text, ""),
            };
            let mut warn = |why: String| {
                warnings.push(format!("cidr map {path}, line {n}: {why}"));
            };
            if key.eq_ignore_ascii_case("if") {
                match parse_cidr(value) {
                    Ok(p) => {
                        rules.push(Rule {
                            op: Op::If(p),
                            nesting,
                        });
                        nesting += 1;
                        open_ifs.push(n);
                    }
                    Err(why) => warn(format!("{why}: skipping this rule")),
                }
            } else if key.eq_ignore_ascii_case("endif") {
                if !value.is_empty() {
                    warn(format!("ignoring extra text after ENDIF: \"{value}\""));
                }
                if nesting == 0 {
                    warn("ignoring ENDIF without matching IF".to_string());
                } else {
                    rules.push(Rule {
                        op: Op::EndIf,
                        nesting,
                    });
                    nesting -= 1;
                    open_ifs.pop();
                }
            } else if value.is_empty() {
                warn("no lookup result: skipping this rule".to_string());
            } else {
                match parse_cidr(key) {
                    Ok(p) => rules.push(Rule {
                        op: Op::Match(p, value.to_string()),
                        nesting,
                    }),
                    Err(why) => warn(format!("{why}: skipping this rule")),
                }
            }
        }
        for n in open_ifs {
            warnings.push(format!(
                "cidr map {path}, line {n}: IF has no matching ENDIF"
            ));
        }
        CidrTable {
            name: spec.to_string(),
            rules,
            warnings,
        }
    }
}

impl Table for CidrTable {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> TableKind {
        TableKind::Cidr
    }

    fn lookup(&self, key: &str) -> Result<Option<String>, TableError> {
        let Ok(addr) = key.parse::<IpAddr>() else {
            return Ok(None);
        };
        let mut level = 0usize;
        for rule in &self.rules {
            if level < rule.nesting {
                continue;
            }
            match &rule.op {
                Op::Match(p, value) => {
                    if p.matches(addr) {
                        return Ok(Some(value.clone()));
                    }
                }
                Op::If(p) => {
                    if p.matches(addr) {
                        level += 1;
                    }
                }
                Op::EndIf => level = level.saturating_sub(1),
            }
        }
        Ok(None)
    }

    fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = "\
# cidr_table(5) example
192.168.1.1          OK
192.168.0.0/16       REJECT
[2001:db8::1]        OK
2001:db8::/32        REJECT ipv6 net
!10.0.0.0/8          DUNNO not ten
if 10.1.0.0/16
10.1.2.0/24          550 inner
endif
10.0.0.0/8           450 ten
1.2.3.4/8            bad
nothing
";

    #[test]
    fn cidr_lookups() {
        let t = CidrTable::parse("cidr:/m", "/m", MAP);
        let cases = [
            ("192.168.1.1", Some("OK")),
            ("192.168.7.7", Some("REJECT")),
            ("2001:db8::1", Some("OK")),
            ("2001:db8::2", Some("REJECT ipv6 net")),
            ("172.16.0.1", Some("DUNNO not ten")),
            ("10.1.2.3", Some("550 inner")),
            ("10.1.3.3", Some("450 ten")),
            ("10.9.9.9", Some("450 ten")),
            ("::1", None),
            ("not-an-address", None),
        ];
        for (key, want) in cases {
            assert_eq!(t.lookup(key).unwrap().as_deref(), want, "{key}");
        }
        assert_eq!(t.kind(), TableKind::Cidr);
        assert_eq!(
            t.warnings(),
            [
                "cidr map /m, line 11: non-null host address bits in \"1.2.3.4/8\", perhaps you should use \"1.0.0.0/8\" instead: skipping this rule",
                "cidr map /m, line 12: no lookup result: skipping this rule",
            ]
        );
    }

    #[test]
    fn nested_if_without_endif_warns() {
        let t = CidrTable::parse(
            "cidr:/m",
            "/m",
            "if 10.0.0.0/8\n10.0.0.1 OK\nendif\nendif\nif 1.0.0.0/8\n",
        );
        assert_eq!(t.lookup("10.0.0.1").unwrap().as_deref(), Some("OK"));
        assert_eq!(
            t.warnings(),
            [
                "cidr map /m, line 4: ignoring ENDIF without matching IF",
                "cidr map /m, line 5: IF has no matching ENDIF",
            ]
        );
    }
}
