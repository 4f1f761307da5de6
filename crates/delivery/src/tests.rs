//! End-to-end tests of the dispatcher and agents: a real `Config` from
//! main.cf text, a real queue, rewriter and tables, mailboxes in a temp dir.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use gatepost_qmgr::{
    DeliveryAgent, DeliveryOutcome, DeliveryStatus, Destination, QueuedMessage, RoutedRecipient,
};
use gatepost_queue::{Envelope, EnvelopeRecipient, QueueName};

use super::*;

const BODY: &[u8] = b"Subject: test\nFrom: alice@remote.example\n\nFrom the beginning\nline two\n";

struct Harness {
    dir: tempfile::TempDir,
    queue: Arc<Queue>,
    agent: Dispatcher,
    /// The queue manager's resolver (with `transport_maps`).
    resolver: Rewriter,
}

/// Resolve recipients as the queue manager does before calling the agent.
fn route(resolver: &Rewriter, rcpts: &[&str]) -> Vec<RoutedRecipient> {
    rcpts
        .iter()
        .enumerate()
        .map(|(index, addr)| {
            let r = resolver.resolve(addr).unwrap();
            RoutedRecipient {
                index,
                destination: Destination {
                    transport: r.transport,
                    nexthop: r.nexthop,
                    recipient: r.recipient,
                },
            }
        })
        .collect()
}

impl Harness {
    /// `extra` main.cf lines may use `{d}` for the temp dir.
    fn new(extra: &str, aliases: &str) -> Harness {
        Harness::with_master_cf(extra, aliases, "")
    }

    /// With `master_cf` text too (`{d}` for the temp dir).
    fn with_master_cf(extra: &str, aliases: &str, master_cf: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        // Commands run as `nobody` when the tests run as root.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::write(dir.path().join("aliases"), aliases).unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(
            &passwd,
            format!(
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
                 homer:x:4242:4242:Homer:{d}/home/homer:/bin/sh\n"
            ),
        )
        .unwrap();
        let main_cf = format!(
            "queue_directory = {d}/queue\n\
             mail_spool_directory = {d}/mail\n\
             myhostname = mx.example.com\n\
             mydomain = example.com\n\
             myorigin = example.com\n\
             mydestination = example.com, localhost\n\
             alias_maps = texthash:{d}/aliases\n\
             local_recipient_maps =\n\
             local_mailbox_for_unknown_users = yes\n\
             recipient_delimiter = +\n\
             virtual_mailbox_domains = virtual.example\n\
             virtual_mailbox_maps = inline:{{ alice@virtual.example=virtual.example/alice/, bob@virtual.example=virtual.example/bob }}\n\
             virtual_mailbox_base = {d}/vmail\n\
             transport_maps = inline:{{ discard.example=discard:, {{ error.example = error:5.7.1 go away }} }}\n\
             {}\n",
            extra.replace("{d}", &d)
        );
        let mut cfg = Config::parse_main_cf(&main_cf, "main.cf").unwrap();
        if !master_cf.is_empty() {
            cfg.apply_master_cf_text(&master_cf.replace("{d}", &d), "master.cf")
                .unwrap();
        }
        let queue = Queue::open(&dir.path().join("queue")).unwrap();
        let rewriter = Arc::new(Rewriter::from_config(&cfg).unwrap());
        let agent = build_with_passwd(&cfg, &passwd, Arc::clone(&queue), rewriter);
        let resolver = Rewriter::from_config(&cfg)
            .unwrap()
            .with_transport_maps(&cfg);
        Harness {
            dir,
            queue,
            agent,
            resolver,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    async fn submit(&self, sender: &str, rcpts: &[&str], content: &[u8]) -> QueuedMessage {
        let mut writer = self.queue.new_message().unwrap();
        writer.write_content(content).unwrap();
        writer.set_client_facts(gatepost_queue::ClientFacts {
            name: "client.example".into(),
            address: "192.0.2.1".into(),
            port: "40000".into(),
            helo: "helo.example".into(),
            protocol: "ESMTP".into(),
            sasl_method: "PLAIN".into(),
            sasl_username: "alice".into(),
            sasl_sender: String::new(),
        });
        let envelope = Envelope {
            sender: sender.to_string(),
            recipients: rcpts.iter().map(|r| EnvelopeRecipient::new(r)).collect(),
            arrival: SystemTime::now(),
            client: "localhost[127.0.0.1]".to_string(),
            ret: None,
            envid: None,
            filter: None,
        };
        let id = writer.commit(&envelope).await.unwrap();
        let path = self.queue.path_of(QueueName::Incoming, &id);
        QueuedMessage {
            id,
            envelope,
            path,
            preloaded: Default::default(),
        }
    }

    async fn deliver(&self, sender: &str, rcpts: &[&str], content: &[u8]) -> Vec<DeliveryOutcome> {
        let msg = self.submit(sender, rcpts, content).await;
        let routed = route(&self.resolver, rcpts);
        let outcomes = self.agent.deliver(&msg, &routed).await;
        assert_eq!(outcomes.len(), rcpts.len());
        for (i, o) in outcomes.iter().enumerate() {
            assert_eq!(o.recipient, i);
        }
        outcomes
    }
}

/// (status, agent, relay, dsn, text)
type Expect<'a> = (DeliveryStatus, &'a str, &'a str, &'a str, &'a str);

fn summary(o: &DeliveryOutcome) -> Expect<'_> {
    (
        o.status.clone(),
        o.agent.as_str(),
        o.relay.as_str(),
        o.dsn.as_str(),
        o.text.as_str(),
    )
}

/// Contents of the messages in a Maildir's `new/`.
fn maildir_messages(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("new"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

const ALIASES: &str = "\
team: bob, carol
selfish: selfish, carol
fwd: someone@far.example
fail: \"|true; exit 67\"
later: \"|true; exit 75\"
ping: pong
pong: ping
partial: bob, \"|true; exit 75\"
";

#[tokio::test]
async fn outcome_table() {
    use DeliveryStatus::*;
    // Remote mail goes to a relayhost on a closed loopback port.
    let h = Harness::new("relayhost = [127.0.0.1]:9", ALIASES);
    let cases: Vec<(&str, Expect<'_>)> = vec![
        (
            "bob@example.com",
            (Sent, "local", "local", "2.0.0", "delivered to mailbox"),
        ),
        (
            "Bob+news@example.com",
            (Sent, "local", "local", "2.0.0", "delivered to mailbox"),
        ),
        (
            "team@example.com",
            (Sent, "local", "local", "2.0.0", "delivered to mailbox"),
        ),
        (
            "x@discard.example",
            (Sent, "discard", "none", "2.0.0", "discarded"),
        ),
        (
            "x@error.example",
            (Bounced, "error", "none", "5.7.1", "go away"),
        ),
        (
            "x@far.example",
            (
                Deferred,
                "smtp",
                "none",
                "4.4.1",
                "connect to 127.0.0.1[127.0.0.1]:9: Connection refused",
            ),
        ),
        (
            "fail@example.com",
            (Bounced, "local", "local", "5.1.1", "user unknown"),
        ),
        (
            "later@example.com",
            (Deferred, "local", "local", "4.3.0", "temporary failure"),
        ),
        (
            "partial@example.com",
            (Deferred, "local", "local", "4.3.0", "temporary failure"),
        ),
        (
            "ping@example.com",
            (
                Bounced,
                "local",
                "local",
                "5.4.6",
                "recipient nesting limit exceeded",
            ),
        ),
        (
            "alice@virtual.example",
            (Sent, "virtual", "virtual", "2.0.0", "delivered to maildir"),
        ),
        (
            "bob@virtual.example",
            (Sent, "virtual", "virtual", "2.0.0", "delivered to mailbox"),
        ),
        (
            "carol@virtual.example",
            (
                Bounced,
                "virtual",
                "virtual",
                "5.1.1",
                "unknown user: \"carol@virtual.example\"",
            ),
        ),
    ];
    for (rcpt, want) in cases {
        let outcomes = h.deliver("alice@remote.example", &[rcpt], BODY).await;
        assert_eq!(summary(&outcomes[0]), want, "{rcpt}");
    }
}

#[tokio::test]
async fn unknown_users_with_local_recipient_maps() {
    use DeliveryStatus::*;
    let h = Harness::new("local_recipient_maps = inline:{ listed=1 }", "");
    let cases: Vec<(&str, Expect<'_>)> = vec![
        (
            "nosuch@example.com",
            (
                Bounced,
                "local",
                "local",
                "5.1.1",
                "unknown user: \"nosuch\"",
            ),
        ),
        (
            "listed@example.com",
            (Sent, "local", "local", "2.0.0", "delivered to mailbox"),
        ),
        (
            "homer@example.com",
            (Sent, "local", "local", "2.0.0", "delivered to mailbox"),
        ),
        (
            "Postmaster@example.com",
            (Sent, "local", "local", "2.0.0", "discarded"),
        ),
    ];
    for (rcpt, want) in cases {
        let outcomes = h.deliver("alice@remote.example", &[rcpt], BODY).await;
        assert_eq!(summary(&outcomes[0]), want, "{rcpt}");
    }
    assert!(!h.path("mail/nosuch").exists());
    assert!(h.path("mail/listed").exists());
}

#[tokio::test]
async fn mbox_delivery_format() {
    let h = Harness::new("", "");
    let outcomes = h
        .deliver(
            "alice@remote.example",
            &["bob@example.com", "bob+x@example.com"],
            BODY,
        )
        .await;
    assert!(
        outcomes.iter().all(|o| o.status == DeliveryStatus::Sent),
        "{outcomes:?}"
    );
    let mbox = std::fs::read_to_string(h.path("mail/bob")).unwrap();
    let messages: Vec<&str> = mbox.split("\n\nFrom alice@remote.example  ").collect();
    assert_eq!(messages.len(), 2, "{mbox}");
    let first_line = mbox.lines().next().unwrap();
    assert!(
        first_line.starts_with("From alice@remote.example  "),
        "{first_line}"
    );
    assert_eq!(first_line.len(), "From alice@remote.example  ".len() + 24);
    assert!(
        mbox.contains(
            "\nReturn-Path: <alice@remote.example>\nX-Original-To: bob@example.com\nDelivered-To: bob@example.com\n\
             Subject: test\nFrom: alice@remote.example\n\n>From the beginning\nline two\n\n"
        ),
        "{mbox}"
    );
    assert!(
        mbox.contains("X-Original-To: bob+x@example.com\nDelivered-To: bob+x@example.com\n"),
        "{mbox}"
    );
    assert!(mbox.ends_with("line two\n\n"));
    assert!(!h.path("mail/bob.lock").exists());
}

#[tokio::test]
async fn maildir_spool_and_null_sender() {
    let h = Harness::new("mail_spool_directory = {d}/maildirs/", "");
    let outcomes = h.deliver("", &["bob@example.com"], BODY).await;
    assert_eq!(
        summary(&outcomes[0]),
        (
            DeliveryStatus::Sent,
            "local",
            "local",
            "2.0.0",
            "delivered to maildir"
        )
    );
    let msgs = maildir_messages(&h.path("maildirs/bob"));
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].starts_with(
        "Return-Path: <>\nX-Original-To: bob@example.com\nDelivered-To: bob@example.com\nSubject: test\n"
    ));
    assert!(
        msgs[0].contains("\n\nFrom the beginning\n"),
        "no >From quoting in Maildir"
    );
    for sub in ["tmp", "cur"] {
        assert!(h.path("maildirs/bob").join(sub).is_dir());
    }
}

#[tokio::test]
async fn home_mailbox_maildir_for_passwd_user() {
    let h = Harness::new("home_mailbox = Maildir/", "");
    std::fs::create_dir_all(h.path("home/homer")).unwrap();
    let outcomes = h
        .deliver("alice@remote.example", &["homer@example.com"], BODY)
        .await;
    assert_eq!(outcomes[0].text, "delivered to maildir", "{outcomes:?}");
    let md = h.path("home/homer/Maildir");
    let msgs = maildir_messages(&md);
    assert_eq!(msgs.len(), 1);
    if privs::running_as_root() {
        let file = std::fs::read_dir(md.join("new"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        assert_eq!(std::fs::metadata(file).unwrap().uid(), 4242);
        assert_eq!(std::fs::metadata(&md).unwrap().uid(), 4242);
    }
    // Without a password entry the spool is used (embedded mode).
    let outcomes = h
        .deliver("alice@remote.example", &["marge@example.com"], BODY)
        .await;
    assert_eq!(outcomes[0].text, "delivered to mailbox");
    assert!(h.path("mail/marge").is_file());
}

#[tokio::test]
async fn alias_to_two_local_users_and_self_reference() {
    let h = Harness::new("", ALIASES);
    let outcomes = h
        .deliver(
            "alice@remote.example",
            &["team@example.com", "selfish@example.com"],
            BODY,
        )
        .await;
    assert!(
        outcomes.iter().all(|o| o.status == DeliveryStatus::Sent),
        "{outcomes:?}"
    );
    let bob = std::fs::read_to_string(h.path("mail/bob")).unwrap();
    assert!(
        bob.contains("X-Original-To: team@example.com\nDelivered-To: team@example.com\n"),
        "{bob}"
    );
    let carol = std::fs::read_to_string(h.path("mail/carol")).unwrap();
    assert_eq!(carol.matches("\nReturn-Path: ").count(), 2, "{carol}");
    assert!(carol.contains("Delivered-To: selfish@example.com\n"));
    assert!(
        h.path("mail/selfish").is_file(),
        "an alias naming itself delivers to the user"
    );
    assert!(!h.path("mail/team").exists());
}

#[tokio::test]
async fn alias_to_command() {
    let h = Harness::new("", "");
    let out = h.path("out/cmd.txt");
    std::fs::write(
        h.path("aliases"),
        format!("pipe: \"|cat > {}\"\n", out.display()),
    )
    .unwrap();
    // texthash is read when opened: rebuild the agent with the new file.
    let h = Harness {
        agent: rebuild(&h),
        ..h
    };
    let outcomes = h
        .deliver("alice@remote.example", &["pipe@example.com"], BODY)
        .await;
    assert_eq!(
        summary(&outcomes[0]),
        (
            DeliveryStatus::Sent,
            "local",
            "local",
            "2.0.0",
            format!("delivered to command: cat > {}", out.display()).as_str()
        )
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("From alice@remote.example  "), "{text}");
    assert!(text.contains(
        "\nReturn-Path: <alice@remote.example>\nX-Original-To: pipe@example.com\nDelivered-To: pipe@example.com\n\
         Subject: test\nFrom: alice@remote.example\n\nFrom the beginning\nline two\n"
    ), "{text}");

    let h = Harness::new("allow_mail_to_commands = forward", "pipe: \"|cat\"\n");
    let outcomes = h
        .deliver("alice@remote.example", &["pipe@example.com"], BODY)
        .await;
    assert_eq!(
        summary(&outcomes[0]),
        (
            DeliveryStatus::Bounced,
            "local",
            "local",
            "5.7.1",
            "mail to command is restricted"
        )
    );
}

/// Rebuild a harness's agent from its (possibly changed) files.
fn rebuild(h: &Harness) -> Dispatcher {
    let d = h.dir.path().display().to_string();
    let main_cf = format!(
        "queue_directory = {d}/queue\nmail_spool_directory = {d}/mail\nmyhostname = mx.example.com\n\
         mydomain = example.com\nmyorigin = example.com\nmydestination = example.com, localhost\n\
         alias_maps = texthash:{d}/aliases\nlocal_recipient_maps =\nlocal_mailbox_for_unknown_users = yes\n"
    );
    let cfg = Config::parse_main_cf(&main_cf, "main.cf").unwrap();
    let rewriter = Arc::new(Rewriter::from_config(&cfg).unwrap());
    build_with_passwd(&cfg, &h.path("passwd"), Arc::clone(&h.queue), rewriter)
}

#[tokio::test]
async fn alias_to_file() {
    let h = Harness::new("", "");
    std::fs::write(
        h.path("aliases"),
        format!("archive: {}/out/archive, bob\n", h.dir.path().display()),
    )
    .unwrap();
    let h = Harness {
        agent: rebuild(&h),
        ..h
    };
    let outcomes = h
        .deliver("alice@remote.example", &["archive@example.com"], BODY)
        .await;
    assert_eq!(outcomes[0].status, DeliveryStatus::Sent, "{outcomes:?}");
    let archive = h.path("out/archive");
    assert_eq!(
        outcomes[0].text,
        format!(
            "{0}: delivered to file: {0}; bob@example.com: delivered to mailbox",
            archive.display()
        )
    );
    let text = std::fs::read_to_string(&archive).unwrap();
    assert!(
        text.contains("Delivered-To: archive@example.com\nSubject: test\n"),
        "{text}"
    );
    assert!(text.ends_with("line two\n\n"));
}

#[tokio::test]
async fn forwarding_loop_bounces() {
    let h = Harness::new("", ALIASES);
    let looped = b"Delivered-To: bob@example.com\nSubject: loop\n\nbody\n";
    let outcomes = h
        .deliver(
            "alice@remote.example",
            &["bob@example.com", "team@example.com"],
            looped,
        )
        .await;
    assert_eq!(
        summary(&outcomes[0]),
        (
            DeliveryStatus::Bounced,
            "local",
            "local",
            "5.4.6",
            "mail forwarding loop for bob@example.com"
        )
    );
    // team expands to bob (loop, bounced) and carol (delivered): bounce wins.
    assert_eq!(outcomes[1].status, DeliveryStatus::Bounced);
    assert!(h.path("mail/carol").is_file());
    assert!(!h.path("mail/bob").exists());
    let virt = b"Delivered-To: Alice@Virtual.Example\n\nbody\n";
    let outcomes = h.deliver("", &["alice@virtual.example"], virt).await;
    assert_eq!(outcomes[0].dsn, "5.4.6");
}

#[tokio::test]
async fn forward_resubmits_through_the_queue() {
    let h = Harness::new("", ALIASES);
    let outcomes = h
        .deliver("alice@remote.example", &["fwd@example.com"], BODY)
        .await;
    let o = &outcomes[0];
    assert_eq!(
        (o.status.clone(), o.dsn.as_str()),
        (DeliveryStatus::Sent, "2.0.0"),
        "{o:?}"
    );
    let new_id = o
        .text
        .strip_prefix("forwarded as ")
        .expect("forwarded text");
    let entries = h.queue.list().unwrap();
    let entry = entries
        .iter()
        .find(|e| e.id.to_string() == new_id)
        .expect("forwarded message queued");
    assert_eq!(entry.sender, "alice@remote.example");
    assert_eq!(
        entry
            .recipients
            .iter()
            .map(|r| r.address.as_str())
            .collect::<Vec<_>>(),
        vec!["someone@far.example"]
    );
    let copy = QueuedMessage {
        id: entry.id.clone(),
        envelope: h.submit("x@y", &["z@example.com"], b"x\n").await.envelope,
        path: h.queue.path_of(entry.queue, &entry.id),
        preloaded: Default::default(),
    };
    let content = String::from_utf8(copy.read_content().unwrap()).unwrap();
    assert!(
        content.starts_with(&format!(
            "Received: by mx.example.com (Postfix)\n\tid {new_id}; "
        )),
        "{content}"
    );
    assert!(
        content.contains("\nDelivered-To: fwd@example.com\nSubject: test\n"),
        "{content}"
    );
}

#[tokio::test]
async fn unavailable_alias_database_defers() {
    let h = Harness::new("alias_maps = texthash:{d}/missing-aliases", "");
    let outcomes = h
        .deliver("alice@remote.example", &["bob@example.com"], BODY)
        .await;
    assert_eq!(
        summary(&outcomes[0]),
        (
            DeliveryStatus::Deferred,
            "local",
            "local",
            "4.3.0",
            "alias database unavailable"
        )
    );
}

#[tokio::test]
async fn build_agent_from_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let cfg = Config::parse_main_cf(
        &format!("queue_directory = {d}/queue\nmail_spool_directory = {d}/mail/\nmydestination = localhost\nalias_maps =\nlocal_recipient_maps =\nlocal_mailbox_for_unknown_users = yes\n"),
        "main.cf",
    )
    .unwrap();
    let queue = Queue::open(&dir.path().join("queue")).unwrap();
    let rewriter = Arc::new(Rewriter::from_config(&cfg).unwrap());
    let routed = route(&rewriter, &["someuser@localhost"]);
    let agent = build_agent(&cfg, Arc::clone(&queue), rewriter, None).unwrap();
    let mut writer = queue.new_message().unwrap();
    writer.write_content(BODY).unwrap();
    let envelope = Envelope {
        sender: "a@remote.example".into(),
        recipients: vec![EnvelopeRecipient::new("someuser@localhost")],
        arrival: SystemTime::now(),
        client: "local".into(),
        ret: None,
        envid: None,
        filter: None,
    };
    let id = writer.commit(&envelope).await.unwrap();
    let path = queue.path_of(QueueName::Incoming, &id);
    let outcomes = agent
        .deliver(
            &QueuedMessage {
                id,
                envelope,
                path,
                preloaded: Default::default(),
            },
            &routed,
        )
        .await;
    assert_eq!(outcomes[0].text, "delivered to maildir", "{outcomes:?}");
    assert_eq!(maildir_messages(&dir.path().join("mail/someuser")).len(), 1);

    let mut bad = cfg.clone();
    bad.set("virtual_mailbox_base", "relative/path");
    let queue2 = Queue::open(&dir.path().join("queue")).unwrap();
    let rewriter2 = Arc::new(Rewriter::from_config(&cfg).unwrap());
    assert!(matches!(
        build_agent(&bad, queue2, rewriter2, None),
        Err(DeliveryError::Config(_))
    ));
}

mod commands;
mod local_transport;
mod pipe;
mod unknown;
