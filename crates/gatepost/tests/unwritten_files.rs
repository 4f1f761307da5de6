//! A new message is committed by its write-ahead log record alone and
//! its queue file written only when something needs it
//! (docs/durability.md, "Unwritten queue files"). A message whose
//! delivery is still under way is listed by `mailq` (from its record while
//! it has no file), counted in the `incoming` gauge of the metrics, and
//! gets its file when the server stops: the queue
//! tools list it with the server down, and the next start delivers it.
//! `postsuper -d` removes such a message as any other.

use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gatepost_testkit::metrics::{metrics_addr, scrape};
use gatepost_testkit::server::gatepost_output;
use gatepost_testkit::sink::{Sink, SinkMode};
use gatepost_testkit::{gatepost_bin, submit, TestServer};

/// A next hop that accepts connections and never says a word: the
/// delivery waits for its greeting.
fn silent_hop() -> (u16, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
            let _ = tx.send(());
        }
    });
    (port, rx)
}

/// SIGTERM, then wait until the process has exited (a zombie of the
/// test's own child counts).
fn stop(srv: &TestServer) {
    let pid = srv.pid().expect("running");
    let sent = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
        if matches!(state, None | Some('Z')) {
            return;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `gatepost mailq` lists message `id` from alice@spec.test to
/// bob@far.example.
fn mailq_lists(srv: &TestServer, id: &str) {
    let listing = gatepost_output(gatepost_bin!(), srv.path(), &["mailq"]);
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    assert!(listing.contains(id), "{listing}");
    assert!(listing.contains("alice@spec.test"), "{listing}");
    assert!(listing.contains("bob@far.example"), "{listing}");
}

/// A server (main.cf lines `extra` added) with one message from
/// alice@spec.test to bob@far.example, subject `subject`, in delivery to
/// a silent next hop: the server, the message's id, the hop's port.
fn in_delivery(extra: &str, subject: &str) -> (TestServer, String, u16) {
    let (port, connected) = silent_hop();
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!("relayhost = [127.0.0.1]:{port}\n{extra}"),
    )
    .unwrap();
    let id = submit(
        &srv,
        "c.example",
        "alice@spec.test",
        &["bob@far.example"],
        &format!("Subject: {subject}\n\nbody"),
    );
    connected
        .recv_timeout(Duration::from_secs(10))
        .expect("the delivery reached the next hop");
    (srv, id, port)
}

/// Start the stopped server again, its next hop (the silent one on
/// `port` before) now a sink that accepts.
fn restart_with_answering_hop(srv: TestServer, port: u16) -> (TestServer, Sink) {
    let sink = Sink::start("127.0.0.7", SinkMode::Accept).unwrap();
    srv.edit_main_cf(
        &format!("relayhost = [127.0.0.1]:{port}"),
        &format!("relayhost = [{}]:{}", sink.addr.ip(), sink.addr.port()),
    );
    (srv.restart().unwrap(), sink)
}

#[test]
fn a_stop_writes_out_the_file_of_a_message_in_delivery() {
    let (srv, id, port) = in_delivery("gatepost_metrics_listen = 127.0.0.1:0\n", "held up");
    // Listed while in delivery, file or not (from the log when none), and
    // counted in `incoming`.
    mailq_lists(&srv, &id);
    let scraped = scrape(metrics_addr(&srv.log()), "GET /metrics HTTP/1.1\r\n\r\n");
    assert!(
        scraped
            .lines()
            .any(|l| l == "gatepost_queue_messages{queue=\"incoming\"} 1"),
        "{scraped}"
    );
    stop(&srv);
    let file = srv.path().join("spool/incoming").join(&id);
    assert!(
        file.exists(),
        "no queue file after the stop; log:\n{}",
        srv.log()
    );
    // Whole: the queue tools read it with the server down.
    mailq_lists(&srv, &id);

    // And the next start delivers it, to a next hop that answers.
    let (srv, sink) = restart_with_answering_hop(srv, port);
    let got = sink.wait_for_messages(1, Duration::from_secs(15));
    assert_eq!(got.len(), 1, "log:\n{}", srv.log());
    assert!(got[0].data.contains("Subject: held up"));
    assert!(srv.wait_for_log(&format!("{id}: removed"), Duration::from_secs(10)));
}

/// `gatepost queue delete` (`postsuper -d`) of a message in delivery:
/// it is removed as any ("ID: removed", "Deleted: 1 message"), the stop
/// writes no file for it, and the next start does not deliver it. (The
/// SMTP client writes its file out to read it; a message that is still
/// in the log only is covered by the queue crate's tests of
/// `unwritten`.)
#[test]
fn postsuper_deletes_a_message_in_delivery() {
    let (srv, id, port) = in_delivery("", "unwanted");
    let out = gatepost_output(gatepost_bin!(), srv.path(), &["queue", "delete", &id]);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        said.contains(&format!("postsuper: {id}: removed")),
        "{said}"
    );
    assert!(said.contains("postsuper: Deleted: 1 message"), "{said}");
    stop(&srv);
    for q in ["incoming", "active", "deferred", "hold"] {
        let file = srv.path().join("spool").join(q).join(&id);
        assert!(
            !file.exists(),
            "{q}/{id} after the stop; log:\n{}",
            srv.log()
        );
    }
    let listing = gatepost_output(gatepost_bin!(), srv.path(), &["mailq"]);
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    assert!(!listing.contains(&id), "{listing}");

    let (srv, sink) = restart_with_answering_hop(srv, port);
    // A message sent after the start gets through; the removed one,
    // which a start would deliver first (its recovery and first scan),
    // does not.
    submit(
        &srv,
        "c.example",
        "alice@spec.test",
        &["bob@far.example"],
        "Subject: later\n\nbody",
    );
    let got = sink.wait_for_messages(1, Duration::from_secs(15));
    assert_eq!(got.len(), 1, "log:\n{}", srv.log());
    std::thread::sleep(Duration::from_secs(1));
    let got = sink.messages();
    assert_eq!(
        got.len(),
        1,
        "delivered after its removal; log:\n{}",
        srv.log()
    );
    assert!(got[0].data.contains("Subject: later"));
}
