//! Envelope processing (Postfix `cleanup_envelope.c`, `cleanup_addr.c`,
//! `cleanup_map1n.c`, `cleanup_out_recipient.c`): the sender is
//! canonicalised, mapped through the sender canonical maps and
//! masqueraded; each recipient is canonicalised, mapped through the
//! recipient canonical maps (and masqueraded when `masquerade_classes`
//! says so) and expanded through `virtual_alias_maps`, and a result seen
//! before for the same original recipient is dropped. Parameters honoured
//! (through the rewriter): `myorigin`, `append_at_myorigin`,
//! `append_dot_mydomain`, `swap_bangpath`, `allow_percent_hack`,
//! `canonical_maps`, `sender_canonical_maps`, `recipient_canonical_maps`,
//! their `*_classes`, `masquerade_domains`, `masquerade_exceptions`,
//! `masquerade_classes`, `virtual_alias_maps`.

use gatepost_rewrite::{AddressRole, RewriteError};

use crate::cleanup_state::AddressRewriter;

/// The canonical envelope sender; `<>` stays empty. A table lookup
/// failure stops cleanup (the caller defers or retries).
pub fn clean_sender(rewriter: &dyn AddressRewriter, sender: &str) -> Result<String, RewriteError> {
    if sender.is_empty() {
        Ok(String::new())
    } else {
        rewriter.rewrite_address(sender, AddressRole::EnvelopeSender)
    }
}

/// One recipient after cleanup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanRecipient {
    pub address: String,
    /// Index of the given recipient it came from (for its original
    /// address and DSN attributes).
    pub from: usize,
}

/// Canonicalise and expand `given` (`(address, original)` pairs, in
/// order); duplicates (same result for the same original) are dropped.
/// A table lookup failure stops cleanup (the caller defers or retries).
pub fn clean_recipients<'g>(
    rewriter: &dyn AddressRewriter,
    given: impl IntoIterator<Item = (&'g str, &'g str)>,
) -> Result<Vec<CleanRecipient>, RewriteError> {
    let mut out: Vec<CleanRecipient> = Vec::new();
    let mut keys: Vec<(String, &str)> = Vec::new();
    for (index, (address, original)) in given.into_iter().enumerate() {
        let canonical = rewriter.rewrite_address(address, AddressRole::EnvelopeRecipient)?;
        for expanded in rewriter.expand_virtual_aliases(&canonical)? {
            if keys.iter().any(|(a, o)| *a == expanded && *o == original) {
                continue;
            }
            keys.push((expanded.clone(), original));
            out.push(CleanRecipient {
                address: expanded,
                from: index,
            });
        }
    }
    Ok(out)
}
