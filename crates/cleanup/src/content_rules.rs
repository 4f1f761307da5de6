//! What cleanup(8) inspects in the content, read once from `main.cf`:
//! `header_checks`, `mime_header_checks`, `nested_header_checks` and
//! `body_checks` (any table type; regexp and pcre in practice),
//! `body_checks_size_limit`, and the MIME processing switches and limits
//! (`disable_mime_input_processing`, `mime_nesting_limit`,
//! `mime_boundary_length_limit`, `strict_8bitmime`, `strict_7bit_headers`,
//! `strict_8bitmime_body`, `strict_mime_encoding_domain`) and
//! `header_address_token_limit`.

use std::sync::Arc;

use gatepost_config::{params, Config, Param};
use gatepost_table::{open_table, MapList, Table};

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
    /// uninspected).
    pub fn from_config(cfg: &Config) -> ContentRules {
        let strict = cfg.get(&params::STRICT_8BITMIME);
        // `receive_override_options = no_header_body_checks` (a content
        // filter's re-injection service): no header or body checks.
        let skip = cfg
            .get(&params::RECEIVE_OVERRIDE_OPTIONS)
            .iter()
            .any(|o| o.eq_ignore_ascii_case("no_header_body_checks"));
        let checks = |param| {
            if skip {
                MapList::default()
            } else {
                checks(cfg, param)
            }
        };
        ContentRules {
            header_checks: checks(&params::HEADER_CHECKS),
            mime_header_checks: checks(&params::MIME_HEADER_CHECKS),
            nested_header_checks: checks(&params::NESTED_HEADER_CHECKS),
            body_checks: checks(&params::BODY_CHECKS),
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

/// Open one parameter's tables.
fn checks(cfg: &Config, param: &Param<Vec<String>>) -> MapList {
    MapList::open(
        "cleanup",
        param.name(),
        &cfg.get(param),
        |spec: &str| -> Result<Arc<dyn Table>, gatepost_table::TableError> { open_table(spec) },
    )
}
