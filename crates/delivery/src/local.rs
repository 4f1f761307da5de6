//! The `local` delivery agent (Postfix local(8)): expands the recipient
//! (see `expand`), stores mailbox, Maildir, file and command copies in a
//! blocking task, resubmits forwarded addresses through the queue, and
//! combines the per-target results into the recipient's outcome
//! (`relay=local`).
//!
//! Mailbox location: `home_mailbox` below the user's home directory when
//! set and the user has a password entry, else `mail_spool_directory/USER`
//! (created when missing). A trailing `/` means Maildir.
//!
//! When the server runs with privilege separation, expansion and stores
//! run in the privileged helper (`helper`), each store in a process with
//! the user's uid (mailbox.c's choice: the user's gid, or the spool
//! directory's group when the spool is group-writable but not
//! world-writable), `default_privs` for `/file/name` targets and for
//! mailboxes of names without a passwd entry; alias commands run as
//! `default_privs`. Forwarded addresses come back to the server, which
//! resubmits them through the queue. Without the helper (an ordinary
//! user's server) everything runs here; as root, files created for a user
//! are chowned to that user.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gatepost_qmgr::{DeliveryOutcome, QueuedMessage};
use gatepost_queue::Queue;
use gatepost_rewrite::Rewriter;

use crate::command::{self, CommandRequest};
use crate::content::CopyAttrs;
use crate::dispatch::Dispatcher;
use crate::expand::{self, ExpandContext, Leaf, RecipientAttrs, Rights};
use crate::forward;
use crate::helper::HelperPool;
use crate::mailbox::{self, MailboxTarget, TargetKind};
use crate::pass::Pass;
use crate::passwd::{self, PasswdEntry};
use crate::privs::{self, Owner};
use crate::settings::Settings;
use crate::store_process::{self, StoreJob};
use crate::verdict::{self, Verdict};
use crate::MessageContent;
use gatepost_table::MapList;

/// Who writes into the mail spool (Postfix's mailbox.c): the user, with
/// the spool's group when the spool is group-writable but not
/// world-writable.
fn spool_identity(spool: &Path, user: Owner) -> Owner {
    match std::fs::metadata(spool) {
        Ok(m) if m.mode() & 0o002 == 0 && m.mode() & 0o020 != 0 => Owner {
            uid: user.uid,
            gid: m.gid(),
        },
        _ => user,
    }
}

/// A command delivery: the command, whose rights, and whether `$name`
/// macros in it are expanded (`mailbox_command` only).
struct CommandJob<'a> {
    command: &'a str,
    rights: &'a Rights,
    expand: bool,
    /// The submitting client (`CLIENT_ADDRESS` ... in the environment).
    client: &'a gatepost_queue::ClientFacts,
}

/// Program and relay names in the delivery log line.
pub(crate) const AGENT: &str = "local";

#[derive(Debug, Clone)]
pub(crate) struct LocalAgent {
    pub expander: Arc<LocalExpander>,
    pub queue: Arc<Queue>,
    /// The privileged helper that expands and stores (privilege separation).
    pub helper: Option<Arc<HelperPool>>,
}

/// Expansion and stores: what runs in the privileged helper.
#[derive(Debug, Clone)]
pub(crate) struct LocalExpander {
    pub settings: Arc<Settings>,
    pub aliases: MapList,
    pub recipient_maps: MapList,
    pub mailbox_command_maps: MapList,
    pub mailbox_transport_maps: MapList,
    pub fallback_transport_maps: MapList,
    pub rewriter: Arc<Rewriter>,
}

/// Forwarded addresses waiting to be resubmitted, by `Delivered-To:` value.
pub(crate) type ForwardGroups = Vec<(String, Vec<String>)>;

/// What one recipient's expansion did and left to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Expanded {
    /// Per-target results of the deliveries made.
    pub results: Vec<(String, Verdict)>,
    /// Addresses to resubmit through the queue.
    pub forwards: ForwardGroups,
    /// Deliveries handed to another transport (`mailbox_transport`,
    /// `fallback_transport` and their maps), made by the server.
    pub passes: Vec<Pass>,
}

impl LocalAgent {
    /// Deliver recipient `index` of `msg` (resolved address `address`, next
    /// hop `nexthop`); deliveries handed to another transport go through
    /// `dispatcher`.
    pub async fn deliver(
        &self,
        dispatcher: &Dispatcher,
        msg: &QueuedMessage,
        content: &Arc<MessageContent>,
        (index, address, nexthop): (usize, &str, &str),
    ) -> DeliveryOutcome {
        let Some(rcpt) = msg.envelope.recipients.get(index).cloned() else {
            return Verdict::deferred("4.3.0", "no such recipient in queue file")
                .into_outcome(index, AGENT, AGENT);
        };
        let sender = msg.envelope.sender.clone();
        let stored = match &self.helper {
            Some(helper) => {
                helper
                    .local(&sender, &rcpt.original, address, content)
                    .await
            }
            None => {
                let me = Arc::clone(&self.expander);
                let content_for_task = Arc::clone(content);
                let address_owned = address.to_string();
                let original = rcpt.original.clone();
                tokio::task::spawn_blocking(move || {
                    me.expand_and_store(&sender, &original, &address_owned, &content_for_task)
                })
                .await
                .map_err(|e| e.to_string())
            }
        };
        let Expanded {
            mut results,
            forwards,
            passes,
        } = match stored {
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
                &self.expander.settings,
                msg,
                &rcpt,
                data,
                &delivered,
                &addresses,
            )
            .await;
            results.push((addresses.join(", "), v));
        }
        let mut passed = Vec::new();
        for pass in passes {
            let outcome = dispatcher.pass(msg, content, index, &pass, nexthop).await;
            passed.push((pass.address, outcome));
        }
        // A recipient whose only delivery was handed on is logged as that
        // transport logs it (`relay=` of the LMTP server ...).
        if results.is_empty() && passed.len() == 1 {
            if let Some((_, outcome)) = passed.pop() {
                return outcome;
            }
        }
        results.extend(passed.into_iter().map(|(label, o)| {
            let v = Verdict {
                status: o.status,
                dsn: o.dsn,
                text: o.text,
            };
            (label, v)
        }));
        verdict::combine(results)
            .unwrap_or_else(|| Verdict::deferred("4.3.0", "alias database unavailable"))
            .into_outcome(index, AGENT, AGENT)
    }
}

impl LocalExpander {
    /// Expansion plus every blocking delivery; forwards are returned for
    /// the async resubmission.
    pub fn expand_and_store(
        &self,
        sender: &str,
        original: &str,
        address: &str,
        content: &MessageContent,
    ) -> Expanded {
        let ctx = ExpandContext {
            settings: &self.settings,
            aliases: &self.aliases,
            recipient_maps: &self.recipient_maps,
            mailbox_transport_maps: &self.mailbox_transport_maps,
            fallback_transport_maps: &self.fallback_transport_maps,
            rewriter: &self.rewriter,
            loop_info: &content.delivered_to,
            default_privs: self.default_privs(privs::running_as_root()).ok().flatten(),
        };
        let leaves = expand::expand(&ctx, address);
        let root = privs::running_as_root();
        let mut results = Vec::new();
        let mut passes = Vec::new();
        let mut forwards: HashMap<String, Vec<String>> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        for (label, leaf) in leaves {
            let verdict = match leaf {
                Leaf::Final(v) => v,
                Leaf::Mailbox {
                    user,
                    passwd,
                    attrs: rattrs,
                    delivered,
                } => {
                    let attrs = CopyAttrs {
                        sender,
                        orig_rcpt: original,
                        delivered: &delivered,
                    };
                    match passwd.as_ref().map(|_| self.mailbox_command(&user)) {
                        Some(Err(v)) => v,
                        Some(Ok(Some(command))) => {
                            let rights = passwd.clone().map_or(Rights::DefaultPrivs, Rights::User);
                            let req = CommandJob {
                                command: &command,
                                rights: &rights,
                                expand: true,
                                client: &content.client,
                            };
                            self.command(&req, &rattrs, root, &content.data, &attrs)
                        }
                        _ => self.mailbox(&user, passwd.as_ref(), root, &content.data, &attrs),
                    }
                }
                Leaf::File {
                    path,
                    rights,
                    delivered,
                } => {
                    let attrs = CopyAttrs {
                        sender,
                        orig_rcpt: original,
                        delivered: &delivered,
                    };
                    let target = MailboxTarget::from_path(&path, None, TargetKind::File);
                    let s = &self.settings;
                    match self.rights(&rights, root) {
                        Ok(run_as) => {
                            let job = StoreJob {
                                agent: AGENT,
                                target: &target,
                                data: &content.data,
                                attrs: &attrs,
                                delivered_header: s.delivered_header.file,
                                size_limit: s.mailbox_size_limit,
                                locks: s.mailbox_delivery_lock,
                            };
                            store_process::store(&job, run_as, s)
                        }
                        Err(v) => v,
                    }
                }
                Leaf::Command {
                    command,
                    attrs,
                    rights,
                    delivered,
                } => {
                    let copy = CopyAttrs {
                        sender,
                        orig_rcpt: original,
                        delivered: &delivered,
                    };
                    let req = CommandJob {
                        command: &command,
                        rights: &rights,
                        expand: false,
                        client: &content.client,
                    };
                    self.command(&req, &attrs, root, &content.data, &copy)
                }
                Leaf::Pass { service, address } => {
                    passes.push(Pass { service, address });
                    continue;
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
        Expanded {
            results,
            forwards: groups,
            passes,
        }
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
        // Who the store runs as in the helper: the user, or default_privs
        // for a name without a passwd entry.
        let user_id = match owner {
            Some(o) => Some(o),
            None => match self.default_privs(root) {
                Ok(o) => o,
                Err(v) => return v,
            },
        };
        let kind = TargetKind::Mailbox {
            user: user.to_string(),
        };
        let (target, run_as) = match pw {
            Some(p) if !s.home_mailbox.is_empty() => {
                let path = format!("{}/{}", p.home.trim_end_matches('/'), s.home_mailbox);
                (MailboxTarget::from_path(&path, owner, kind), user_id)
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
                let run_as = user_id.map(|id| spool_identity(Path::new(spool), id));
                (MailboxTarget::from_path(&path, owner, kind), run_as)
            }
        };
        self.store_mailbox(&target, run_as, data, attrs)
    }

    fn store_mailbox(
        &self,
        target: &MailboxTarget,
        run_as: Option<Owner>,
        data: &[u8],
        attrs: &CopyAttrs<'_>,
    ) -> Verdict {
        let s = &self.settings;
        let job = StoreJob {
            agent: AGENT,
            target,
            data,
            attrs,
            delivered_header: s.delivered_header.file,
            size_limit: s.mailbox_size_limit,
            locks: s.mailbox_delivery_lock,
        };
        store_process::store(&job, run_as, s)
    }

    /// The `default_privs` account when running as root (`None` otherwise);
    /// an unknown or privileged account defers the delivery, as Postfix.
    fn default_privs(&self, root: bool) -> Result<Option<Owner>, Verdict> {
        if !root {
            return Ok(None);
        }
        let s = &self.settings;
        match passwd::lookup(&s.passwd_file, &s.default_privs) {
            Ok(Some(p)) if p.uid != 0 => Ok(Some(Owner {
                uid: p.uid,
                gid: p.gid,
            })),
            _ => {
                gatepost_log::warning(
                    AGENT,
                    format!(
                        "unknown or privileged default_privs user: {}",
                        s.default_privs
                    ),
                );
                Err(Verdict::deferred(
                    "4.3.5",
                    "mail system configuration error",
                ))
            }
        }
    }

    /// The command of `mailbox_command_maps` or `mailbox_command` for a
    /// user, expanded (`None`: store in the mailbox).
    fn mailbox_command(&self, user: &str) -> Result<Option<String>, Verdict> {
        let s = &self.settings;
        let pattern = match self.mailbox_command_maps.find(user) {
            Ok(Some(command)) => command,
            Ok(None) if !s.mailbox_command.is_empty() => s.mailbox_command.clone(),
            Ok(None) => return Ok(None),
            Err(err) => {
                gatepost_log::warning(
                    AGENT,
                    format!("{err}: mailbox_command_maps lookup problem for {user}"),
                );
                return Err(Verdict::deferred("4.3.0", "table lookup failure"));
            }
        };
        Ok(Some(pattern))
    }

    /// The uid and gid a command or file delivery runs with (as root):
    /// the user's or file owner's, `default_privs` instead of root.
    fn rights(&self, rights: &Rights, root: bool) -> Result<Option<Owner>, Verdict> {
        let owner = match rights {
            Rights::User(pw) => Owner {
                uid: pw.uid,
                gid: pw.gid,
            },
            Rights::Owner(owner) => *owner,
            Rights::DefaultPrivs => return self.default_privs(root),
        };
        if !root {
            Ok(None)
        } else if owner.uid == 0 {
            self.default_privs(root)
        } else {
            Ok(Some(owner))
        }
    }

    /// Run a command for a recipient: as `default_privs` for alias
    /// targets, as the user for `mailbox_command` and `.forward` (root's
    /// own mail as `default_privs`, as Postfix's command.c), as the file
    /// owner for `:include:`. `$name` macros in `command_execution_directory`
    /// (and, with `expand`, for `mailbox_command`, in the command) are
    /// expanded with the recipient's attributes (Postfix's `local_expand()`),
    /// values censored to the `command_expansion_filter` characters.
    fn command(
        &self,
        job: &CommandJob<'_>,
        rattrs: &RecipientAttrs,
        root: bool,
        data: &[u8],
        copy: &CopyAttrs<'_>,
    ) -> Verdict {
        let s = &self.settings;
        let cmd = job.command;
        let user = match job.rights {
            Rights::User(pw) => Some(pw),
            _ => None,
        };
        let run_as = match self.rights(job.rights, root) {
            Ok(run_as) => run_as,
            Err(v) => return v,
        };
        let mut env: Vec<(&'static str, String)> = Vec::new();
        if let Some(pw) = user {
            env.push(("HOME", pw.home.clone()));
        }
        env.extend([
            ("LOGNAME", rattrs.user.clone()),
            ("USER", rattrs.user.clone()),
            ("SENDER", copy.sender.to_string()),
            ("RECIPIENT", rattrs.address.clone()),
            ("LOCAL", rattrs.local.clone()),
        ]);
        if let Some(pw) = user {
            env.push(("SHELL", pw.shell.clone()));
        }
        if !rattrs.domain.is_empty() {
            env.push(("DOMAIN", rattrs.domain.clone()));
        }
        if let Some(ext) = &rattrs.extension {
            env.push(("EXTENSION", ext.clone()));
        }
        if !copy.orig_rcpt.is_empty() {
            env.push(("ORIGINAL_RECIPIENT", copy.orig_rcpt.to_string()));
        }
        env.extend(crate::client_env::environment(job.client));
        let expand = |text: &str| {
            gatepost_config::expand_macros(text, &|name| {
                let value = match name {
                    "user" => rattrs.user.clone(),
                    "home" => user.map(|pw| pw.home.clone())?,
                    "shell" => user.map(|pw| pw.shell.clone())?,
                    "recipient" => rattrs.address.clone(),
                    "sender" => copy.sender.to_string(),
                    "local" | "mailbox" => rattrs.local.clone(),
                    "domain" => rattrs.domain.clone(),
                    "extension" => rattrs.extension.clone()?,
                    "recipient_delimiter" => s.recipient_delimiter.clone(),
                    _ => return None,
                };
                Some(command::censor(&value))
            })
        };
        let command = if job.expand {
            expand(cmd)
        } else {
            cmd.to_string()
        };
        let cwd = match s.command_execution_directory.as_str() {
            "" => run_as.map(|_| "/".to_string()),
            dir => Some(expand(dir)),
        };
        let req = CommandRequest {
            command: &command,
            argv: &[],
            shell: &s.local_command_shell,
            env,
            time_limit: s.command_time_limit,
            run_as,
            cwd,
        };
        let input = crate::content::render(
            data,
            copy,
            crate::content::CopyFlags::command(s.delivered_header.command),
        );
        command::run(&req, input)
    }
}
