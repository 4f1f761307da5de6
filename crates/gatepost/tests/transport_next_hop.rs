//! transport_maps and the queue manager's grouping: recipients of three
//! domains that `transport_maps` sends to one next hop are one destination
//! for qmgr(8), so `default_destination_recipient_limit` cuts them into
//! requests by that next hop (not by their domains), and every request
//! reaches the test sink the entry names. All traffic stays on 127.0.0.0/8.

use std::time::Duration;

use gatepost_testkit::sink::{Sink, SinkMode};
use gatepost_testkit::{Client, TestServer};

fn bin() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_gatepost"))
}

const WAIT: Duration = Duration::from_secs(15);

#[test]
fn transport_maps_next_hop_sets_the_destination_and_its_recipient_limit() {
    let sink = Sink::start("127.0.0.13", SinkMode::Accept).unwrap();
    let hop = format!("smtp:[{}]:{}", sink.addr.ip(), sink.port());
    let main_cf = format!(
        "transport_maps = inline:{{one.test={hop}, two.test={hop}, three.test={hop}}}\n\
         default_destination_recipient_limit = 2\n"
    );
    let srv = TestServer::start(bin(), &main_cf).unwrap();
    let rcpts = ["a@one.test", "b@two.test", "c@three.test"];

    let mut c = Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO client.spec.test").unwrap();
    assert_eq!(c.command("MAIL FROM:<alice@spec.test>").unwrap().code, 250);
    for rcpt in rcpts {
        let r = c.command(&format!("RCPT TO:<{rcpt}>")).unwrap();
        assert_eq!(r.code, 250, "{r:?}");
    }
    let r = c
        .send_message("Subject: one hop\nFrom: alice@spec.test\n\nbody\n")
        .unwrap();
    assert!(
        r.last_line().starts_with("250 2.0.0 Ok: queued as"),
        "{r:?}"
    );
    let id = r.last_line().rsplit(' ').next().unwrap().to_string();

    assert!(
        srv.wait_for_log(&format!("{id}: removed"), WAIT),
        "log:\n{}",
        srv.log()
    );
    // Grouped by the next hop: two requests (2 + 1 recipients), not one
    // per domain; the first request holds the first two recipients.
    let mut got: Vec<Vec<String>> = sink.messages().into_iter().map(|m| m.rcpt_to).collect();
    got.sort_by_key(|r| std::cmp::Reverse(r.len()));
    assert_eq!(
        got,
        vec![
            vec!["a@one.test".to_string(), "b@two.test".to_string()],
            vec!["c@three.test".to_string()],
        ],
        "log:\n{}",
        srv.log()
    );
    let relay = format!("relay=127.0.0.13[127.0.0.13]:{}", sink.port());
    let log = srv.log();
    for rcpt in rcpts {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("{id}: to=<{rcpt}>")))
            .unwrap_or_else(|| panic!("no delivery line for {rcpt}:\n{log}"));
        assert!(line.contains(&relay), "{line}");
        assert!(line.contains("status=sent"), "{line}");
    }
}
