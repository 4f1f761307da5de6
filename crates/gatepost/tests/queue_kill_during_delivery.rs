//! Durability during delivery: the server is killed (SIGKILL) while it delivers one message to
//! many recipients; after restart every recipient has the message, and no
//! recipient has it more than twice (a duplicate only where the kill fell
//! between a delivery and its durable record).

use std::time::Duration;

use gatepost_testkit::{Client, TestServer};

fn bin() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_gatepost"))
}

#[test]
fn kill_during_delivery_loses_no_recipient() {
    let srv = TestServer::start(bin(), "").unwrap();
    let users: Vec<String> = (0..40).map(|i| format!("user{i}")).collect();
    let mut c = Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO c.example").unwrap();
    assert_eq!(
        c.command("MAIL FROM:<alice@example.org>").unwrap().code,
        250
    );
    for u in &users {
        assert_eq!(
            c.command(&format!("RCPT TO:<{u}@spec.test>")).unwrap().code,
            250
        );
    }
    let r = c.send_message("Subject: fan-out\n\nto many").unwrap();
    assert!(
        r.last_line().starts_with("250 2.0.0 Ok: queued as"),
        "{r:?}"
    );
    let id = r.last_line().rsplit(' ').next().unwrap().to_string();
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
