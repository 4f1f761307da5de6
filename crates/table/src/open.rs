//! `open_table()`: turn a `[proxy:]type:name` spec into a table.
//!
//! | type | table |
//! |---|---|
//! | `inline` | [`crate::inline`] |
//! | `static` | [`crate::static_table`] |
//! | `texthash` | [`crate::texthash`] |
//! | `hash`, `btree`, `lmdb`, `cdb`, `dbm` | [`crate::hash`] (`NAME.gpdb`, else the source `NAME`) |
//! | `cidr` | [`crate::cidr`] |
//! | `regexp`, `pcre` | [`crate::regexp`] |
//! | `unix` | [`crate::unix`] (`passwd.byname`) |

use std::sync::Arc;

use crate::cidr::CidrTable;
use crate::error::TableError;
use crate::hash::DbTable;
use crate::inline::open_inline;
use crate::postmap::SourceFormat;
use crate::regexp::{Flavor, RegexpTable};
use crate::spec::parse_spec;
use crate::static_table::StaticTable;
use crate::texthash::open_texthash;
use crate::unix::PasswdTable;
use crate::Table;

/// Map types that read the one compiled format (`NAME.gpdb`).
pub(crate) const DB_TYPES: &[&str] = &["hash", "btree", "lmdb", "cdb", "dbm"];

pub(crate) fn open(spec: &str) -> Result<Arc<dyn Table>, TableError> {
    let parsed = parse_spec(spec)?;
    let name = parsed.name.as_str();
    let needs_name = |name: &str| {
        if name.is_empty() {
            Err(TableError::config(
                spec,
                format!("open dictionary: expecting \"type:name\" form instead of \"{spec}\""),
            ))
        } else {
            Ok(())
        }
    };
    let table: Arc<dyn Table> = match parsed.kind.as_str() {
        "inline" => Arc::new(open_inline(spec, name)?),
        "static" => Arc::new(StaticTable::open(spec, name)?),
        "texthash" => {
            needs_name(name)?;
            Arc::new(open_texthash(spec, name)?)
        }
        kind if DB_TYPES.contains(&kind) => {
            needs_name(name)?;
            Arc::new(DbTable::open(spec, kind, name, SourceFormat::Map)?)
        }
        "cidr" => {
            needs_name(name)?;
            Arc::new(CidrTable::open(spec, name)?)
        }
        "regexp" => {
            needs_name(name)?;
            Arc::new(RegexpTable::open(spec, name, Flavor::Regexp)?)
        }
        "pcre" => {
            needs_name(name)?;
            Arc::new(RegexpTable::open(spec, name, Flavor::Pcre)?)
        }
        "unix" => Arc::new(PasswdTable::open(spec, name)?),
        other => {
            return Err(TableError::config(
                spec,
                format!("unsupported dictionary type: {other}"),
            ))
        }
    };
    Ok(table)
}
