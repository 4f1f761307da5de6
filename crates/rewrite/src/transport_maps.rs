//! `transport_maps` (Postfix transport(5)): per-recipient override of the
//! resolver's transport and next hop. Lookup order for `user+ext@domain`:
//! the full address, `user@domain`, `domain`, then each parent as
//! `.parent`, then `*` (pattern tables see the full address only).
//! Results are `transport:nexthop`; an empty transport keeps the
//! resolver's, an empty next hop keeps the transport's default. Applied by
//! [`Rewriter::resolve`](crate::Rewriter::resolve) when the rewriter was
//! built [`with_transport_maps`](crate::Rewriter::with_transport_maps), as
//! trivial-rewrite(8) does for the queue manager.

use gatepost_table::{split_address, split_extension, LookupFailure, MapList};

use crate::error::RewriteError;
use crate::resolve::Resolved;

/// A `transport_maps` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TransportOverride {
    /// `None`: keep the resolver's transport.
    pub transport: Option<String>,
    /// `None`: use the transport's default next hop.
    pub nexthop: Option<String>,
}

/// Keys to try for a recipient (already case-folded).
pub(crate) fn lookup_keys(folded: &str, delimiter: &str) -> Vec<String> {
    let mut keys = vec![folded.to_string()];
    let (local, domain) = split_address(folded);
    if let (user, Some(_)) = split_extension(local, delimiter) {
        keys.push(match domain {
            Some(d) => format!("{user}@{d}"),
            None => user.to_string(),
        });
    }
    if let Some(domain) = domain {
        keys.push(domain.to_string());
        let mut rest = domain;
        while let Some(dot) = rest.find('.') {
            rest = &rest[dot + 1..];
            if rest.is_empty() {
                break;
            }
            keys.push(format!(".{rest}"));
        }
    }
    keys.push("*".to_string());
    keys
}

/// Parse `transport:nexthop`.
pub(crate) fn parse_result(value: &str) -> TransportOverride {
    let value = value.trim();
    let (transport, nexthop) = match value.split_once(':') {
        Some((t, n)) => (t.trim(), n.trim()),
        None => (value, ""),
    };
    let some = |s: &str| {
        if s.is_empty() {
            None
        } else {
            Some(s.to_string())
        }
    };
    TransportOverride {
        transport: some(transport),
        nexthop: some(nexthop),
    }
}

/// Override `resolved`'s transport and next hop with the `transport_maps`
/// entry of its recipient: a new transport drops the class next hop, a
/// given next hop replaces it. A lookup failure is
/// [`RewriteError::TransportMaps`].
pub(crate) fn apply(
    maps: &MapList,
    delimiter: &str,
    mut resolved: Resolved,
) -> Result<Resolved, RewriteError> {
    match lookup(maps, &resolved.recipient, delimiter) {
        Err(err) => Err(RewriteError::TransportMaps {
            recipient: resolved.recipient,
            why: err.to_string(),
        }),
        Ok(Some(over)) => {
            if let Some(t) = over.transport {
                if t != resolved.transport {
                    resolved.nexthop.clear();
                }
                resolved.transport = t;
            }
            if let Some(n) = over.nexthop {
                resolved.nexthop = n;
            }
            Ok(resolved)
        }
        Ok(None) => Ok(resolved),
    }
}

/// Look the recipient up in `transport_maps`.
pub(crate) fn lookup(
    maps: &MapList,
    recipient: &str,
    delimiter: &str,
) -> Result<Option<TransportOverride>, LookupFailure> {
    if maps.is_empty() {
        return Ok(None);
    }
    let folded = recipient.to_lowercase();
    Ok(maps
        .find_keys(&lookup_keys(&folded, delimiter))?
        .map(|v| parse_result(&v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inline(spec: &str) -> MapList {
        MapList::from_tables(vec![gatepost_table::open_table(spec).unwrap()])
    }

    #[test]
    fn keys() {
        assert_eq!(
            lookup_keys("bob+x@mail.example.com", "+"),
            vec![
                "bob+x@mail.example.com",
                "bob@mail.example.com",
                "mail.example.com",
                ".example.com",
                ".com",
                "*"
            ]
        );
        assert_eq!(
            lookup_keys("bob@example.com", ""),
            vec!["bob@example.com", "example.com", ".com", "*"]
        );
    }

    #[test]
    fn results() {
        for (value, transport, nexthop) in [
            ("discard:", Some("discard"), None),
            ("error:5.7.1 go away", Some("error"), Some("5.7.1 go away")),
            (
                "smtp:[mx.example]:2525",
                Some("smtp"),
                Some("[mx.example]:2525"),
            ),
            (":[relay.example]", None, Some("[relay.example]")),
            ("local", Some("local"), None),
        ] {
            let got = parse_result(value);
            assert_eq!(
                (got.transport.as_deref(), got.nexthop.as_deref()),
                (transport, nexthop),
                "{value}"
            );
        }
    }

    #[test]
    fn table_lookup_order() {
        let maps = inline("inline:{ .example.com=discard:, bob@sub.example.com=error:nope }");
        let t = |r| lookup(&maps, r, "+").unwrap().and_then(|o| o.transport);
        assert_eq!(t("Bob+x@Sub.Example.com"), Some("error".into()));
        assert_eq!(t("carol@sub.example.com"), Some("discard".into()));
        assert_eq!(t("carol@example.com"), None);
    }
}
