//! `gatepost queue ...` and `mailq`: the operator's queue tools, named and
//! worded like Postfix's postqueue (`list` = `postqueue -p`/`mailq`,
//! `flush` = `postqueue -f`), postsuper (`hold`, `release`, `delete`,
//! `requeue`, each with a queue id or `ALL`), postcat (`show ID`) and
//! `import-postfix DIR` (in `import_cmd`).
//!
//! They work on the queue files directly, so they also work while the
//! server is down (`list` and `flush` then say
//! `postqueue: warning: Mail system is down -- accessing queue directly`),
//! and wake a running queue manager through `public/qmgr`. Per-message
//! actions are logged to `maillog_file` as Postfix's postsuper logs them and
//! echoed on stderr with the summary (`postsuper: Deleted: 2 messages`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Subcommand;
use gatepost_config::{params, Config};
use gatepost_queue::{mailq_output, Queue, QueueError, QueueId, QueueName, TriggerRequest};

#[derive(Subcommand, Debug)]
pub enum QueueCmd {
    /// Show the queue in mailq's layout (postqueue -p).
    List,
    /// Deliver deferred mail now (postqueue -f).
    Flush,
    /// Put messages on hold (postsuper -h ID|ALL).
    Hold {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Release held messages (postsuper -H ID|ALL).
    Release {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Delete messages (postsuper -d ID|ALL).
    Delete {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Requeue messages for immediate delivery (postsuper -r ID|ALL).
    Requeue {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Print a queued message, envelope and content (postcat -q ID).
    Show { id: String },
    /// Move the mail of a stopped Postfix from its queue directory DIR
    /// into this queue (Postfix's files are removed once copied).
    ImportPostfix { dir: PathBuf },
}

const DOWN_WARNING: &str = "postqueue: warning: Mail system is down -- accessing queue directly";

/// Open the queue of this configuration and route log lines to
/// `maillog_file` (nowhere when it is unset: the command echoes on stderr).
pub fn open_queue(cfg: &Config) -> Result<Arc<Queue>> {
    let maillog = cfg.get(&params::MAILLOG_FILE);
    let target = if maillog.is_empty() {
        PathBuf::from("/dev/null")
    } else {
        PathBuf::from(&maillog)
    };
    gatepost_log::init(
        gatepost_log::LogTarget::File(&target),
        &cfg.get(&params::MYHOSTNAME),
        &cfg.get(&params::SYSLOG_NAME),
    )
    .with_context(|| format!("open maillog_file {maillog}"))?;
    let dir = PathBuf::from(cfg.get(&params::QUEUE_DIRECTORY));
    Queue::open(&dir).with_context(|| format!("open queue {}", dir.display()))
}

pub fn run(cfg: &Config, cmd: QueueCmd) -> Result<ExitCode> {
    let queue = open_queue(cfg)?;
    match cmd {
        QueueCmd::List => list(&queue),
        QueueCmd::Flush => flush(&queue),
        QueueCmd::Hold { ids } => postsuper(&queue, Action::Hold, &ids),
        QueueCmd::Release { ids } => postsuper(&queue, Action::Release, &ids),
        QueueCmd::Delete { ids } => postsuper(&queue, Action::Delete, &ids),
        QueueCmd::Requeue { ids } => postsuper(&queue, Action::Requeue, &ids),
        QueueCmd::Show { id } => show(&queue, &id),
        QueueCmd::ImportPostfix { dir } => crate::import_cmd::import_postfix(&queue, &dir),
    }
}

/// `mailq` / `postqueue -p`.
pub fn list(queue: &Queue) -> Result<ExitCode> {
    if !queue.system_running() {
        eprintln!("{DOWN_WARNING}");
    }
    let entries = queue.list().context("read the queue")?;
    print!("{}", mailq_output(&entries));
    Ok(ExitCode::SUCCESS)
}

/// `postqueue -f`. Like Postfix, flushing needs a running mail system:
/// otherwise `fatal: Cannot flush mail queue - mail system is down` and
/// exit status 69 (EX_UNAVAILABLE), leaving the queue as it is.
fn flush(queue: &Queue) -> Result<ExitCode> {
    if !queue.system_running() {
        eprintln!("postqueue: fatal: Cannot flush mail queue - mail system is down");
        return Ok(ExitCode::from(69));
    }
    queue.flush().context("flush the queue")?;
    queue.send_trigger(&[TriggerRequest::Flush]);
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Hold,
    Release,
    Delete,
    Requeue,
}

impl Action {
    /// Queues `ALL` covers, as postsuper.
    fn queues(self) -> &'static [QueueName] {
        use QueueName::*;
        match self {
            Action::Hold => &[Incoming, Active, Deferred],
            Action::Release => &[Hold],
            Action::Delete => &[Maildrop, Incoming, Active, Deferred, Hold, Corrupt],
            Action::Requeue => &[Incoming, Active, Deferred, Hold],
        }
    }

    /// The summary line, as postsuper prints it.
    fn summary(self, n: usize) -> String {
        let what = match self {
            Action::Hold => "Placed on hold",
            Action::Release => "Released from hold",
            Action::Delete => "Deleted",
            Action::Requeue => "Requeued",
        };
        format!(
            "postsuper: {what}: {n} message{}",
            if n == 1 { "" } else { "s" }
        )
    }

    /// The per-message line (also logged by the queue crate).
    fn done(self, id: &QueueId) -> String {
        let what = match self {
            Action::Hold => "placed on hold",
            Action::Release => "released from hold",
            Action::Delete => "removed",
            Action::Requeue => "requeued",
        };
        format!("postsuper: {id}: {what}")
    }

    fn apply(self, queue: &Queue, id: &QueueId) -> Result<(), QueueError> {
        match self {
            Action::Hold => queue.hold(id),
            Action::Release => queue.release(id),
            Action::Delete => queue.delete(id),
            Action::Requeue => queue.requeue(id),
        }
    }
}

/// The ids an argument list names (`ALL` = every message in the action's
/// queues), each with whether it was named one by one. An invalid id gets
/// postsuper's warning and is skipped.
fn targets(queue: &Queue, action: Action, ids: &[String]) -> Result<Vec<(QueueId, bool)>> {
    let mut out: Vec<(QueueId, bool)> = Vec::new();
    for arg in ids {
        if arg == "ALL" {
            for e in queue.list_all().context("read the queue")? {
                if action.queues().contains(&e.1) && !out.iter().any(|(id, _)| *id == e.0) {
                    out.push((e.0, false));
                }
            }
        } else if QueueId::is_valid(arg) {
            let id = QueueId(arg.clone());
            if !out.iter().any(|(i, _)| *i == id) {
                out.push((id, true));
            }
        } else {
            let line = format!("invalid mail queue id: {}", gatepost_log::sanitize(arg));
            eprintln!("postsuper: warning: {line}");
            gatepost_log::warning("postsuper", line);
        }
    }
    Ok(out)
}

/// postsuper -h/-H/-d/-r: a line per message named by id, and always the
/// summary (also for 0 messages, and alone for `ALL`), on stderr and in
/// the log, as Postfix prints them.
fn postsuper(queue: &Queue, action: Action, ids: &[String]) -> Result<ExitCode> {
    let mut n = 0;
    for (id, named) in targets(queue, action, ids)? {
        match action.apply(queue, &id) {
            Ok(()) => {
                if named {
                    eprintln!("{}", action.done(&id));
                }
                n += 1;
            }
            Err(QueueError::NoSuchId(_)) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => eprintln!("postsuper: warning: {id}: {e}"),
        }
    }
    let summary = action.summary(n);
    eprintln!("{summary}");
    gatepost_log::info("postsuper", summary.trim_start_matches("postsuper: "));
    if n > 0 && matches!(action, Action::Release | Action::Requeue) {
        queue.send_trigger(&[TriggerRequest::ScanIncoming, TriggerRequest::ScanDeferred]);
    }
    Ok(ExitCode::SUCCESS)
}

/// `postcat -q ID`.
fn show(queue: &Queue, id: &str) -> Result<ExitCode> {
    if !QueueId::is_valid(id) {
        anyhow::bail!("invalid queue id: {id}");
    }
    match queue.show(&QueueId(id.to_string())) {
        Ok(text) => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(QueueError::NoSuchId(_)) => {
            eprintln!("postcat: fatal: open queue file {id}: No such file or directory");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

/// Configuration directory for the argv[0] personalities (`sendmail`,
/// `mailq`): `-C DIR` is handled by the caller, else `MAIL_CONFIG`.
pub fn mail_config_dir() -> Option<PathBuf> {
    std::env::var_os("MAIL_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_match_postsuper() {
        let cases = [
            (Action::Delete, 1, "postsuper: Deleted: 1 message"),
            (Action::Delete, 2, "postsuper: Deleted: 2 messages"),
            (Action::Hold, 3, "postsuper: Placed on hold: 3 messages"),
            (
                Action::Release,
                1,
                "postsuper: Released from hold: 1 message",
            ),
            (Action::Requeue, 0, "postsuper: Requeued: 0 messages"),
        ];
        for (a, n, want) in cases {
            assert_eq!(a.summary(n), want);
        }
        let id = QueueId("5562DBE20B".into());
        assert_eq!(Action::Delete.done(&id), "postsuper: 5562DBE20B: removed");
        assert_eq!(
            Action::Hold.done(&id),
            "postsuper: 5562DBE20B: placed on hold"
        );
    }
}
