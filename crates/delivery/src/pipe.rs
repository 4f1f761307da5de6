//! pipe(8) delivery transports from `master.cf` (`NAME unix - n n - -
//! pipe flags=... user=... argv=...`): the message goes on stdin to the
//! program of `argv=`, run directly (no shell) with `$name` / `${name}`
//! expanded in each argument: `recipient`, `sender`, `nexthop`,
//! `extension`, `user`, `domain`, `mailbox`, `original_recipient`, `size`,
//! `queue_id`, and the client's (`client_address`, `client_helo`,
//! `client_hostname`, `client_port`, `client_protocol`, `sasl_method`,
//! `sasl_sender`, `sasl_username`; empty when unknown). Flags: `F` (`From ` line), `R` (`Return-Path:`), `O`
//! (`X-Original-To:`), `D` (`Delivered-To:`), `.` (dot-stuffing), `>`
//! (`>From ` quoting), `B` (blank line at the end), `q` (quote the local
//! part of `$recipient` and `$sender` as RFC 5321 wants), `u` (`$user`
//! folded to lower case), `h` (`$nexthop`, `$domain` folded to lower
//! case); `X` needs nothing more here. Each recipient is one delivery
//! (as with `NAME_destination_recipient_limit = 1`).
//!
//! The command runs as `user=NAME[:GROUP]` when gatepost runs as root (in
//! the privileged helper under privilege separation); a missing `user=`
//! or `argv=`, an unknown user or group, `mail_owner`, uid 0 or gid 0 is
//! refused with pipe(8)'s fatal error text, and the delivery deferred
//! (`unknown mail transport error`, as qmgr(8) says when the pipe process
//! dies). The time limit is `command_time_limit`. Exit statuses map as
//! `sys_exits.h` (see `command`); success is `delivered via NAME service`.

use std::sync::Arc;

use gatepost_config::PipeService;
use gatepost_qmgr::{DeliveryOutcome, QueuedMessage};
use gatepost_table::{split_address, split_extension};

use crate::command::{self, CommandRequest};
use crate::content::{self, CopyAttrs, CopyFlags};
use crate::helper::HelperPool;
use crate::passwd;
use crate::privs::{self, Owner};
use crate::settings::Settings;
use crate::verdict::Verdict;
use crate::MessageContent;

/// Program name in the delivery log line.
pub(crate) const AGENT: &str = "pipe";

/// The pipe services of master.cf, and where their deliveries run.
#[derive(Debug, Clone)]
pub(crate) struct PipeAgent {
    pub settings: Arc<Settings>,
    pub services: Vec<PipeService>,
    /// The privileged helper that runs them as `user=` (privilege
    /// separation).
    pub helper: Option<Arc<HelperPool>>,
}

impl PipeAgent {
    pub fn service(&self, name: &str) -> Option<&PipeService> {
        self.services.iter().find(|s| s.name == name)
    }

    /// Deliver recipient `index` of `msg` through service `name`.
    pub async fn deliver(
        &self,
        msg: &QueuedMessage,
        content: &Arc<MessageContent>,
        index: usize,
        name: &str,
        nexthop: &str,
        recipient: &str,
    ) -> DeliveryOutcome {
        let original = msg
            .envelope
            .recipients
            .get(index)
            .map(|r| r.original.clone())
            .unwrap_or_default();
        let sender = msg.envelope.sender.clone();
        let queue_id = msg.id.to_string();
        let verdict = match (&self.helper, self.service(name)) {
            (Some(helper), _) => {
                let target = PipeTarget {
                    service: name.to_string(),
                    nexthop: nexthop.to_string(),
                    recipient: recipient.to_string(),
                    queue_id,
                };
                helper
                    .pipe(&sender, &original, &target, content)
                    .await
                    .unwrap_or_else(|e| {
                        Verdict::deferred("4.3.0", format!("pipe delivery failed: {e}"))
                    })
            }
            (None, Some(service)) => {
                let service = service.clone();
                let settings = Arc::clone(&self.settings);
                let content = Arc::clone(content);
                let (nexthop, recipient) = (nexthop.to_string(), recipient.to_string());
                tokio::task::spawn_blocking(move || {
                    let d = PipeDelivery {
                        sender: &sender,
                        original: &original,
                        recipient: &recipient,
                        nexthop: &nexthop,
                        queue_id: &queue_id,
                        client: &content.client,
                    };
                    deliver(&service, &settings, &d, &content.data)
                })
                .await
                .unwrap_or_else(|e| {
                    Verdict::deferred("4.3.0", format!("pipe delivery failed: {e}"))
                })
            }
            (None, None) => Verdict::deferred("4.3.0", "mail transport unavailable"),
        };
        verdict.into_outcome(index, AGENT, name)
    }
}

/// What the server names in a pipe request to the helper; the helper
/// takes the command and the user from its own reading of master.cf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PipeTarget {
    pub service: String,
    pub nexthop: String,
    pub recipient: String,
    pub queue_id: String,
}

impl PipeTarget {
    /// One line per field (none of them holds a newline).
    pub fn encode(&self) -> String {
        [
            &self.service,
            &self.nexthop,
            &self.recipient,
            &self.queue_id,
        ]
        .map(|f| f.replace('\n', " "))
        .join("\n")
    }

    pub fn decode(text: &str) -> Option<PipeTarget> {
        let mut parts = text.split('\n');
        let target = PipeTarget {
            service: parts.next()?.to_string(),
            nexthop: parts.next()?.to_string(),
            recipient: parts.next()?.to_string(),
            queue_id: parts.next()?.to_string(),
        };
        parts.next().is_none().then_some(target)
    }
}

/// One recipient's delivery through a pipe service.
#[derive(Debug, Clone)]
pub(crate) struct PipeDelivery<'a> {
    pub sender: &'a str,
    pub original: &'a str,
    pub recipient: &'a str,
    pub nexthop: &'a str,
    pub queue_id: &'a str,
    /// The submitting client (`${client_address}` ...).
    pub client: &'a gatepost_queue::ClientFacts,
}

/// Expand `$name` and `${name}` (no recursion: values are taken as they
/// are); `$$` is a `$`. Unknown names expand to nothing.
fn expand_arg(arg: &str, value: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => {
                    out.push_str(&value(&inner[..end]).unwrap_or_default());
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push_str(&rest[pos..]);
                    rest = "";
                }
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if end == 0 {
                out.push('$');
            } else {
                out.push_str(&value(&after[..end]).unwrap_or_default());
            }
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

/// RFC 5321 quoting of a local part that needs it (flag `q`).
fn quote_local(address: &str) -> String {
    let (local, domain) = match address.rsplit_once('@') {
        Some((l, d)) => (l, Some(d)),
        None => (address, None),
    };
    let plain = !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let local = if plain || local.is_empty() {
        local.to_string()
    } else {
        let escaped: String = local
            .chars()
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                _ => vec![c],
            })
            .collect();
        format!("\"{escaped}\"")
    };
    match domain {
        Some(d) => format!("{local}@{d}"),
        None => local,
    }
}

/// The refusal of a misconfigured service: pipe(8)'s fatal text in the
/// log, a deferral for the message.
fn refuse(why: &str) -> Verdict {
    gatepost_log::fatal(AGENT, why);
    Verdict::deferred("4.3.0", "unknown mail transport error")
}

/// A group's gid from the group file next to the password file.
fn group_gid(settings: &Settings, group: &str) -> Option<u32> {
    let file = settings.passwd_file.with_file_name("group");
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let gid = fields.nth(1)?;
        (name == group).then(|| gid.parse().ok()).flatten()
    })
}

/// `user=NAME[:GROUP]` as pipe(8) checks it.
fn service_user(service: &PipeService, settings: &Settings) -> Result<Owner, String> {
    if service.user.is_empty() {
        return Err("missing user= command-line attribute".to_string());
    }
    let (name, group) = match service.user.split_once(':') {
        Some((n, g)) => (n, Some(g)),
        None => (service.user.as_str(), None),
    };
    let pw = match passwd::lookup(&settings.passwd_file, name) {
        Ok(Some(pw)) => pw,
        _ => return Err(format!("get_service_attr: unknown username: {name}")),
    };
    let gid = match group {
        Some(g) => {
            group_gid(settings, g).ok_or_else(|| format!("get_service_attr: unknown group: {g}"))?
        }
        None => pw.gid,
    };
    if pw.uid == 0 {
        return Err("user= command-line attribute specifies root privileges".to_string());
    }
    let owner_uid = passwd::lookup(&settings.passwd_file, &settings.mail_owner)
        .ok()
        .flatten()
        .map(|o| o.uid);
    if owner_uid == Some(pw.uid) {
        return Err(format!(
            "user= command-line attribute specifies mail system owner {}",
            settings.mail_owner
        ));
    }
    if gid == 0 {
        return Err("user= command-line attribute specifies privileged group id 0".to_string());
    }
    Ok(Owner { uid: pw.uid, gid })
}

/// Deliver one recipient through `service` (blocking).
pub(crate) fn deliver(
    service: &PipeService,
    settings: &Settings,
    d: &PipeDelivery<'_>,
    data: &[u8],
) -> Verdict {
    let owner = match service_user(service, settings) {
        Ok(owner) => owner,
        Err(why) => return refuse(&why),
    };
    if service.argv.is_empty() {
        return refuse("missing argv= command-line attribute");
    }
    let has = |flag: char| service.flags.contains(flag);
    let fold_host = |s: &str| {
        if has('h') {
            s.to_lowercase()
        } else {
            s.to_string()
        }
    };
    let quote = |s: &str| {
        if has('q') {
            quote_local(s)
        } else {
            s.to_string()
        }
    };
    let (local, domain) = split_address(d.recipient);
    let (user, extension) = split_extension(local, &settings.recipient_delimiter);
    let value = |name: &str| -> Option<String> {
        Some(match name {
            "recipient" => quote(d.recipient),
            "sender" => quote(d.sender),
            "original_recipient" => d.original.to_string(),
            "nexthop" => fold_host(d.nexthop),
            "domain" => fold_host(domain.unwrap_or("")),
            "mailbox" => local.to_string(),
            "user" if has('u') => user.to_lowercase(),
            "user" => user.to_string(),
            "extension" => extension.unwrap_or("").to_string(),
            "size" => data.len().to_string(),
            "queue_id" => d.queue_id.to_string(),
            other => return crate::client_env::pipe_macro(d.client, other),
        })
    };
    let argv: Vec<String> = service
        .argv
        .iter()
        .map(|arg| expand_arg(arg, &value))
        .collect();
    let flags = CopyFlags {
        from_line: has('F'),
        quote: has('>'),
        blank: has('B'),
        return_path: has('R'),
        orig_rcpt: has('O'),
        delivered: has('D'),
    };
    let attrs = CopyAttrs {
        sender: d.sender,
        orig_rcpt: d.original,
        delivered: d.recipient,
    };
    let mut input = content::render(data, &attrs, flags);
    if has('.') {
        input = dot_stuff(&input);
    }
    let root = privs::running_as_root();
    let cwd = match service.directory.as_str() {
        "" => root.then(|| "/".to_string()),
        dir => Some(dir.to_string()),
    };
    let req = CommandRequest {
        command: &argv[0],
        argv: &argv,
        shell: "",
        env: Vec::new(),
        time_limit: settings.command_time_limit,
        run_as: root.then_some(owner),
        cwd,
    };
    let verdict = command::run(&req, input);
    if verdict.status == gatepost_qmgr::DeliveryStatus::Sent {
        Verdict::sent("2.0.0", format!("delivered via {} service", service.name))
    } else {
        verdict
    }
}

/// Prepend `.` to lines that start with `.` (flag `.`).
fn dot_stuff(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 16);
    for line in input.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macros() {
        let value = |n: &str| match n {
            "recipient" => Some("a$b@x".to_string()),
            "user" => Some("a".to_string()),
            _ => None,
        };
        for (arg, want) in [
            ("${recipient}", "a$b@x"),
            ("-d$user.x", "-da.x"),
            ("$$HOME", "$HOME"),
            ("${unknown}z", "z"),
            ("100$", "100$"),
        ] {
            assert_eq!(expand_arg(arg, &value), want, "{arg}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_local("bob@x"), "bob@x");
        assert_eq!(quote_local("a b@x"), "\"a b\"@x");
        assert_eq!(quote_local(""), "");
    }

    #[test]
    fn dots() {
        assert_eq!(dot_stuff(b"a\n.b\n..\n"), b"a\n..b\n...\n");
    }
}
