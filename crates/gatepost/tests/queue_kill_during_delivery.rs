//! Durability during delivery: the server is killed (SIGKILL) while it delivers one message to
//! many recipients; after restart every recipient has the message, and no
//! recipient has it more than twice (a duplicate only where the kill fell
//! between a delivery and its durable record).

use std::time::Duration;

use gatepost_testkit::{gatepost_bin, submit, TestServer};

#[test]
fn kill_during_delivery_loses_no_recipient() {
    let srv = TestServer::start(gatepost_bin!(), "").unwrap();
    let users: Vec<String> = (0..40).map(|i| format!("user{i}")).collect();
    let rcpts: Vec<String> = users.iter().map(|u| format!("{u}@spec.test")).collect();
    let rcpts: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    let id = submit(
        &srv,
        "c.example",
        "alice@example.org",
        &rcpts,
        "Subject: fan-out\n\nto many",
    );
    // Kill as soon as the first recipient is delivered.
    assert!(srv.wait_for_log(&format!("{id}: to=<"), Duration::from_secs(10)));
    let srv = srv.restart().unwrap();
    assert!(
        srv.wait_for_log(&format!("{id}: removed"), Duration::from_secs(15)),
        "log:\n{}",
        srv.log()
    );
    let log = srv.log();
    let second_life = log.rsplit("daemon started").next().unwrap_or("");
    eprintln!(
        "delivered after restart: {}",
        second_life.matches("status=sent").count()
    );
    for u in &users {
        let n = srv.maildir_messages(u).len();
        assert!(n >= 1, "{u} lost the message; log:\n{}", srv.log());
        assert!(n <= 2, "{u} got {n} copies");
    }
}
