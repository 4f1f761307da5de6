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

/// One delivery of a helper's batch.
#[derive(Debug)]
pub(crate) struct VirtualRequest {
    pub sender: String,
    pub original: String,
    pub address: String,
    pub content: MessageContent,
}

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
        match self.plan(address, content) {
            Ok((target, owner)) => {
                let attrs = CopyAttrs {
                    sender,
                    orig_rcpt: original,
                    delivered: address,
                };
                store_process::store(&self.job(&target, &attrs, content), owner, &self.settings)
            }
            Err(verdict) => verdict,
        }
    }

    /// Several deliveries at once (the privileged helper's batch): each
    /// recipient looked up, then the copies of each user stored together
    /// as one job of that user's store process, whose flush round covers
    /// them all. One verdict per request, in order.
    pub fn deliver_many_blocking(&self, requests: &[VirtualRequest]) -> Vec<Verdict> {
        let planned: Vec<Result<(MailboxTarget, Option<Owner>), Verdict>> = requests
            .iter()
            .map(|r| self.plan(&r.address, &r.content))
            .collect();
        let attrs: Vec<CopyAttrs<'_>> = requests
            .iter()
            .map(|r| CopyAttrs {
                sender: &r.sender,
                orig_rcpt: &r.original,
                delivered: &r.address,
            })
            .collect();
        let mut verdicts: Vec<Option<Verdict>> =
            planned.iter().map(|p| p.as_ref().err().cloned()).collect();
        // The copies to store, by the user they are stored as.
        let mut by_owner: Vec<(Option<Owner>, Vec<usize>)> = Vec::new();
        for (i, p) in planned.iter().enumerate() {
            if let Ok((_, owner)) = p {
                match by_owner.iter_mut().find(|(o, _)| o == owner) {
                    Some((_, list)) => list.push(i),
                    None => by_owner.push((*owner, vec![i])),
                }
            }
        }
        let store_group = |(owner, list): &(Option<Owner>, Vec<usize>)| {
            let jobs: Vec<StoreJob<'_>> = list
                .iter()
                .filter_map(|&i| {
                    let (target, _) = planned[i].as_ref().ok()?;
                    Some(self.job(target, &attrs[i], &requests[i].content))
                })
                .collect();
            store_process::store_many(&jobs, *owner, &self.settings)
        };
        let stored: Vec<Vec<Verdict>> = match by_owner.as_slice() {
            [one] => vec![store_group(one)],
            groups => std::thread::scope(|scope| {
                let running: Vec<_> = groups
                    .iter()
                    .map(|g| scope.spawn(move || store_group(g)))
                    .collect();
                running
                    .into_iter()
                    .map(|h| h.join().unwrap_or_default())
                    .collect()
            }),
        };
        for ((_, list), results) in by_owner.iter().zip(stored) {
            for (&i, v) in list.iter().zip(results) {
                verdicts[i] = Some(v);
            }
        }
        verdicts
            .into_iter()
            .map(|v| v.unwrap_or_else(|| Verdict::deferred("4.3.0", "virtual delivery failed")))
            .collect()
    }

    fn job<'a>(
        &self,
        target: &'a MailboxTarget,
        attrs: &'a CopyAttrs<'a>,
        content: &'a MessageContent,
    ) -> StoreJob<'a> {
        StoreJob {
            agent: AGENT,
            target,
            data: &content.data,
            attrs,
            delivered_header: true,
            size_limit: self.settings.virtual_mailbox_limit,
            locks: self.settings.virtual_mailbox_lock,
        }
    }

    /// The mailbox of `address` and the user it is stored as, or the
    /// verdict that ends the delivery here.
    fn plan(
        &self,
        address: &str,
        content: &MessageContent,
    ) -> Result<(MailboxTarget, Option<Owner>), Verdict> {
        let s = &self.settings;
        if content::is_loop(&content.delivered_to, address) {
            return Err(Verdict::bounced(
                "5.4.6",
                format!("mail forwarding loop for {address}"),
            ));
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
                return Err(Verdict::deferred("4.3.0", "table lookup failure"));
            }
        };
        let Some(relative) = found else {
            return Err(Verdict::bounced(
                "5.1.1",
                format!("unknown user: \"{folded}\""),
            ));
        };
        if s.virtual_mailbox_base.is_empty() {
            gatepost_log::warning(AGENT, "virtual_mailbox_base is not set");
            return Err(Verdict::deferred(
                "4.3.5",
                "mail system configuration error",
            ));
        }
        let owner = if privs::running_as_root() {
            self.owner(&keys)?
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
                    return Err(mailbox::io_verdict(err.kind(), why));
                }
            }
        }
        Ok((target, owner))
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
