//! Operator queue tools against a running server: `gatepost
//! queue list` in mailq's exact layout with a deferred message and its
//! reason, then hold, release, requeue, show and delete through the CLI,
//! with postsuper's wording on stderr and in the maillog.

use std::process::{Command, Output};
use std::time::SystemTime;

use gatepost_testkit::{gatepost_bin, wait_until, TestServer, EVENT_TIMEOUT};

fn cli(srv: &TestServer, args: &[&str]) -> Output {
    Command::new(gatepost_bin!())
        .arg("-c")
        .arg(srv.path())
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

fn submit(srv: &TestServer, rcpt: &str) -> String {
    gatepost_testkit::submit(
        srv,
        "c.example",
        "alice@example.org",
        &[rcpt],
        "Subject: queued\n\nbody",
    )
}

fn deferrals(srv: &TestServer, id: &str) -> usize {
    srv.log()
        .lines()
        .filter(|l| {
            l.contains(&format!("{id}: to=<x@slow.example>"))
                && l.contains("status=deferred (remote server busy)")
        })
        .count()
}

fn in_queue(srv: &TestServer, q: &str, id: &str) -> bool {
    srv.path().join("spool").join(q).join(id).exists()
}

#[test]
fn mailq_layout_and_postsuper_commands() {
    let srv = TestServer::start(
        gatepost_bin!(),
        "transport_maps = inline:{ { slow.example = retry:4.4.1 remote server busy } }\n\
         queue_run_delay = 60s\nminimal_backoff_time = 60s\nmaximal_backoff_time = 60s",
    )
    .unwrap();
    // Drop the base timers the test overrides, so the CLI reads main.cf
    // without "overriding earlier entry" warnings.
    srv.edit_main_cf("queue_run_delay = 1s\n", "");
    srv.edit_main_cf("minimal_backoff_time = 1s\n", "");
    srv.edit_main_cf("maximal_backoff_time = 2s\n", "");
    let id = submit(&srv, "x@slow.example");
    wait_until("first deferral", || {
        deferrals(&srv, &id) == 1 && in_queue(&srv, "deferred", &id)
    });

    // mailq layout, exactly.
    let out = cli(&srv, &["queue", "list"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "", "server is running: no warning");
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    assert_eq!(
        lines[0],
        "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------"
    );
    let head = lines[1];
    assert_eq!(&head[..12], format!("{id:<11} "));
    let size: u64 = head[12..19].trim().parse().unwrap();
    assert!(size > 100, "{head}");
    assert_eq!(&head[19..20], " ");
    assert_eq!(&head[40..], " alice@example.org");
    // showq: "%*s(%s)" with padding = 76 - strlen(reason).
    let reason = "remote server busy";
    assert_eq!(
        lines[2],
        format!("{}({reason})", " ".repeat(76 - reason.len()))
    );
    assert_eq!(lines[3], format!("{}x@slow.example", " ".repeat(41)));
    assert_eq!(lines[4], "");
    assert_eq!(lines[5], "-- 0 Kbytes in 1 Request.");
    // `gatepost mailq` is the same listing.
    assert_eq!(text(&cli(&srv, &["mailq"]).stdout), stdout);

    // hold: shown with "!", never retried.
    let out = cli(&srv, &["queue", "hold", &id]);
    assert_eq!(
        text(&out.stderr),
        format!("postsuper: {id}: placed on hold\npostsuper: Placed on hold: 1 message\n")
    );
    assert!(text(&cli(&srv, &["queue", "list"]).stdout).contains(&format!("{id}!")));

    // release: back to deferred.
    // With ALL, postsuper prints only the summary.
    let out = cli(&srv, &["queue", "release", "ALL"]);
    assert_eq!(
        text(&out.stderr),
        "postsuper: Released from hold: 1 message\n"
    );
    // As Postfix: the message keeps its scheduled retry (60 s away here):
    // its deferred file still carries a time in the future ...
    wait_until("back in deferred", || in_queue(&srv, "deferred", &id));
    let due = std::fs::metadata(srv.path().join("spool/deferred").join(&id))
        .and_then(|m| m.modified())
        .unwrap();
    assert!(due > SystemTime::now(), "release must keep the retry time");
    // ... and a message queued after the release goes through the queue
    // manager while this one is not retried.
    let probe = gatepost_testkit::submit(
        &srv,
        "c.example",
        "alice@example.org",
        &["bob@spec.test"],
        "Subject: probe\n\nbody",
    );
    assert!(srv.wait_for_log(&format!("{probe}: removed"), EVENT_TIMEOUT));
    assert_eq!(deferrals(&srv, &id), 1, "release must not retry at once");

    // requeue: straight to incoming and retried at once.
    let out = cli(&srv, &["queue", "requeue", &id]);
    assert_eq!(
        text(&out.stderr),
        format!("postsuper: {id}: requeued\npostsuper: Requeued: 1 message\n")
    );
    wait_until("retry after requeue", || {
        deferrals(&srv, &id) == 2 && in_queue(&srv, "deferred", &id)
    });

    // flush: the qmgr retries deferred mail now.
    let out = cli(&srv, &["queue", "flush"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "");
    wait_until("retry after flush", || {
        deferrals(&srv, &id) == 3 && in_queue(&srv, "deferred", &id)
    });

    // show: postcat's layout.
    let out = cli(&srv, &["queue", "show", &id]);
    let shown = text(&out.stdout);
    let tag = format!("deferred/{id}");
    assert!(
        shown.starts_with(&format!("*** ENVELOPE RECORDS {tag} ***\n")),
        "{shown}"
    );
    assert!(shown.contains("sender: alice@example.org\n"));
    assert!(shown.contains("recipient: x@slow.example\ndefer_reason: 4.4.1 (remote server busy)\n"));
    assert!(shown.contains(&format!(
        "*** MESSAGE CONTENTS {tag} ***\nReceived: from c.example"
    )));
    assert!(shown.ends_with(&format!(
        "*** HEADER EXTRACTED {tag} ***\n*** MESSAGE FILE END {tag} ***\n"
    )));
    let missing = cli(&srv, &["queue", "show", "ABCDEF12345"]);
    assert_eq!(missing.status.code(), Some(1));

    // delete ALL.
    let out = cli(&srv, &["queue", "delete", "ALL"]);
    assert_eq!(text(&out.stderr), "postsuper: Deleted: 1 message\n");
    assert_eq!(
        text(&cli(&srv, &["queue", "list"]).stdout),
        "Mail queue is empty\n"
    );
    let log = srv.log();
    for want in [
        format!("postsuper[{}", ""),
        format!(": {id}: placed on hold"),
        format!(": {id}: released from hold"),
        format!(": {id}: requeued"),
        format!(": {id}: removed"),
    ] {
        assert!(log.contains(&want), "maillog lacks {want:?}:\n{log}");
    }
}

#[test]
fn tools_work_while_the_server_is_down() {
    let mut srv = TestServer::start(gatepost_bin!(), "").unwrap();
    srv.kill_hard();
    let out = cli(&srv, &["queue", "list"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stderr),
        "postqueue: warning: Mail system is down -- accessing queue directly\n"
    );
    assert_eq!(text(&out.stdout), "Mail queue is empty\n");
    // As Postfix: flushing needs the mail system (EX_UNAVAILABLE).
    let out = cli(&srv, &["queue", "flush"]);
    assert_eq!(out.status.code(), Some(69));
    assert_eq!(
        text(&out.stderr),
        "postqueue: fatal: Cannot flush mail queue - mail system is down\n"
    );
    // postsuper always reports, even 0 messages, and only warns about a bad id.
    let out = cli(&srv, &["queue", "delete", "ABCDEF12345", "bad/id"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stderr),
        "postsuper: warning: invalid mail queue id: bad/id\npostsuper: Deleted: 0 messages\n"
    );
}
