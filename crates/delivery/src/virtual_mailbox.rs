//! The `virtual` delivery agent (Postfix virtual(8)): mailboxes for
//! `virtual_mailbox_domains`. The recipient (case-folded) is looked up in
//! `virtual_mailbox_maps` as `user+ext@domain`, `user@domain`, then
//! `@domain`; the result is a path below `virtual_mailbox_base`, Maildir
//! when it ends in `/`, else an mbox file (size limit
//! `virtual_mailbox_limit`). When running as root, files are chowned per
//! `virtual_uid_maps` / `virtual_gid_maps`; with privilege separation the
//! lookup and the store run in the privileged helper, the store in a
//! process with that uid and gid (`store_process`). Results: `delivered to
//! maildir`, `delivered to mailbox`, `unknown user: "ADDR"` (5.1.1),
//! `mail forwarding loop for ADDR` (5.4.6); `relay=virtual`.

use std::sync::Arc;

use gatepost_qmgr::{DeliveryOutcome, QueuedMessage};

use crate::content::{self, CopyAttrs};
use crate::helper::HelperPool;
use crate::mailbox::{self, MailboxTarget, TargetKind};
use crate::privs::{self, Owner};
use crate::settings::Settings;
use crate::store_process::{self, StoreJob};
use crate::verdict::Verdict;
use crate::MessageContent;
use gatepost_table::{split_address, split_extension, MapList};

pub(crate) const AGENT: &str = "virtual";

#[derive(Debug, Clone)]
pub(crate) struct VirtualAgent {
    pub settings: Arc<Settings>,
    pub mailbox_maps: MapList,
    pub uid_maps: MapList,
    pub gid_maps: MapList,
    /// The privileged helper that looks up and stores (privilege separation).
    pub helper: Option<Arc<HelperPool>>,
}

/// The `virtual_mailbox_maps` lookup keys for a folded address.
pub(crate) fn lookup_keys(folded: &str, delimiter: &str) -> Vec<String> {
    let (local, domain) = split_address(folded);
    let mut keys = vec![folded.to_string()];
    let (user, ext) = split_extension(local, delimiter);
    if let (Some(_), Some(domain)) = (ext, domain) {
        keys.push(format!("{user}@{domain}"));
    }
    if let Some(domain) = domain {
        keys.push(format!("@{domain}"));
    }
    keys
}

impl VirtualAgent {
    pub async fn deliver(
        &self,
        msg: &QueuedMessage,
        content: &Arc<MessageContent>,
        index: usize,
        address: &str,
    ) -> DeliveryOutcome {
        let sender = msg.envelope.sender.clone();
        let original = msg
            .envelope
            .recipients
            .get(index)
            .map(|r| r.original.clone())
            .unwrap_or_default();
        let done = match &self.helper {
            Some(helper) => {
                helper
                    .virtual_mailbox(&sender, &original, address, content)
                    .await
            }
            None => {
                let me = self.clone();
                let content = Arc::clone(content);
                let address = address.to_string();
                tokio::task::spawn_blocking(move || {
                    me.deliver_blocking(&sender, &original, &address, &content)
                })
                .await
                .map_err(|e| e.to_string())
            }
        };
        done.unwrap_or_else(|err| {
            Verdict::deferred("4.3.0", format!("virtual delivery failed: {err}"))
        })
        .into_outcome(index, AGENT, AGENT)
    }

    pub fn deliver_blocking(
        &self,
        sender: &str,
        original: &str,
        address: &str,
        content: &MessageContent,
    ) -> Verdict {
        let s = &self.settings;
        if content::is_loop(&content.delivered_to, address) {
            return Verdict::bounced("5.4.6", format!("mail forwarding loop for {address}"));
        }
        let folded = address.to_lowercase();
        let keys = lookup_keys(&folded, &s.recipient_delimiter);
        let found = match self.mailbox_maps.find_keys(&keys) {
            Ok(found) => found,
            Err(err) => {
                gatepost_log::warning(
                    AGENT,
                    format!("{err}: virtual_mailbox_maps lookup problem for {folded}"),
                );
                return Verdict::deferred("4.3.0", "table lookup failure");
            }
        };
        let Some(relative) = found else {
            return Verdict::bounced("5.1.1", format!("unknown user: \"{folded}\""));
        };
        if s.virtual_mailbox_base.is_empty() {
            gatepost_log::warning(AGENT, "virtual_mailbox_base is not set");
            return Verdict::deferred("4.3.5", "mail system configuration error");
        }
        let owner = if privs::running_as_root() {
            match self.owner(&keys) {
                Ok(owner) => owner,
                Err(v) => return v,
            }
        } else {
            None
        };
        let path = format!(
            "{}/{}",
            s.virtual_mailbox_base.trim_end_matches('/'),
            relative.trim().trim_start_matches('/')
        );
        let target = MailboxTarget::from_path(
            &path,
            owner,
            TargetKind::Mailbox {
                user: folded.clone(),
            },
        );
        if !target.maildir {
            if let Some(parent) = target.path.parent() {
                if let Err(err) = std::fs::create_dir_all(parent) {
                    let why = format!("cannot update mailbox {path} for user {folded}. cannot create directory: {err}");
                    return mailbox::io_verdict(err.kind(), why);
                }
            }
        }
        let attrs = CopyAttrs {
            sender,
            orig_rcpt: original,
            delivered: address,
        };
        let job = StoreJob {
            agent: AGENT,
            target: &target,
            data: &content.data,
            attrs: &attrs,
            delivered_header: true,
            size_limit: s.virtual_mailbox_limit,
            locks: s.virtual_mailbox_lock,
        };
        store_process::store(&job, owner, s)
    }

    /// uid/gid for created files (only consulted when running as root).
    fn owner(&self, keys: &[String]) -> Result<Option<Owner>, Verdict> {
        if self.uid_maps.is_empty() || self.gid_maps.is_empty() {
            return Ok(None);
        }
        let failure = |err| {
            gatepost_log::warning(
                AGENT,
                format!("{err}: virtual_uid_maps/virtual_gid_maps lookup problem"),
            );
            Verdict::deferred("4.3.0", "table lookup failure")
        };
        let uid = self.uid_maps.find_keys(keys).map_err(failure)?;
        let gid = self.gid_maps.find_keys(keys).map_err(failure)?;
        match (
            uid.and_then(|u| u.trim().parse().ok()),
            gid.and_then(|g| g.trim().parse().ok()),
        ) {
            (Some(uid), Some(gid)) => Ok(Some(Owner { uid, gid })),
            _ => {
                gatepost_log::warning(
                    AGENT,
                    format!("no usable uid/gid for {}", keys.first().map_or("", |k| k)),
                );
                Err(Verdict::deferred(
                    "4.3.5",
                    "mail system configuration error",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            lookup_keys("bob@example.com", ""),
            vec!["bob@example.com", "@example.com"]
        );
        assert_eq!(
            lookup_keys("bob+x@example.com", "+"),
            vec!["bob+x@example.com", "bob@example.com", "@example.com"]
        );
    }
}
