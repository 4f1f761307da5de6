//! Recursive `virtual_alias_maps` expansion with Postfix cleanup semantics
//! (`cleanup_map1n_internal`):
//!
//! - each address is looked up (quoted form, `mail_addr_find` key order);
//!   a result list replaces it, its first address in place, the others
//!   appended, and the new addresses are looked up in turn;
//! - an address not found stays as it is (so it "expands to itself");
//! - a result equal to its key (case-insensitive) is not expanded again;
//! - more than `virtual_alias_recursion_limit` nested lookups for one address,
//!   or more than `virtual_alias_expansion_limit` addresses, is an error that
//!   defers the message (`4.6.0 Alias expansion error`), as is a table's
//!   temporary failure;
//! - each result is canonicalised (bare `user` → `user@$myorigin`); a result
//!   `@domain` keeps the original local part;
//! - when the match needed the address extension stripped (`user+ext@d`
//!   found as `user@d`) and `propagate_unmatched_extensions` names
//!   `virtual`, the extension is added to every result address
//!   (`root@d` → `root+ext@d`), as Postfix's `mail_addr_crunch` does.

use std::collections::HashSet;

use crate::addr_find::{add_extension, split_result};
use crate::error::RewriteError;
use crate::quote::{quote_address, unquote_address};
use crate::rewriter::Rewriter;

/// Longest single result address accepted (`virtual_alias_address_length_limit`).
const ADDRESS_LENGTH_LIMIT: usize = 1000;

impl Rewriter {
    /// One `mail_addr_map` step: the (internal-form) result addresses for
    /// `addr`, or `None` when no table holds it.
    pub(crate) fn map_virtual_alias(
        &self,
        addr: &str,
    ) -> Result<Option<Vec<String>>, RewriteError> {
        let external = quote_address(addr);
        let Some(found) =
            self.virtual_alias_maps
                .find_addr(&external, &self.recipient_delimiter, |domain| {
                    self.is_local_or_origin(domain)
                })?
        else {
            return Ok(None);
        };
        let mut results = Vec::new();
        for item in split_result(&found.value) {
            let item = if item.starts_with('@') {
                // Catch-all result: keep the original local part.
                match external.rfind('@') {
                    Some(at) => format!("{}{}", &external[..at], item),
                    None => format!("{external}{item}"),
                }
            } else {
                item
            };
            let mut internal = self.canonicalize(&unquote_address(&item));
            if let Some(ext) = found
                .extension
                .as_deref()
                .filter(|_| self.propagate_virtual)
            {
                internal = add_extension(&internal, ext);
            }
            results.push(internal);
        }
        Ok(Some(results))
    }

    /// Recursive expansion (see the module header).
    pub(crate) fn expand_aliases(&self, addr: &str) -> Result<Vec<String>, RewriteError> {
        let mut argv = vec![addr.to_string()];
        if self.virtual_alias_maps.is_empty() {
            return Ok(argv);
        }
        let mut been_here: HashSet<String> = HashSet::new();
        let mut arg = 0;
        while arg < argv.len() {
            if argv.len() > self.expansion_limit {
                return Err(expansion_error(format!(
                    "unreasonable virtual_alias_maps map expansion size for {addr}"
                )));
            }
            let mut count = 0;
            loop {
                if been_here.contains(&argv[arg].to_lowercase()) {
                    break;
                }
                if count >= self.recursion_limit {
                    return Err(expansion_error(format!(
                        "unreasonable virtual_alias_maps map nesting for {addr}"
                    )));
                }
                let Some(results) = self.map_virtual_alias(&argv[arg])? else {
                    break;
                };
                let saved_lhs = argv[arg].clone();
                for (i, result) in results.into_iter().enumerate() {
                    if result.len() > ADDRESS_LENGTH_LIMIT {
                        return Err(expansion_error(format!(
                            "unreasonable virtual_alias_maps result {:.300}...",
                            result
                        )));
                    }
                    if saved_lhs.eq_ignore_ascii_case(&result) {
                        been_here.insert(saved_lhs.to_lowercase());
                    }
                    if i == 0 {
                        argv[arg] = result;
                    } else {
                        argv.push(result);
                    }
                }
                count += 1;
            }
            arg += 1;
        }
        Ok(argv)
    }

    /// Known through `recipient_canonical_maps`, `canonical_maps` or
    /// `virtual_alias_maps` (smtpd's "known through rewriting" test).
    pub(crate) fn known_by_rewriting(&self, addr: &str) -> Result<bool, RewriteError> {
        let external = quote_address(addr);
        for maps in [
            &self.recipient_canonical_maps,
            &self.canonical_maps,
            &self.virtual_alias_maps,
        ] {
            if maps.is_empty() {
                continue;
            }
            let found = maps.find_addr(&external, &self.recipient_delimiter, |domain| {
                self.is_local_or_origin(domain)
            })?;
            if found.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

fn expansion_error(why: String) -> RewriteError {
    RewriteError::Temporary(format!("4.6.0 Alias expansion error: {why}"))
}
