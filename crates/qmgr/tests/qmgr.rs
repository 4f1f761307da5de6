//! End-to-end tests of the queue: write path, group commit, the queue
//! manager with a fake delivery agent (sent, deferred, bounced, expired),
//! bounces, restart recovery, operator commands and log line shapes.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use gatepost_qmgr::*;
use gatepost_queue::*;
use gatepost_testkit::log_capture::{in_process_log, in_process_log_lines};
use gatepost_testkit::wait_until_async;

#[derive(Debug, Clone)]
struct Call {
    id: QueueId,
    sender: String,
    recipients: Vec<String>,
    content: Vec<u8>,
}

/// Behaviour by local part: `bad*` bounces, `later*` defers once then is
/// sent, `never*` always defers, anything else is sent.
#[derive(Default)]
struct FakeAgent {
    calls: Mutex<Vec<Call>>,
    deferred_once: Mutex<HashSet<(String, usize)>>,
}

#[async_trait::async_trait]
impl DeliveryAgent for FakeAgent {
    async fn deliver(
        &self,
        msg: &QueuedMessage,
        recipients: &[RoutedRecipient],
    ) -> Vec<DeliveryOutcome> {
        self.calls.lock().unwrap().push(Call {
            id: msg.id.clone(),
            sender: msg.envelope.sender.clone(),
            recipients: recipients
                .iter()
                .map(|r| msg.envelope.recipients[r.index].address.clone())
                .collect(),
            // The content read ahead with the envelope, else the file's.
            content: match msg.preloaded.take() {
                Some((content, _)) => content,
                None => msg.read_content().unwrap(),
            },
        });
        recipients
            .iter()
            .map(|r| {
                let i = r.index;
                let addr = &msg.envelope.recipients[i].address;
                let first_try = self
                    .deferred_once
                    .lock()
                    .unwrap()
                    .insert((msg.id.0.clone(), i));
                let (status, dsn, text) = if addr.starts_with("bad") {
                    (DeliveryStatus::Bounced, "5.1.1", "unknown user: \"bad\"")
                } else if addr.starts_with("never") || (addr.starts_with("later") && first_try) {
                    (
                        DeliveryStatus::Deferred,
                        "4.4.1",
                        "connect to 127.0.0.1[127.0.0.1]:9: Connection refused",
                    )
                } else {
                    (DeliveryStatus::Sent, "2.0.0", "delivered to maildir")
                };
                let (agent, relay) = match status {
                    DeliveryStatus::Sent => ("local", "local"),
                    _ => ("smtp", "none"),
                };
                DeliveryOutcome {
                    recipient: i,
                    status,
                    agent: agent.into(),
                    relay: relay.into(),
                    dsn: dsn.into(),
                    text: text.into(),
                }
            })
            .collect()
    }
}

impl FakeAgent {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

fn settings() -> QmgrSettings {
    QmgrSettings {
        myhostname: "mx.spec.test".into(),
        myorigin: "spec.test".into(),
        ..QmgrSettings::default()
    }
    .with_fast_retries(
        Duration::from_millis(50),
        Duration::from_millis(200),
        Duration::from_millis(400),
    )
}

fn envelope(sender: &str, rcpts: &[&str]) -> Envelope {
    Envelope {
        sender: sender.into(),
        recipients: rcpts.iter().map(|r| EnvelopeRecipient::new(r)).collect(),
        arrival: SystemTime::now(),
        client: "localhost[127.0.0.1]".into(),
        ret: None,
        envid: None,
        filter: None,
    }
}

const BODY: &[u8] = b"Subject: test\nFrom: <s@ext.example>\n\nhello\n";
/// BODY's size as Postfix counts it (CRLF line ends): the `size=` logged.
const WIRE_SIZE: usize = 47;

async fn submit(queue: &Arc<Queue>, env: &Envelope) -> QueueId {
    let mut w = queue.new_message().unwrap();
    w.write_content(BODY).unwrap();
    w.commit(env).await.unwrap()
}

/// Start a queue manager; returns the shutdown trigger and its join handle.
fn start(
    queue: &Arc<Queue>,
    agent: &Arc<FakeAgent>,
    s: QmgrSettings,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    in_process_log();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let agent: Arc<dyn DeliveryAgent> = agent.clone();
    let h = tokio::spawn(run_qmgr(queue.clone(), agent, s, async move {
        let _ = rx.await;
    }));
    (tx, h)
}

fn files(root: &Path, q: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root.join(q))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

fn queue_empty(root: &Path) -> bool {
    ["incoming", "active", "deferred"]
        .iter()
        .all(|q| files(root, q).is_empty())
}

#[tokio::test]
async fn write_commit_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    for d in [
        "maildrop", "incoming", "active", "deferred", "hold", "corrupt", "bounce", "defer",
    ] {
        assert!(dir.path().join(d).is_dir(), "{d}");
    }
    let mut w = queue.new_message().unwrap();
    let id = w.id().clone();
    assert!(QueueId::is_valid(id.as_str()), "{id}");
    w.write_content(b"Subject: a\n\n").unwrap();
    w.write_content(b"body\n").unwrap();
    assert_eq!(w.content_size(), 17);
    let mut env = envelope("s@ext.example", &["a@spec.test", "b@spec.test"]);
    env.recipients[1].original = "alias@spec.test".into();
    env.recipients[1].notify = Some("FAILURE".into());
    env.ret = Some("HDRS".into());
    assert_eq!(w.commit(&env).await.unwrap(), id);
    assert!(files(dir.path(), "tmp").is_empty());
    drop(queue);

    let queue = Queue::open(dir.path()).unwrap();
    assert_eq!(queue.find(&id), Some(QueueName::Incoming));
    let list = queue.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, id);
    assert_eq!(
        list[0].size, 20,
        "17 bytes, 3 lines: CRLF size as Postfix shows"
    );
    assert_eq!(list[0].sender, "s@ext.example");
    assert_eq!(list[0].arrival, env.arrival);
    assert_eq!(list[0].recipients.len(), 2);
    let msg = QueuedMessage {
        id: id.clone(),
        envelope: env,
        path: queue.path_of(QueueName::Incoming, &id),
        preloaded: Default::default(),
    };
    assert_eq!(msg.read_content().unwrap(), b"Subject: a\n\nbody\n");
}

#[tokio::test]
async fn abort_and_drop_remove_tmp_files() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let mut w = queue.new_message().unwrap();
    w.write_content(b"x\n").unwrap();
    assert_eq!(files(dir.path(), "tmp").len(), 1);
    w.abort();
    let w2 = queue.new_message().unwrap();
    drop(w2);
    assert!(files(dir.path(), "tmp").is_empty());
    let w3 = queue.new_message().unwrap();
    assert!(w3.commit(&envelope("a@b", &[])).await.is_err());
    assert!(files(dir.path(), "tmp").is_empty() && files(dir.path(), "incoming").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_with_50_concurrent_commits() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let queue = queue.clone();
        tasks.push(tokio::spawn(async move {
            let mut w = queue.new_message().unwrap();
            w.write_content(format!("Subject: {i}\n\n").as_bytes())
                .unwrap();
            w.commit(&envelope("s@x", &["r@y"])).await.unwrap()
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        assert!(ids.insert(t.await.unwrap()));
    }
    assert_eq!(files(dir.path(), "incoming").len(), 50);
    let fsyncs = queue.dir_fsync_count(QueueName::Incoming);
    assert!((1..50).contains(&fsyncs), "directory fsyncs: {fsyncs}");
}

#[tokio::test]
async fn delivered_message_is_removed_with_postfix_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let agent = Arc::new(FakeAgent::default());
    let (stop, h) = start(&queue, &agent, settings());
    let mut env = envelope("s@ext.example", &["ok1@spec.test", "ok2@spec.test"]);
    env.recipients[0].original = "alias@valias.test".into();
    let id = submit(&queue, &env).await;
    wait_until_async("removal", || {
        !in_process_log_lines(&format!("{id}: removed")).is_empty()
    })
    .await;
    assert!(queue_empty(dir.path()));
    let lines = in_process_log_lines(&format!("{id}:"));
    assert_eq!(
        lines[0],
        format!(
            "qmgr: {id}: from=<s@ext.example>, size={}, nrcpt=2 (queue active)",
            WIRE_SIZE
        )
    );
    let sent: Vec<&String> = lines.iter().filter(|l| l.contains("status=sent")).collect();
    assert_eq!(sent.len(), 2);
    let prefix = format!(
        "local: {id}: to=<ok1@spec.test>, orig_to=<alias@valias.test>, relay=local, delay="
    );
    assert!(sent[0].starts_with(&prefix), "{}", sent[0]);
    assert!(sent[0].contains(", delays="), "{}", sent[0]);
    assert!(
        sent[0].ends_with(", dsn=2.0.0, status=sent (delivered to maildir)"),
        "{}",
        sent[0]
    );
    assert!(sent[1].starts_with(&format!(
        "local: {id}: to=<ok2@spec.test>, relay=local, delay="
    )));
    assert_eq!(lines.last().unwrap(), &format!("qmgr: {id}: removed"));
    assert_eq!(agent.calls().len(), 1);
    assert_eq!(agent.calls()[0].content, BODY);
    stop.send(()).unwrap();
    h.await.unwrap();
}

#[tokio::test]
async fn deferred_then_sent_with_backoff_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let agent = Arc::new(FakeAgent::default());
    let s = settings().with_fast_retries(
        Duration::from_millis(50),
        Duration::from_millis(600),
        Duration::from_millis(900),
    );
    let (stop, h) = start(&queue, &agent, s);
    let id = submit(
        &queue,
        &envelope("s@ext.example", &["ok@spec.test", "later@far.example"]),
    )
    .await;
    let deferred = dir.path().join("deferred").join(id.as_str());
    wait_until_async("deferral", || deferred.exists()).await;
    let seen = SystemTime::now();
    // mtime = next retry time: minimal_backoff_time (600ms) after the attempt.
    let mtime = std::fs::metadata(&deferred).unwrap().modified().unwrap();
    assert!(
        mtime > seen + Duration::from_millis(300),
        "mtime not in the future"
    );
    let listing = queue.list().unwrap();
    let e = listing.iter().find(|e| e.id == id).unwrap();
    assert_eq!(e.queue, QueueName::Deferred);
    assert_eq!(e.recipients.len(), 1);
    assert_eq!(e.recipients[0].address, "later@far.example");
    assert_eq!(
        e.recipients[0].reason.as_deref(),
        Some("connect to 127.0.0.1[127.0.0.1]:9: Connection refused")
    );
    // One delivery request per destination.
    let mut first: Vec<Vec<String>> = agent.calls().into_iter().map(|c| c.recipients).collect();
    first.sort();
    assert_eq!(first, vec![vec!["later@far.example"], vec!["ok@spec.test"]]);
    wait_until_async("removal", || {
        !in_process_log_lines(&format!("{id}: removed")).is_empty()
    })
    .await;
    let calls = agent.calls();
    assert_eq!(calls.len(), 3);
    // Only the pending recipient is retried: "done" state is durable.
    assert_eq!(calls[2].recipients, vec!["later@far.example"]);
    let lines = in_process_log_lines(&format!("{id}:"));
    assert!(lines.iter().any(|l| l.starts_with(&format!(
        "smtp: {id}: to=<later@far.example>, relay=none, delay="
    )) && l.ends_with(
        "dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:9: Connection refused)"
    )));
    assert!(lines.iter().any(|l| l.ends_with("nrcpt=1 (queue active)")));
    stop.send(()).unwrap();
    h.await.unwrap();
}

#[tokio::test]
async fn bounce_sends_dsn_to_sender_from_null_sender() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let agent = Arc::new(FakeAgent::default());
    let (stop, h) = start(&queue, &agent, settings());
    let id = submit(
        &queue,
        &envelope("sender@ext.example", &["ok@spec.test", "bad@spec.test"]),
    )
    .await;
    wait_until_async("bounce delivery", || {
        agent.calls().iter().any(|c| c.sender.is_empty())
    })
    .await;
    let lines = in_process_log_lines(&format!("{id}: sender non-delivery notification: "));
    assert_eq!(lines.len(), 1);
    let new_id = lines[0].rsplit(' ').next().unwrap().to_string();
    assert!(lines[0].starts_with("bounce: "));
    let dsn = agent
        .calls()
        .into_iter()
        .find(|c| c.id.0 == new_id)
        .unwrap();
    assert_eq!(dsn.sender, "");
    assert_eq!(dsn.recipients, vec!["sender@ext.example"]);
    let text = String::from_utf8(dsn.content).unwrap();
    for want in [
        "From: Mail Delivery System <MAILER-DAEMON@spec.test>\n",
        "Subject: Undelivered Mail Returned to Sender\n",
        "To: sender@ext.example\n",
        "\n<bad@spec.test>: unknown user: \"bad\"\n",
        &format!("X-Postfix-Queue-ID: {id}\n"),
        "Final-Recipient: rfc822; bad@spec.test\nOriginal-Recipient: rfc822;bad@spec.test\nAction: failed\nStatus: 5.1.1\n",
        "Content-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n\nReturn-Path: <sender@ext.example>\nSubject: test\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(!text.contains("ok@spec.test"));
    wait_until_async("removal", || {
        !in_process_log_lines(&format!("{id}: removed")).is_empty()
    })
    .await;
    wait_until_async("dsn removal", || queue_empty(dir.path())).await;
    let b = in_process_log_lines(&format!("{id}: to=<bad@spec.test>"));
    assert!(b[0].starts_with(&format!(
        "smtp: {id}: to=<bad@spec.test>, relay=none, delay="
    )));
    assert!(b[0].ends_with(", dsn=5.1.1, status=bounced (unknown user: \"bad\")"));
    stop.send(()).unwrap();
    h.await.unwrap();
}

#[tokio::test]
async fn never_bounce_to_null_sender() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let agent = Arc::new(FakeAgent::default());
    let (stop, h) = start(&queue, &agent, settings());
    // A bounce that bounces goes to postmaster as a double bounce.
    let id = submit(&queue, &envelope("", &["bad@far.example"])).await;
    wait_until_async("postmaster notice", || {
        !in_process_log_lines(&format!("{id}: postmaster non-delivery notification: ")).is_empty()
    })
    .await;
    wait_until_async("double bounce delivery", || {
        agent
            .calls()
            .iter()
            .any(|c| c.sender == "double-bounce@spec.test")
    })
    .await;
    let calls = agent.calls();
    let pm = calls
        .iter()
        .find(|c| c.sender == "double-bounce@spec.test")
        .unwrap();
    assert_eq!(pm.recipients, vec!["postmaster@spec.test"]);
    let text = String::from_utf8(pm.content.clone()).unwrap();
    assert!(text.contains("Subject: Postmaster Copy: Undelivered Mail\n"));
    assert!(
        calls.iter().all(|c| !(c.sender.is_empty() && c.id != id)),
        "no DSN from <> for a <> message"
    );

    // A failed postmaster notice is discarded.
    let id2 = submit(
        &queue,
        &envelope("double-bounce@spec.test", &["bad@far.example"]),
    )
    .await;
    wait_until_async("discard", || {
        !in_process_log_lines(&format!(
            "{id2}: undeliverable postmaster notification discarded"
        ))
        .is_empty()
    })
    .await;
    wait_until_async("removal", || {
        !in_process_log_lines(&format!("{id2}: removed")).is_empty()
    })
    .await;
    assert!(
        in_process_log_lines(&format!("{id2}: undeliverable"))[0].starts_with("bounce: warning: ")
    );
    assert!(in_process_log_lines(&format!("{id2}: sender non-delivery")).is_empty());
    stop.send(()).unwrap();
    h.await.unwrap();
}

#[tokio::test]
async fn expiry_returns_message_to_sender() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let agent = Arc::new(FakeAgent::default());
    let mut s = settings();
    s.maximal_queue_lifetime = Duration::ZERO; // one attempt only
    let (stop, h) = start(&queue, &agent, s);
    let id = submit(&queue, &envelope("s@ext.example", &["never@far.example"])).await;
    wait_until_async("removal", || {
        !in_process_log_lines(&format!("{id}: removed")).is_empty()
    })
    .await;
    let lines = in_process_log_lines(&format!("{id}:"));
    assert!(lines.contains(&format!(
        "qmgr: {id}: from=<s@ext.example>, status=expired, returned to sender"
    )));
    wait_until_async("dsn", || agent.calls().iter().any(|c| c.sender.is_empty())).await;
    let dsn = agent
        .calls()
        .into_iter()
        .find(|c| c.sender.is_empty())
        .unwrap();
    let text = String::from_utf8(dsn.content).unwrap();
    assert!(text.contains("Action: failed\nStatus: 4.4.1\n"), "{text}");
    assert_eq!(agent.calls().iter().filter(|c| c.id == id).count(), 1);
    stop.send(()).unwrap();
    h.await.unwrap();
}

#[tokio::test]
async fn soft_bounce_defers_instead() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let agent = Arc::new(FakeAgent::default());
    let mut s = settings();
    s.soft_bounce = true;
    let (stop, h) = start(&queue, &agent, s);
    let id = submit(&queue, &envelope("s@ext.example", &["bad@spec.test"])).await;
    wait_until_async("deferral", || {
        dir.path().join("deferred").join(id.as_str()).exists()
    })
    .await;
    let l = in_process_log_lines(&format!("{id}: to=<bad@spec.test>"));
    assert!(
        l[0].ends_with(", dsn=4.1.1, status=deferred (unknown user: \"bad\")"),
        "{}",
        l[0]
    );
    stop.send(()).unwrap();
    h.await.unwrap();
    assert!(agent.calls().iter().all(|c| !c.sender.is_empty()));
}

#[tokio::test]
async fn restart_recovers_active_and_incoming() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let a = submit(&queue, &envelope("s@ext.example", &["ok@spec.test"])).await;
    let b = submit(&queue, &envelope("s@ext.example", &["ok@spec.test"])).await;
    // Simulate a crash while `a` was being delivered.
    std::fs::rename(
        dir.path().join("incoming").join(a.as_str()),
        dir.path().join("active").join(a.as_str()),
    )
    .unwrap();
    // And a corrupt file.
    std::fs::write(dir.path().join("incoming").join("ABCDEF0"), b"garbage").unwrap();
    drop(queue);
    let queue = Queue::open(dir.path()).unwrap();
    let agent = Arc::new(FakeAgent::default());
    let (stop, h) = start(&queue, &agent, settings());
    wait_until_async("both delivered", || {
        !in_process_log_lines(&format!("{a}: removed")).is_empty()
            && !in_process_log_lines(&format!("{b}: removed")).is_empty()
    })
    .await;
    wait_until_async("corrupt moved", || {
        files(dir.path(), "corrupt") == vec!["ABCDEF0".to_string()]
    })
    .await;
    assert!(queue_empty(dir.path()));
    assert!(!in_process_log_lines(
        "saving corrupt file \"ABCDEF0\" from queue \"active\" to queue \"corrupt\""
    )
    .is_empty());
    stop.send(()).unwrap();
    h.await.unwrap();
}

/// A power loss on a filesystem that does not order data before metadata
/// can leave a queue file's block recorded but never written: the file
/// then shows stale bytes where its content was. Its checksum gives it
/// away before anything is delivered, small (read whole at activation) or
/// large (checked a piece at a time), and it goes to `corrupt`.
#[tokio::test]
async fn a_file_whose_content_does_not_match_its_checksum_goes_to_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let env = envelope("s@ext.example", &["ok@spec.test"]);
    let good = submit(&queue, &env).await;
    let small = submit(&queue, &env).await;
    let mut w = queue.new_message().unwrap();
    w.write_content(BODY).unwrap();
    for _ in 0..1000 {
        w.write_content(&[b'x'; 99]).unwrap();
        w.write_content(b"\n").unwrap();
    }
    let large = w.commit(&env).await.unwrap();
    // Stale bytes in the middle of each damaged file's content.
    for (id, at) in [(&small, 80u64), (&large, 60_000)] {
        let path = dir.path().join("incoming").join(id.as_str());
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&file, b"\0\0\0\0", at).unwrap();
    }
    let agent = Arc::new(FakeAgent::default());
    let (stop, h) = start(&queue, &agent, settings());
    wait_until_async("good delivered", || {
        !in_process_log_lines(&format!("{good}: removed")).is_empty()
    })
    .await;
    let mut want = vec![small.to_string(), large.to_string()];
    want.sort();
    wait_until_async("damaged moved", || files(dir.path(), "corrupt") == want).await;
    for id in [&small, &large] {
        assert_eq!(
            in_process_log_lines(&format!("{id}: corrupt queue file")),
            vec![format!(
                "qmgr: warning: {id}: corrupt queue file: content checksum mismatch"
            )]
        );
        assert!(agent.calls().iter().all(|c| &c.id != id), "{id} delivered");
    }
    assert!(queue_empty(dir.path()));
    stop.send(()).unwrap();
    h.await.unwrap();
}

#[tokio::test]
async fn operator_commands_and_mailq() {
    // Open the log before the first postsuper-style action logs anything.
    let _ = in_process_log();
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    assert_eq!(
        mailq_output(&queue.list().unwrap()),
        "Mail queue is empty\n"
    );
    let a = submit(&queue, &envelope("s@ext.example", &["ok@spec.test"])).await;
    let b = submit(&queue, &envelope("", &["ok@spec.test"])).await;
    queue.hold(&a).unwrap();
    assert_eq!(queue.find(&a), Some(QueueName::Hold));
    let out = mailq_output(&queue.list().unwrap());
    assert!(out.starts_with("-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"));
    assert!(
        out.contains(&format!("{:<11} {:>7} ", format!("{a}!"), WIRE_SIZE)),
        "{out}"
    );
    assert!(out.contains(" MAILER-DAEMON\n"));
    assert!(out.ends_with("\n-- 0 Kbytes in 2 Requests.\n"), "{out}");
    assert!(matches!(queue.release(&b), Err(QueueError::NoSuchId(_))));
    queue.delete(&b).unwrap();
    assert_eq!(queue.find(&b), None);
    assert!(matches!(
        queue.delete(&QueueId("../x".into())),
        Err(QueueError::NoSuchId(_))
    ));

    // Held mail is never scheduled: a message queued after it goes through
    // incoming, a deferral and a deferred-queue scan, while the held one
    // is not handed to the agent.
    let probe = submit(&queue, &envelope("s@ext.example", &["later@probe.example"])).await;
    let agent = Arc::new(FakeAgent::default());
    let (stop, h) = start(&queue, &agent, settings());
    wait_until_async("the probe delivered after its retry", || {
        !in_process_log_lines(&format!("{probe}: removed")).is_empty()
    })
    .await;
    assert!(agent.calls().iter().all(|call| call.id != a));
    assert!(in_process_log_lines(&format!("{a}: from=<")).is_empty());
    queue.release(&a).unwrap();
    wait_until_async("delivery after release", || {
        !in_process_log_lines(&format!("{a}: removed")).is_empty()
    })
    .await;
    assert!(!in_process_log_lines(&format!("{a}: placed on hold")).is_empty());
    assert!(!in_process_log_lines(&format!("{a}: released from hold")).is_empty());
    assert!(!in_process_log_lines(&format!("{b}: removed")).is_empty());

    // flush makes deferred mail due now.
    let mut s = settings();
    s.minimal_backoff_time = Duration::from_secs(3600);
    s.maximal_backoff_time = Duration::from_secs(3600);
    stop.send(()).unwrap();
    h.await.unwrap();
    let (stop, h) = start(&queue, &agent, s);
    let c = submit(&queue, &envelope("s@ext.example", &["later@far.example"])).await;
    wait_until_async("deferral", || queue.find(&c) == Some(QueueName::Deferred)).await;
    assert_eq!(queue.flush().unwrap(), 1);
    wait_until_async("delivery after flush", || {
        !in_process_log_lines(&format!("{c}: removed")).is_empty()
    })
    .await;
    // requeue of a held message puts it back in incoming.
    let d = submit(&queue, &envelope("s@ext.example", &["never@far.example"])).await;
    wait_until_async("deferral", || queue.find(&d) == Some(QueueName::Deferred)).await;
    queue.hold(&d).unwrap();
    queue.requeue(&d).unwrap();
    // It is processed again; its destination was unreachable a moment
    // ago, so (as in Postfix) it is deferred without a new attempt.
    wait_until_async("second deferral", || {
        in_process_log_lines(&format!("{d}: to=<never@far.example>")).len() == 2
    })
    .await;
    assert_eq!(agent.calls().iter().filter(|x| x.id == d).count(), 1);
    assert!(
        in_process_log_lines(&format!("{d}: to=<never@far.example>"))[1].starts_with("error: ")
    );
    assert!(
        in_process_log_lines(&format!("{d}: to=<never@far.example>"))[1]
            .contains("status=deferred (delivery temporarily suspended: ")
    );
    stop.send(()).unwrap();
    h.await.unwrap();
}

#[tokio::test]
async fn concurrency_limit_still_drains_the_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(submit(&queue, &envelope("s@ext.example", &["ok@spec.test"])).await);
    }
    let agent = Arc::new(FakeAgent::default());
    let mut s = settings();
    s.max_concurrent_messages = 2;
    s.queue_run_delay = Duration::from_secs(3600); // only kicks and completions
    let (stop, h) = start(&queue, &agent, s);
    wait_until_async("all delivered", || queue_empty(dir.path())).await;
    // The file is removed just before the line is logged.
    wait_until_async("removed lines", || {
        ids.iter()
            .all(|id| !in_process_log_lines(&format!("{id}: removed")).is_empty())
    })
    .await;
    for id in &ids {
        assert_eq!(in_process_log_lines(&format!("{id}: removed")).len(), 1);
    }
    assert_eq!(agent.calls().len(), 10);
    stop.send(()).unwrap();
    h.await.unwrap();
}

#[tokio::test]
async fn delay_warning_is_sent_once() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let id = submit(&queue, &envelope("s@ext.example", &["never@far.example"])).await;
    let agent = Arc::new(FakeAgent::default());
    let mut s = settings();
    s.delay_warning_time = Duration::from_millis(1);
    let (stop, h) = start(&queue, &agent, s);
    wait_until_async("three attempts", || {
        agent.calls().iter().filter(|c| c.id == id).count() >= 3
    })
    .await;
    let notices: Vec<Call> = agent
        .calls()
        .into_iter()
        .filter(|c| c.sender.is_empty())
        .collect();
    assert_eq!(notices.len(), 1, "exactly one delay notice");
    assert_eq!(notices[0].recipients, vec!["s@ext.example"]);
    let text = String::from_utf8_lossy(&notices[0].content).to_string();
    for want in [
        "Subject: Delayed Mail (still being retried)\n",
        "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n",
        "Action: delayed\nStatus: 4.4.1\n",
        "Will-Retry-Until: ",
        "Content-Type: text/rfc822-headers\nContent-Transfer-Encoding: 8bit\n\nReturn-Path: <s@ext.example>\nSubject: test\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(!text.contains("hello"), "delay notices carry headers only");
    assert_eq!(
        in_process_log_lines(&format!("{id}: sender delay notification: ")).len(),
        1
    );
    stop.send(()).unwrap();
    h.await.unwrap();
}

/// Blocks deliveries to `slow.example` until released; counts how many are
/// in progress at once.
#[derive(Default)]
struct SlowAgent {
    release: tokio::sync::Notify,
    released: std::sync::atomic::AtomicBool,
    in_flight: std::sync::atomic::AtomicUsize,
    max_in_flight: std::sync::atomic::AtomicUsize,
    delivered: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl DeliveryAgent for SlowAgent {
    async fn deliver(
        &self,
        msg: &QueuedMessage,
        recipients: &[RoutedRecipient],
    ) -> Vec<DeliveryOutcome> {
        use std::sync::atomic::Ordering::SeqCst;
        let slow = recipients.iter().any(|r| {
            msg.envelope.recipients[r.index]
                .address
                .ends_with("@slow.example")
        });
        if slow {
            let now = self.in_flight.fetch_add(1, SeqCst) + 1;
            self.max_in_flight.fetch_max(now, SeqCst);
            while !self.released.load(SeqCst) {
                let n = self.release.notified();
                if self.released.load(SeqCst) {
                    break;
                }
                n.await;
            }
            self.in_flight.fetch_sub(1, SeqCst);
        }
        recipients
            .iter()
            .map(|r| {
                let i = r.index;
                let addr = msg.envelope.recipients[i].address.clone();
                self.delivered.lock().unwrap().push(addr);
                DeliveryOutcome {
                    recipient: i,
                    status: DeliveryStatus::Sent,
                    agent: "smtp".into(),
                    relay: "mx[127.0.0.1]:25".into(),
                    dsn: "2.0.0".into(),
                    text: "250 ok".into(),
                }
            })
            .collect()
    }
}

#[tokio::test]
async fn slow_destination_does_not_block_others() {
    use std::sync::atomic::Ordering::SeqCst;
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let mut slow_ids = Vec::new();
    for _ in 0..4 {
        slow_ids.push(submit(&queue, &envelope("s@ext.example", &["a@slow.example"])).await);
    }
    // One message to both: its fast recipient must not wait for the slow one.
    let mixed = submit(
        &queue,
        &envelope("s@ext.example", &["b@slow.example", "c@fast.example"]),
    )
    .await;
    let fast = submit(&queue, &envelope("s@ext.example", &["d@fast.example"])).await;
    let agent = Arc::new(SlowAgent::default());
    let mut s = settings();
    s.default_destination_concurrency_limit = 2;
    in_process_log();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let dyn_agent: Arc<dyn DeliveryAgent> = agent.clone();
    let h = tokio::spawn(run_qmgr(queue.clone(), dyn_agent, s, async move {
        let _ = rx.await;
    }));
    wait_until_async("fast recipients delivered", || {
        let d = agent.delivered.lock().unwrap();
        d.contains(&"c@fast.example".to_string()) && d.contains(&"d@fast.example".to_string())
    })
    .await;
    wait_until_async("fast message done", || {
        !in_process_log_lines(&format!("{fast}: removed")).is_empty()
    })
    .await;
    wait_until_async("two slow deliveries in progress", || {
        agent.in_flight.load(SeqCst) == 2
    })
    .await;
    // A message queued now goes through the whole queue manager loop; by
    // the time it is removed a third slow delivery would have started, had
    // the limit not held.
    let probe = submit(&queue, &envelope("s@ext.example", &["e@fast.example"])).await;
    wait_until_async("the probe done", || {
        !in_process_log_lines(&format!("{probe}: removed")).is_empty()
    })
    .await;
    assert_eq!(
        agent.max_in_flight.load(SeqCst),
        2,
        "slow.example limited to 2"
    );
    agent.released.store(true, SeqCst);
    agent.release.notify_waiters();
    wait_until_async("all delivered", || {
        slow_ids
            .iter()
            .chain([&mixed])
            .all(|id| in_process_log_lines(&format!("{id}: removed")).len() == 1)
    })
    .await;
    tx.send(()).unwrap();
    h.await.unwrap();
}

#[tokio::test]
async fn pickup_and_trigger_from_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    // A submission waiting before the server starts.
    let early = Submission {
        uid: 1000,
        time: SystemTime::now(),
        sender: "alice".into(),
        full_name: Some("Alice".into()),
        extract_recipients: true,
        recipients: vec![],
        content: b"To: bob\nBcc: carol@far.example\nSubject: early\n\nx\n".to_vec(),
    };
    assert_eq!(
        queue.send_trigger(&[TriggerRequest::Pickup]),
        TriggerOutcome::SystemDown
    );
    queue.post_to_maildrop(&early).unwrap();
    let agent = Arc::new(FakeAgent::default());
    let (stop, h) = start(&queue, &agent, settings());
    // One delivery request per destination domain.
    wait_until_async("early pickup", || agent.calls().len() == 2).await;
    let calls = agent.calls();
    let call = &calls[0];
    assert_eq!(call.sender, "alice@spec.test");
    let mut rcpts: Vec<String> = calls.iter().flat_map(|c| c.recipients.clone()).collect();
    rcpts.sort();
    assert_eq!(rcpts, vec!["bob@spec.test", "carol@far.example"]);
    let content = String::from_utf8_lossy(&call.content).to_string();
    assert!(!content.contains("Bcc"));
    assert!(content.contains("\nFrom: Alice <alice@spec.test>\n"));

    // Another process (a second Queue handle) drops a file and triggers pickup.
    let other = Queue::open(dir.path()).unwrap();
    wait_until_async("trigger socket", || other.system_running()).await;
    let mut late = early.clone();
    late.extract_recipients = false;
    late.recipients = vec!["dave@far.example".into()];
    other.post_to_maildrop(&late).unwrap();
    assert_eq!(
        other.send_trigger(&[TriggerRequest::Pickup]),
        TriggerOutcome::Delivered
    );
    wait_until_async("late pickup", || agent.calls().len() == 3).await;
    assert_eq!(agent.calls()[2].recipients, vec!["dave@far.example"]);
    assert!(!in_process_log_lines(": uid=1000 from=<alice>").is_empty());
    stop.send(()).unwrap();
    h.await.unwrap();
    assert!(!other.system_running(), "socket removed at shutdown");
}

/// Messages committed while the queue manager runs: each commit announces
/// its id, and a scan of `incoming` (the backlog's) can see files whose
/// delivery task has not moved them yet; each is delivered once, with the
/// content committed (read ahead with its envelope).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_arriving_during_delivery_are_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let agent = Arc::new(FakeAgent::default());
    let (stop, h) = start(&queue, &agent, settings());
    let mut ids = Vec::new();
    for _ in 0..200 {
        ids.push(submit(&queue, &envelope("s@ext.example", &["ok@spec.test"])).await);
    }
    wait_until_async("all delivered", || {
        ids.iter()
            .all(|id| !in_process_log_lines(&format!("{id}: removed")).is_empty())
    })
    .await;
    let calls = agent.calls();
    let mut seen = HashSet::new();
    for call in &calls {
        assert!(seen.insert(call.id.clone()), "{} delivered twice", call.id);
        assert_eq!(call.content, BODY);
    }
    assert_eq!(calls.len(), ids.len());
    stop.send(()).unwrap();
    h.await.unwrap();
}

/// A message this process commits is announced to the manager by id and
/// admitted without a scan of `incoming` (the scan timer is off here, and
/// at most two messages are in flight, so announcements wait in line); a
/// message that another process put into `incoming` is found by the scan
/// its trigger asks for. Each is delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announced_and_scanned_messages_are_each_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let agent = Arc::new(FakeAgent::default());
    let mut s = settings();
    s.max_concurrent_messages = 2;
    s.queue_run_delay = Duration::from_secs(3600);
    let (stop, h) = start(&queue, &agent, s);
    // Past the manager's first scan (at start): from here on only an
    // announcement can admit what this process commits.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ids = Vec::new();
    for _ in 0..30 {
        ids.push(submit(&queue, &envelope("s@ext.example", &["ok@spec.test"])).await);
    }
    let all_removed = |ids: &[QueueId]| {
        ids.iter()
            .all(|id| !in_process_log_lines(&format!("{id}: removed")).is_empty())
    };
    wait_until_async("announced messages delivered", || all_removed(&ids)).await;
    // Another process's queue handle: its commit reaches no manager of
    // its own; the trigger socket tells this one to scan.
    let other = Queue::open(dir.path()).unwrap();
    let foreign = submit(&other, &envelope("s@ext.example", &["ok@spec.test"])).await;
    other.send_trigger(&[TriggerRequest::ScanIncoming]);
    ids.push(foreign);
    wait_until_async("scanned message delivered", || all_removed(&ids)).await;
    let calls = agent.calls();
    let mut seen = HashSet::new();
    for call in &calls {
        assert!(seen.insert(call.id.clone()), "{} delivered twice", call.id);
    }
    assert_eq!(calls.len(), ids.len());
    assert!(queue_empty(dir.path()));
    stop.send(()).unwrap();
    h.await.unwrap();
}

/// A delivery agent that notes in which queue directory each message's
/// file is while it is delivered, and holds every delivery until released.
#[derive(Default)]
struct HeldAgent {
    inner: FakeAgent,
    seen_in: Mutex<Vec<String>>,
    release: tokio::sync::Notify,
    released: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl DeliveryAgent for HeldAgent {
    async fn deliver(
        &self,
        msg: &QueuedMessage,
        recipients: &[RoutedRecipient],
    ) -> Vec<DeliveryOutcome> {
        let dir = msg.path.parent().and_then(|d| d.file_name());
        self.seen_in.lock().unwrap().push(
            dir.map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        assert!(msg.path.exists(), "the file is where the delivery is told");
        while !self.released.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = tokio::time::timeout(Duration::from_millis(20), self.release.notified()).await;
        }
        self.inner.deliver(msg, recipients).await
    }
}

/// A new message is delivered from `incoming`, where it was committed (no
/// rename into `active` per message); scans of `incoming` while it is
/// being delivered do not admit it again; once delivered it is removed,
/// and one that must wait goes from `incoming` to `deferred`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_message_is_delivered_from_incoming_and_scans_do_not_admit_it_twice() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let agent = Arc::new(HeldAgent::default());
    in_process_log();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let dyn_agent: Arc<dyn DeliveryAgent> = agent.clone();
    let h = tokio::spawn(run_qmgr(queue.clone(), dyn_agent, settings(), async move {
        let _ = rx.await;
    }));
    let sent = submit(&queue, &envelope("s@ext.example", &["ok@spec.test"])).await;
    let waits = submit(&queue, &envelope("s@ext.example", &["never@spec.test"])).await;
    wait_until_async("both in delivery", || {
        agent.seen_in.lock().unwrap().len() == 2
    })
    .await;
    assert_eq!(files(dir.path(), "active"), Vec::<String>::new());
    let mut incoming = vec![sent.to_string(), waits.to_string()];
    incoming.sort();
    assert_eq!(files(dir.path(), "incoming"), incoming);
    for _ in 0..3 {
        queue.kick();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    agent
        .released
        .store(true, std::sync::atomic::Ordering::SeqCst);
    agent.release.notify_waiters();
    wait_until_async("delivered and deferred", || {
        !in_process_log_lines(&format!("{sent}: removed")).is_empty()
            && files(dir.path(), "deferred") == vec![waits.to_string()]
    })
    .await;
    assert_eq!(*agent.seen_in.lock().unwrap(), ["incoming", "incoming"]);
    assert_eq!(agent.inner.calls().len(), 2, "each delivered once");
    assert_eq!(files(dir.path(), "incoming"), Vec::<String>::new());
    assert_eq!(files(dir.path(), "active"), Vec::<String>::new());
    tx.send(()).unwrap();
    h.await.unwrap();
}
