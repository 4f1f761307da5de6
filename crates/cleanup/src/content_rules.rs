//! What cleanup(8) inspects in the content, read once from `main.cf`:
//! `header_checks`, `mime_header_checks`, `nested_header_checks` and
//! `body_checks` (any table type; regexp and pcre in practice),
//! `body_checks_size_limit`, and the MIME processing switches and limits
//! (`disable_mime_input_processing`, `mime_nesting_limit`,
//! `mime_boundary_length_limit`, `strict_8bitmime`, `strict_7bit_headers`,
//! `strict_8bitmime_body`, `strict_mime_encoding_domain`) and
//! `header_address_token_limit`.
//!
//! The `FILTER` action of header_checks(5) is not implemented: a regexp or
//! pcre table that uses it is refused at load ([`ContentRulesError`]), so
//! that mail is never delivered around the content filter it names.

use std::sync::Arc;

use gatepost_config::{params, Config, Param};
use gatepost_table::{open_table, MapList, Table};

/// A setting cleanup cannot honour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentRulesError {
    #[error("{param}: {table}, line {line}: FILTER action: not implemented by gatepost: mail would pass unfiltered")]
    FilterAction {
        param: &'static str,
        table: String,
        line: usize,
    },
}

/// MIME processing settings (Postfix `mime_state`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimeSettings {
    /// `disable_mime_input_processing`.
    pub disabled: bool,
    /// `mime_nesting_limit`.
    pub nesting_limit: usize,
    /// `mime_boundary_length_limit`.
    pub boundary_length_limit: usize,
    /// `strict_7bit_headers` or `strict_8bitmime`.
    pub report_8bit_in_header: bool,
    /// `strict_8bitmime_body` or `strict_8bitmime`.
    pub report_8bit_in_7bit_body: bool,
    /// `strict_mime_encoding_domain`.
    pub report_encoding_domain: bool,
}

impl Default for MimeSettings {
    fn default() -> Self {
        MimeSettings {
            disabled: false,
            nesting_limit: 100,
            boundary_length_limit: 2048,
            report_8bit_in_header: false,
            report_8bit_in_7bit_body: false,
            report_encoding_domain: false,
        }
    }
}

/// Everything cleanup inspects the content with; cheap to share (`Arc`).
#[derive(Debug, Clone)]
pub struct ContentRules {
    pub header_checks: MapList,
    pub mime_header_checks: MapList,
    pub nested_header_checks: MapList,
    pub body_checks: MapList,
    /// `body_checks_size_limit`: bytes of each body part inspected.
    pub body_checks_size_limit: usize,
    pub mime: MimeSettings,
    /// `header_address_token_limit`.
    pub header_address_token_limit: usize,
}

impl Default for ContentRules {
    fn default() -> Self {
        ContentRules {
            header_checks: MapList::default(),
            mime_header_checks: MapList::default(),
            nested_header_checks: MapList::default(),
            body_checks: MapList::default(),
            body_checks_size_limit: 51_200,
            mime: MimeSettings::default(),
            header_address_token_limit: 10_240,
        }
    }
}

impl ContentRules {
    /// Read the settings and open the tables (a table that cannot be opened
    /// makes every lookup fail temporarily, so mail is deferred, not passed
    /// uninspected). A regexp/pcre table using `FILTER` is refused.
    pub fn from_config(cfg: &Config) -> Result<ContentRules, ContentRulesError> {
        let strict = cfg.get(&params::STRICT_8BITMIME);
        // `receive_override_options = no_header_body_checks` (a content
        // filter's re-injection service): no header or body checks.
        let skip = cfg
            .get(&params::RECEIVE_OVERRIDE_OPTIONS)
            .iter()
            .any(|o| o.eq_ignore_ascii_case("no_header_body_checks"));
        let checks = |param| {
            if skip {
                Ok(MapList::default())
            } else {
                checks(cfg, param)
            }
        };
        Ok(ContentRules {
            header_checks: checks(&params::HEADER_CHECKS)?,
            mime_header_checks: checks(&params::MIME_HEADER_CHECKS)?,
            nested_header_checks: checks(&params::NESTED_HEADER_CHECKS)?,
            body_checks: checks(&params::BODY_CHECKS)?,
            body_checks_size_limit: cfg.get(&params::BODY_CHECKS_SIZE_LIMIT),
            mime: MimeSettings {
                disabled: cfg.get(&params::DISABLE_MIME_INPUT_PROCESSING),
                nesting_limit: cfg.get(&params::MIME_NESTING_LIMIT),
                boundary_length_limit: cfg.get(&params::MIME_BOUNDARY_LENGTH_LIMIT),
                report_8bit_in_header: strict || cfg.get(&params::STRICT_7BIT_HEADERS),
                report_8bit_in_7bit_body: strict || cfg.get(&params::STRICT_8BITMIME_BODY),
                report_encoding_domain: cfg.get(&params::STRICT_MIME_ENCODING_DOMAIN),
            },
            header_address_token_limit: cfg.get(&params::HEADER_ADDRESS_TOKEN_LIMIT),
        })
    }

    /// [`from_config`](Self::from_config) for a service that cannot refuse
    /// to start (pickup): a refused setting is logged and every message is
    /// deferred (the header_checks lookup fails) until it is fixed.
    pub fn from_config_or_defer(cfg: &Config, program: &str) -> ContentRules {
        match ContentRules::from_config(cfg) {
            Ok(rules) => rules,
            Err(err) => {
                let why = err.to_string();
                let refused = || {
                    MapList::open(
                        program,
                        params::HEADER_CHECKS.name(),
                        std::slice::from_ref(&why),
                        |spec: &str| -> Result<Arc<dyn Table>, gatepost_table::TableError> {
                            Err(gatepost_table::TableError::Config {
                                table: "content checks".into(),
                                why: spec.to_string(),
                            })
                        },
                    )
                };
                ContentRules {
                    header_checks: refused(),
                    body_checks: refused(),
                    ..ContentRules::default()
                }
            }
        }
    }

    /// Whether any header check table is configured (Postfix then also
    /// reports excessive MIME nesting).
    pub(crate) fn has_header_checks(&self) -> bool {
        !(self.header_checks.is_empty()
            && self.mime_header_checks.is_empty()
            && self.nested_header_checks.is_empty())
    }
}

/// Open one parameter's tables, refusing a FILTER action.
fn checks(cfg: &Config, param: &Param<Vec<String>>) -> Result<MapList, ContentRulesError> {
    let specs = cfg.get(param);
    for spec in &specs {
        if let Some(line) = filter_action_line(spec) {
            return Err(ContentRulesError::FilterAction {
                param: param.name(),
                table: spec.clone(),
                line,
            });
        }
    }
    Ok(MapList::open(
        "cleanup",
        param.name(),
        &specs,
        |spec: &str| -> Result<Arc<dyn Table>, gatepost_table::TableError> { open_table(spec) },
    ))
}

/// The line of a `regexp:`/`pcre:` table whose action is `FILTER`.
fn filter_action_line(spec: &str) -> Option<usize> {
    let path = spec
        .strip_prefix("regexp:")
        .or_else(|| spec.strip_prefix("pcre:"))?;
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .enumerate()
        .find(|(_, line)| rule_action(line).is_some_and(|a| a.eq_ignore_ascii_case("FILTER")))
        .map(|(n, _)| n + 1)
}

/// The first word of a rule's result: after `[!]/pattern/flags`, possibly
/// twice (`/a/!/b/`).
fn rule_action(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        return None;
    }
    let mut patterns = 0;
    loop {
        rest = rest.strip_prefix('!').unwrap_or(rest);
        let delim = rest.chars().next()?;
        if delim.is_alphanumeric() || delim.is_whitespace() {
            break;
        }
        let body = &rest[delim.len_utf8()..];
        let mut end = None;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == delim {
                end = Some(i);
                break;
            }
        }
        rest = &body[end? + delim.len_utf8()..];
        rest = rest.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        patterns += 1;
        if patterns == 2 || !rest.starts_with('!') {
            break;
        }
    }
    if patterns == 0 {
        return None;
    }
    rest.split_whitespace().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_actions() {
        let cases = [
            (
                "/^Subject: x/ FILTER smtp:[127.0.0.1]:10025",
                Some("FILTER"),
            ),
            ("!/^Subject: x/i  filter smtp:a", Some("filter")),
            ("/a/!/b/ REJECT", Some("REJECT")),
            ("/a\\/b/ WARN x", Some("WARN")),
            ("if /^Subject:/", None),
            ("endif", None),
            ("# /x/ FILTER a:b", None),
            ("", None),
        ];
        for (line, want) in cases {
            assert_eq!(rule_action(line), want, "{line}");
        }
    }

    #[test]
    fn filter_refused_at_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = dir.path().join("header_checks");
        std::fs::write(
            &table,
            "/^Subject: a/ WARN\n/^Subject: b/ FILTER smtp:x:25\n",
        )
        .expect("write");
        let mut cfg = Config::defaults();
        cfg.set("header_checks", &format!("regexp:{}", table.display()));
        let err = ContentRules::from_config(&cfg).expect_err("refused");
        assert_eq!(
            err.to_string(),
            format!(
                "header_checks: regexp:{}, line 2: FILTER action: not implemented by gatepost: mail would pass unfiltered",
                table.display()
            )
        );
    }
}
