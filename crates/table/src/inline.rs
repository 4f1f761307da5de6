//! `inline:{ key=value, { key = value with spaces } }` (Postfix 3.0+): an
//! exact-match table written in the configuration itself. Items are split on
//! commas and whitespace; braces protect an item, and spaces around `=` are
//! allowed only inside braces.

use crate::error::TableError;
use crate::memory::MemoryTable;
use crate::spec::{extpar, split_brace_list};

/// Parse the `{...}` part of an `inline:` spec.
pub(crate) fn open_inline(spec: &str, name: &str) -> Result<MemoryTable, TableError> {
    let body = if name.trim_start().starts_with('{') {
        extpar(name).map_err(|why| TableError::config(spec, why))?
    } else {
        return Err(TableError::config(
            spec,
            format!("need \"{{\" in \"inline:{name}\""),
        ));
    };
    let mut table = MemoryTable::new(spec);
    for item in split_brace_list(&body) {
        let (key, value) = split_nameval(spec, &item)?;
        table.insert(&key, &value);
    }
    if table.len() == 0 {
        return Err(TableError::config(spec, "empty table"));
    }
    Ok(table)
}

/// One `name=value` item, braces removed and whitespace trimmed.
pub(crate) fn split_nameval(spec: &str, item: &str) -> Result<(String, String), TableError> {
    let text = extpar(item).map_err(|why| TableError::config(spec, why))?;
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        Some(_) => Err(TableError::config(
            spec,
            format!("\"{item}\": missing attribute name"),
        )),
        None => Err(TableError::config(
            spec,
            format!("\"{item}\": missing '=' after attribute name"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Table;

    #[test]
    fn inline_lookups() {
        let spec = "inline:{ a@x=REJECT, { b@x = 550 5.7.1 text with spaces }, C=d }";
        let t = open_inline(spec, &spec["inline:".len()..]).unwrap();
        let cases = [
            ("a@x", Some("REJECT")),
            ("B@X", Some("550 5.7.1 text with spaces")),
            ("c", Some("d")),
            ("zz", None),
        ];
        for (key, want) in cases {
            assert_eq!(t.lookup(key).unwrap().as_deref(), want, "{key}");
        }
        assert_eq!(t.name(), spec);
    }

    #[test]
    fn inline_errors() {
        let cases = [
            (
                "inline:{a = b}",
                "inline:{a = b}: \"a\": missing '=' after attribute name",
            ),
            ("inline:{=b}", "inline:{=b}: \"=b\": missing attribute name"),
            ("inline:{a=b", "inline:{a=b: missing '}' in \"{a=b\""),
            ("inline:a=b", "inline:a=b: need \"{\" in \"inline:a=b\""),
            ("inline:{}", "inline:{}: empty table"),
        ];
        for (spec, want) in cases {
            let err = open_inline(spec, &spec["inline:".len()..]).unwrap_err();
            assert_eq!(err.to_string(), want, "{spec}");
        }
    }
}
