//! Durability: a message that got `250` survives `kill -9` of the server at
//! any moment and is delivered after restart (at least once; a duplicate
//! only where the kill fell between delivery and its record).

use std::time::Duration;

use gatepost_testkit::{gatepost_bin, submit, TestServer};

fn send(srv: &TestServer, subject: &str) -> String {
    submit(
        srv,
        "c.example",
        "alice@example.org",
        &["bob@spec.test"],
        &format!("Subject: {subject}\n\nbody of {subject}"),
    )
}

#[test]
fn queued_message_is_delivered_after_kill_and_restart() {
    // First life: spec.test is not a local domain, so the message waits in
    // the queue (outbound SMTP defers it).
    let srv = TestServer::start(gatepost_bin!(), "mydestination = $myhostname, localhost").unwrap();
    let id = send(&srv, "survivor");
    assert!(srv.wait_for_log(&format!("{id}: to=<bob@spec.test>"), Duration::from_secs(5)));
    assert!(srv.maildir_messages("bob").is_empty());
    // Second life: the same queue, now with spec.test local.
    srv.edit_main_cf("mydestination = $myhostname, localhost\n", "");
    let srv = srv.restart().unwrap();
    let mail = srv.wait_for_mail("bob", 1, Duration::from_secs(10));
    assert_eq!(mail.len(), 1, "log:\n{}", srv.log());
    assert!(mail[0].contains("Subject: survivor"));
    assert!(srv.wait_for_log(&format!("{id}: removed"), Duration::from_secs(5)));
}

#[test]
fn kill_right_after_250_loses_nothing() {
    let srv = TestServer::start(gatepost_bin!(), "").unwrap();
    let subjects: Vec<String> = (0..20).map(|i| format!("msg-{i}")).collect();
    for s in &subjects {
        send(&srv, s);
    }
    // Kill the instant the last 250 arrived, whatever the queue manager was doing.
    let srv = srv.restart().unwrap();
    // Wait for every subject (a copy delivered twice must not end the wait).
    let has =
        |mail: &[String], s: &str| mail.iter().any(|m| m.contains(&format!("Subject: {s}\n")));
    let start = std::time::Instant::now();
    let mut mail = srv.maildir_messages("bob");
    while !subjects.iter().all(|s| has(&mail, s)) && start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(20));
        mail = srv.maildir_messages("bob");
    }
    for s in &subjects {
        let copies = mail
            .iter()
            .filter(|m| m.contains(&format!("Subject: {s}\n")))
            .count();
        assert!(copies >= 1, "{s} lost; log:\n{}", srv.log());
        assert!(copies <= 2, "{s} delivered {copies} times");
    }
}
