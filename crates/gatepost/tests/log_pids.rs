//! Each SMTP session and each delivery logs under a PID of its own, as
//! Postfix's smtpd and delivery agent processes do, so that log tools that
//! pair `connect from` with `disconnect from` by PID (pflogsumm) count
//! overlapping sessions right.

use std::collections::BTreeSet;
use std::time::Duration;

use gatepost_testkit::{gatepost_bin, Client, TestServer};

/// The PID in `NAME/PROGRAM[PID]: ` of a log line.
fn pid_of(line: &str, program: &str) -> Option<u32> {
    let tag = format!("/{program}[");
    let start = line.find(&tag)? + tag.len();
    let end = start + line[start..].find(']')?;
    line[start..end].parse().ok()
}

/// The PIDs of the smtpd lines about `client` (`[127.0.0.x]`).
fn smtpd_pids(log: &str, client: &str) -> BTreeSet<u32> {
    log.lines()
        .filter(|l| l.contains(client))
        .filter_map(|l| pid_of(l, "smtpd"))
        .collect()
}

#[test]
fn overlapping_sessions_log_under_different_pids() {
    let srv = TestServer::start(gatepost_bin!(), "").unwrap();
    let mut a = Client::connect_from("127.0.0.2", srv.addr).unwrap();
    assert_eq!(a.read_reply().unwrap().code, 220);
    let mut b = Client::connect_from("127.0.0.3", srv.addr).unwrap();
    assert_eq!(b.read_reply().unwrap().code, 220);
    for c in [&mut a, &mut b] {
        assert_eq!(c.command("EHLO client.example").unwrap().code, 250);
    }
    // Both sessions are open at once; each sends a message.
    for (c, to) in [(&mut a, "alice"), (&mut b, "bob")] {
        assert_eq!(c.command("MAIL FROM:<s@client.example>").unwrap().code, 250);
        let rcpt = format!("RCPT TO:<{to}@spec.test>");
        assert_eq!(c.command(&rcpt).unwrap().code, 250);
    }
    for c in [&mut a, &mut b] {
        assert_eq!(c.send_message("Subject: x\n\nbody\n").unwrap().code, 250);
    }
    a.command("QUIT").unwrap();
    b.command("QUIT").unwrap();
    for needle in [
        "disconnect from unknown[127.0.0.2]",
        "disconnect from unknown[127.0.0.3]",
        "to=<alice@spec.test>",
        "to=<bob@spec.test>",
    ] {
        assert!(
            srv.wait_for_log(needle, Duration::from_secs(10)),
            "{needle}: {}",
            srv.log()
        );
    }
    let log = srv.log();
    let pids_a = smtpd_pids(&log, "[127.0.0.2]");
    let pids_b = smtpd_pids(&log, "[127.0.0.3]");
    assert_eq!(pids_a.len(), 1, "one PID per session: {log}");
    assert_eq!(pids_b.len(), 1, "one PID per session: {log}");
    assert_ne!(pids_a, pids_b, "{log}");

    // Deliveries have PIDs of their own, too.
    let delivery_pid = |to: &str| {
        log.lines()
            .find(|l| l.contains(&format!("to=<{to}@spec.test>")))
            .and_then(|l| pid_of(l, "local"))
    };
    let (alice, bob) = (delivery_pid("alice"), delivery_pid("bob"));
    assert!(alice.is_some() && bob.is_some(), "{log}");
    assert_ne!(alice, bob, "{log}");
    assert!(!pids_a.contains(&alice.unwrap_or(0)), "{log}");
}
