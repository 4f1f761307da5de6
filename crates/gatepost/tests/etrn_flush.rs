//! ETRN against the real server: Postfix's replies for each form of the
//! command (taken from Postfix 3.7.11 on the same sessions), the
//! `smtpd_etrn_restrictions`, and the fast flush itself: a domain in
//! `fast_flush_domains` (default `$relay_domains`) gets `250 Queuing
//! started` and its deferred mail is tried again at once, long before its
//! retry time.

use std::time::{Duration, Instant};

use gatepost_testkit::{gatepost_bin, run_cases, submit, TestServer};

const G: (&str, &str) = ("", "220 mx.spec.test ESMTP Postfix");

#[test]
fn etrn_replies_as_postfix() {
    let srv = TestServer::start(
        gatepost_bin!(),
        "relay_domains = relay.example\n\
         smtpd_etrn_restrictions = check_etrn_access inline:{bad.relay.example=REJECT}\n",
    )
    .expect("start server");
    run_cases(
        &srv,
        vec![(
            "ETRN forms",
            "127.0.0.1",
            vec![
                G,
                ("ETRN relay.example", "250 Queuing started"),
                ("EHLO c.example", "250 CHUNKING"),
                ("ETRN", "500 Syntax: ETRN domain"),
                ("ETRN a b", "500 Syntax: ETRN domain"),
                ("ETRN relay.example", "250 Queuing started"),
                ("ETRN @relay.example", "250 Queuing started"),
                ("ETRN #relay.example", "250 Queuing started"),
                ("ETRN sub.relay.example", "250 Queuing started"),
                ("ETRN spec.test", "459 <spec.test>: service unavailable"),
                ("ETRN bad..name", "501 Error: invalid parameter syntax"),
                ("ETRN [127.0.0.1]", "459 <[127.0.0.1]>: service unavailable"),
                (
                    "ETRN bad.relay.example",
                    "554 5.7.1 <bad.relay.example>: Etrn command rejected: Access denied",
                ),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                (
                    "ETRN relay.example",
                    "503 Error: MAIL transaction in progress",
                ),
                ("QUIT", "221 2.0.0 Bye"),
            ],
        )],
    );
    for line in [
        "warning: reject: ETRN spec.test... from unknown[127.0.0.1]",
        "NOQUEUE: reject: ETRN from unknown[127.0.0.1]: 554 5.7.1 <bad.relay.example>: Etrn command rejected: Access denied; proto=ESMTP helo=<c.example>",
        "disconnect from unknown[127.0.0.1] ehlo=1 mail=1 etrn=5/12 quit=1 commands=8/15",
    ] {
        assert!(srv.wait_for_log(line, Duration::from_secs(5)), "log lacks {line:?}\n{}", srv.log());
    }
}

/// Mail for relay.example is deferred (its relay host refuses
/// connections) with retries an hour away; ETRN relay.example has it tried
/// again at once, ETRN for a domain outside fast_flush_domains does not.
#[test]
fn etrn_flushes_the_deferred_mail_of_a_listed_domain() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!(
            "relay_domains = relay.example\n\
             fast_flush_domains = relay.example\n\
             relayhost = [127.0.0.1]:{port}\n\
             queue_run_delay = 1h\n\
             minimal_backoff_time = 1h\n\
             maximal_backoff_time = 2h\n"
        ),
    )
    .expect("start server");
    submit(
        &srv,
        "c.example",
        "a@example.org",
        &["x@relay.example"],
        "Subject: later\n\nhi",
    );
    let deferred = "to=<x@relay.example>, relay=none";
    let attempts = |srv: &TestServer| srv.log().matches(deferred).count();
    let start = Instant::now();
    while attempts(&srv) < 1 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no first attempt\n{}",
            srv.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        srv.wait_for_log("status=deferred", Duration::from_secs(5)),
        "{}",
        srv.log()
    );
    // The log line comes before the file reaches `deferred`; a flush
    // before that would find nothing to do.
    let deferred_dir = srv.path().join("spool/deferred");
    let start = Instant::now();
    while std::fs::read_dir(&deferred_dir).map_or(0, |d| d.count()) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never in deferred\n{}",
            srv.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    run_cases(
        &srv,
        vec![(
            "ETRN a domain that is not listed, then the listed one",
            "127.0.0.1",
            vec![
                G,
                ("EHLO c.example", "250 CHUNKING"),
                ("ETRN spec.test", "459 <spec.test>: service unavailable"),
                ("ETRN relay.example", "250 Queuing started"),
            ],
        )],
    );
    let start = Instant::now();
    while attempts(&srv) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "ETRN did not have the deferred mail tried again\n{}",
            srv.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
