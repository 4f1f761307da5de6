//! The `local` delivery agent (Postfix local(8)): expands the recipient
//! (see `expand`), stores mailbox, Maildir, file and command copies in a
//! blocking task, resubmits forwarded addresses through the queue, and
//! combines the per-target results into the recipient's outcome
//! (`relay=local`).
//!
//! Mailbox location: `home_mailbox` below the user's home directory when
//! set and the user has a password entry, else `mail_spool_directory/USER`
//! (created when missing). A trailing `/` means Maildir. When running as
//! root, files created for a user with a password entry are chowned to
//! that user, and alias commands run as `default_privs`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use gatepost_qmgr::{DeliveryOutcome, QueuedMessage};
use gatepost_queue::{EnvelopeRecipient, Queue};
use gatepost_rewrite::Rewriter;

use crate::command::{self, CommandRequest};
use crate::content::CopyAttrs;
use crate::expand::{self, ExpandContext, Leaf, RecipientAttrs};
use crate::forward;
use crate::mailbox::{self, MailboxTarget, TargetKind};
use crate::passwd::{self, PasswdEntry};
use crate::privs::{self, Owner};
use crate::settings::Settings;
use crate::verdict::{self, Verdict};
use crate::MessageContent;
use gatepost_table::MapList;

/// Program and relay names in the delivery log line.
pub(crate) const AGENT: &str = "local";

#[derive(Debug, Clone)]
pub(crate) struct LocalAgent {
    pub settings: Arc<Settings>,
    pub aliases: MapList,
    pub recipient_maps: MapList,
    pub rewriter: Arc<Rewriter>,
    pub queue: Arc<Queue>,
}

/// Forwarded addresses waiting to be resubmitted, by `Delivered-To:` value.
type ForwardGroups = Vec<(String, Vec<String>)>;

impl LocalAgent {
    /// Deliver recipient `index` of `msg` (resolved address `address`).
    pub async fn deliver(
        &self,
        msg: &QueuedMessage,
        content: &Arc<MessageContent>,
        index: usize,
        address: &str,
    ) -> DeliveryOutcome {
        let Some(rcpt) = msg.envelope.recipients.get(index).cloned() else {
            return Verdict::deferred("4.3.0", "no such recipient in queue file")
                .into_outcome(index, AGENT, AGENT);
        };
        let me = self.clone();
        let sender = msg.envelope.sender.clone();
        let content_for_task = Arc::clone(content);
        let address_owned = address.to_string();
        let rcpt_for_task = rcpt.clone();
        let stored = tokio::task::spawn_blocking(move || {
            me.expand_and_store(&sender, &rcpt_for_task, &address_owned, &content_for_task)
        })
        .await;
        let (mut results, forwards) = match stored {
            Ok(done) => done,
            Err(err) => {
                let v = Verdict::deferred("4.3.0", format!("local delivery failed: {err}"));
                return v.into_outcome(index, AGENT, AGENT);
            }
        };
        for (delivered, addresses) in forwards {
            let data = Arc::clone(&content.data);
            let v = forward::forward(
                &self.queue,
                &self.settings,
                msg,
                &rcpt,
                data,
                &delivered,
                &addresses,
            )
            .await;
            results.push((addresses.join(", "), v));
        }
        verdict::combine(results)
            .unwrap_or_else(|| Verdict::deferred("4.3.0", "alias database unavailable"))
            .into_outcome(index, AGENT, AGENT)
    }

    /// Expansion plus every blocking delivery; forwards are returned for
    /// the async resubmission.
    fn expand_and_store(
        &self,
        sender: &str,
        rcpt: &EnvelopeRecipient,
        address: &str,
        content: &MessageContent,
    ) -> (Vec<(String, Verdict)>, ForwardGroups) {
        let ctx = ExpandContext {
            settings: &self.settings,
            aliases: &self.aliases,
            recipient_maps: &self.recipient_maps,
            rewriter: &self.rewriter,
            loop_info: &content.delivered_to,
        };
        let leaves = expand::expand(&ctx, address);
        let root = privs::running_as_root();
        let mut results = Vec::new();
        let mut forwards: HashMap<String, Vec<String>> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        for (label, leaf) in leaves {
            let verdict = match leaf {
                Leaf::Final(v) => v,
                Leaf::Mailbox {
                    user,
                    passwd,
                    delivered,
                } => {
                    let attrs = CopyAttrs {
                        sender,
                        orig_rcpt: &rcpt.original,
                        delivered: &delivered,
                    };
                    self.mailbox(&user, passwd.as_ref(), root, &content.data, &attrs)
                }
                Leaf::File { path, delivered } => {
                    let attrs = CopyAttrs {
                        sender,
                        orig_rcpt: &rcpt.original,
                        delivered: &delivered,
                    };
                    let target = MailboxTarget::from_path(&path, None, TargetKind::File);
                    let s = &self.settings;
                    mailbox::store(
                        &target,
                        &content.data,
                        &attrs,
                        s.delivered_header.file,
                        s.mailbox_size_limit,
                        s,
                    )
                }
                Leaf::Command {
                    command,
                    attrs,
                    delivered,
                } => {
                    let copy = CopyAttrs {
                        sender,
                        orig_rcpt: &rcpt.original,
                        delivered: &delivered,
                    };
                    self.command(&command, &attrs, root, &content.data, &copy)
                }
                Leaf::Forward { address, delivered } => {
                    if !forwards.contains_key(&delivered) {
                        order.push(delivered.clone());
                    }
                    forwards.entry(delivered).or_default().push(address);
                    continue;
                }
            };
            results.push((label, verdict));
        }
        let groups = order
            .into_iter()
            .filter_map(|d| forwards.remove(&d).map(|a| (d, a)))
            .collect();
        (results, groups)
    }

    fn mailbox(
        &self,
        user: &str,
        pw: Option<&PasswdEntry>,
        root: bool,
        data: &[u8],
        attrs: &CopyAttrs<'_>,
    ) -> Verdict {
        let s = &self.settings;
        let owner = pw.filter(|_| root).map(|p| Owner {
            uid: p.uid,
            gid: p.gid,
        });
        let kind = TargetKind::Mailbox {
            user: user.to_string(),
        };
        let target = match pw {
            Some(p) if !s.home_mailbox.is_empty() => {
                let path = format!("{}/{}", p.home.trim_end_matches('/'), s.home_mailbox);
                MailboxTarget::from_path(&path, owner, kind)
            }
            _ => {
                let spool = &s.mail_spool_directory;
                if let Err(err) = std::fs::create_dir_all(spool.trim_end_matches('/')) {
                    let why = format!("cannot access mailbox directory {spool}: {err}");
                    return mailbox::io_verdict(err.kind(), why);
                }
                let mut path = PathBuf::from(spool.trim_end_matches('/'))
                    .join(user)
                    .display()
                    .to_string();
                if spool.ends_with('/') {
                    path.push('/');
                }
                MailboxTarget::from_path(&path, owner, kind)
            }
        };
        mailbox::store(
            &target,
            data,
            attrs,
            s.delivered_header.file,
            s.mailbox_size_limit,
            s,
        )
    }

    fn command(
        &self,
        cmd: &str,
        rattrs: &RecipientAttrs,
        root: bool,
        data: &[u8],
        copy: &CopyAttrs<'_>,
    ) -> Verdict {
        let s = &self.settings;
        let run_as = if root {
            match passwd::lookup(&s.passwd_file, &s.default_privs) {
                Ok(Some(p)) if p.uid != 0 => Some(Owner {
                    uid: p.uid,
                    gid: p.gid,
                }),
                _ => {
                    gatepost_log::warning(
                        AGENT,
                        format!(
                            "unknown or privileged default_privs user: {}",
                            s.default_privs
                        ),
                    );
                    return Verdict::deferred("4.3.5", "mail system configuration error");
                }
            }
        } else {
            None
        };
        let mut env: Vec<(&'static str, String)> = vec![
            ("LOGNAME", rattrs.user.clone()),
            ("USER", rattrs.user.clone()),
            ("SENDER", copy.sender.to_string()),
            ("RECIPIENT", rattrs.address.clone()),
            ("LOCAL", rattrs.local.clone()),
        ];
        if !rattrs.domain.is_empty() {
            env.push(("DOMAIN", rattrs.domain.clone()));
        }
        if let Some(ext) = &rattrs.extension {
            env.push(("EXTENSION", ext.clone()));
        }
        if !copy.orig_rcpt.is_empty() {
            env.push(("ORIGINAL_RECIPIENT", copy.orig_rcpt.to_string()));
        }
        let req = CommandRequest {
            command: cmd,
            shell: &s.local_command_shell,
            env,
            time_limit: s.command_time_limit,
            run_as,
            cwd: run_as.map(|_| "/".to_string()),
        };
        let input = crate::content::render(
            data,
            copy,
            crate::content::CopyFlags::command(s.delivered_header.command),
        );
        command::run(&req, input)
    }
}
