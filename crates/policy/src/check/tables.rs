//! Tables named in restriction lists and recipient maps: `maptype:mapname`
//! typos and unknown map types, files that are missing or unreadable,
//! compiled tables older than their source (`postmap` forgotten), and the
//! rules a regexp/pcre/cidr table skipped when it was opened.

use std::collections::HashSet;

use gatepost_config::Config;

use super::{names, Finding, Severity};
use crate::restriction::{MapArg, Restriction, TableRef};
use crate::Policy;

/// The map types `open_table` knows.
const MAP_TYPES: &[&str] = &[
    "inline", "static", "texthash", "hash", "btree", "lmdb", "cdb", "dbm", "cidr", "regexp",
    "pcre", "unix", "proxy",
];

/// The map types whose compiled form is `NAME.db`.
const DB_TYPES: &[&str] = &["hash", "btree", "lmdb", "cdb", "dbm"];

pub(crate) fn table_problems(cfg: &Config, policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for list in policy.named_lists() {
        let origin = policy.origin_of(&list.name);
        for item in &list.items {
            let table = match &item.restriction {
                Restriction::Access(_, arg) | Restriction::ServerAccess(_, _, _, arg) => arg,
                Restriction::BareTable(t) => {
                    if seen.insert(t.spec.clone()) {
                        out.extend(table_ref(t, &list.name, origin.clone()));
                    }
                    continue;
                }
                _ => continue,
            };
            match table {
                MapArg::Bad(arg) => out.push(Finding::new(
                    Severity::Warning,
                    origin.clone(),
                    format!(
                        "\"{}\" in {} needs a maptype:mapname argument, not \"{arg}\": clients that reach it get 451 4.3.5",
                        item.text, list.name
                    ),
                )),
                MapArg::Table(t) => {
                    if seen.insert(t.spec.clone()) {
                        out.extend(table_ref(t, &list.name, origin.clone()));
                    }
                }
            }
        }
    }
    for maps in [
        &policy.local_rcpt_maps,
        &policy.virt_mailbox_maps,
        &policy.relay_rcpt_maps,
        &policy.sender_login_maps,
        &policy.rbl_reply_maps,
    ] {
        let origin = cfg.origin(&maps.param);
        for t in &maps.tables {
            if seen.insert(t.spec.clone()) {
                out.extend(table_ref(t, &maps.param, origin.clone()));
            }
        }
    }
    out
}

fn table_ref(t: &TableRef, list: &str, origin: Option<(String, usize)>) -> Vec<Finding> {
    let spec = t.spec.as_str();
    let inner = spec.strip_prefix("proxy:").unwrap_or(spec);
    let (kind, name) = inner.split_once(':').unwrap_or((inner, ""));
    let mut out = Vec::new();
    match &t.table {
        Err(e) => {
            let hint = if MAP_TYPES.contains(&kind) {
                String::new()
            } else {
                names::suggest(kind, MAP_TYPES.iter().copied())
                    .map(|s| format!("; did you mean \"{s}:{name}\"?"))
                    .unwrap_or_default()
            };
            out.push(Finding::new(
                Severity::Warning,
                origin,
                format!("table {spec} in {list} cannot be used: {e}{hint}"),
            ));
        }
        Ok(table) => {
            for w in table.warnings() {
                out.push(Finding::new(
                    Severity::Warning,
                    origin.clone(),
                    format!("table {spec} in {list}: {w}"),
                ));
            }
            if DB_TYPES.contains(&kind) && gatepost_table::db_is_stale(name) {
                out.push(Finding::new(
                    Severity::Warning,
                    origin,
                    format!(
                        "table {spec} in {list}: database {name}.db is older than source file {name}; run postmap {spec}"
                    ),
                ));
            }
        }
    }
    out
}
