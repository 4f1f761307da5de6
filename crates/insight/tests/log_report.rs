//! log-report over the fixture logs: a real Postfix 3.7 maillog (totals
//! equal what pflogsumm prints for it), the same log gzipped and split in
//! two files given out of order, and a hand-written abuse log with RFC 3339
//! stamps (SASL failures, relay deferrals, a burst, grouped warnings).

use std::io::Write;
use std::path::{Path, PathBuf};

use gatepost_insight::logs::{report, Args, Count, Report};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn args(files: Vec<PathBuf>) -> Args {
    Args {
        files,
        since: None,
        until: None,
        json: false,
        html: None,
    }
}

fn count(rows: &[Count], key: &str) -> u64 {
    rows.iter().find(|c| c.key == key).map_or(0, |c| c.count)
}

fn assert_postfix_totals(r: &Report) {
    let t = &r.totals;
    // What pflogsumm 1.1.5 prints for this log.
    assert_eq!(
        (
            t.received,
            t.delivered,
            t.deferred,
            t.deferrals,
            t.bounced,
            t.rejected,
            t.bytes_received
        ),
        (41, 5, 1, 1, 2, 77, 1467),
        "{t:?}"
    );
}

#[test]
fn real_postfix_log_counts_as_pflogsumm_does() {
    let r = report(&args(vec![fixture("postfix-3.7-maillog")])).unwrap();
    assert_postfix_totals(&r);
    assert_eq!(r.unparsed, 0);
    assert_eq!(r.abuse.relay_denied, 74);
    assert_eq!(count(&r.abuse.relay_by_client, "localhost[127.0.0.1]"), 72);
    assert_eq!(count(&r.abuse.relay_by_client, "unknown[127.0.0.3]"), 2);
    assert_eq!(count(&r.abuse.relay_by_domain, "far.example"), 1);
    assert_eq!(count(&r.delivered_by_domain, "audit.test"), 5);
    assert_eq!(count(&r.bounced_by_domain, "bounce.example"), 1);
    assert_eq!(count(&r.deferred_by_domain, "defer.example"), 1);
    assert_eq!(
        count(
            &r.rejects_by_reason,
            "Recipient address rejected: User unknown in local recipient table"
        ),
        1
    );
    let top = &r.abuse.rejected_clients[0];
    assert_eq!(
        (top.client.as_str(), top.total),
        ("localhost[127.0.0.1]", 74)
    );
}

#[test]
fn gzip_and_split_files_in_any_order() {
    let text = std::fs::read_to_string(fixture("postfix-3.7-maillog")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    let dir = tempfile::tempdir().unwrap();
    let older = dir.path().join("maillog.1.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&older).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all((first.join("\n") + "\n").as_bytes()).unwrap();
    gz.finish().unwrap();
    let newer = dir.path().join("maillog");
    std::fs::write(&newer, second.join("\n") + "\n").unwrap();
    let r = report(&args(vec![newer, older])).unwrap();
    assert_postfix_totals(&r);
}

#[test]
fn abuse_view_of_sasl_relay_bursts_and_warnings() {
    let r = report(&args(vec![fixture("abuse-rfc3339.log")])).unwrap();
    let a = &r.abuse;
    assert_eq!(a.sasl_failures, 4);
    assert_eq!(count(&a.sasl_by_client, "unknown[203.0.113.9]"), 3);
    assert_eq!(count(&a.sasl_by_user, "admin@example.org"), 2);
    assert_eq!(count(&a.sasl_by_user, "test"), 1);
    assert_eq!((a.relay_denied, a.relay_deferred), (2, 1));
    assert_eq!(count(&a.relay_by_domain, "victim.example"), 2);
    assert_eq!(a.median_connections_per_minute, 2);
    assert_eq!(a.bursts.len(), 1, "{:?}", a.bursts);
    assert_eq!(a.bursts[0].minute, "2026-11-30 10:03");
    assert_eq!(a.bursts[0].connections, 8);
    assert_eq!(count(&a.bursts[0].top_clients, "unknown[203.0.113.9]"), 7);
    let groups: Vec<(String, u64)> = a
        .warnings
        .iter()
        .flat_map(|w| {
            w.by_domain
                .iter()
                .map(move |d| (format!("{}: {}", w.text, d.key), d.count))
        })
        .collect();
    for want in [
        (
            "numeric domain name in resource data of MX record: bad-mx.example",
            2,
        ),
        (
            "malformed domain name in resource data of MX record: broken.example",
            1,
        ),
        ("valid_hostname: empty hostname: (empty)", 1),
        ("offered AUTH option multiple times: mx.peer.example", 2),
    ] {
        assert!(
            groups.contains(&(want.0.to_string(), want.1)),
            "{want:?} not in {groups:?}"
        );
    }
}

#[test]
fn since_and_until_bound_the_period() {
    let mut a = args(vec![fixture("abuse-rfc3339.log")]);
    a.since = Some("2026-11-30T10:04:00".parse().unwrap());
    a.until = Some("2026-11-30T11:00:00".parse().unwrap());
    let r = report(&a).unwrap();
    assert_eq!(r.totals.rejected, 3);
    assert_eq!(r.totals.connections, 0);
    assert_eq!(r.abuse.sasl_failures, 0);
    assert!(r.abuse.warnings.is_empty());
    assert_eq!(r.first.as_deref(), Some("2026-11-30 10:04:01"));
}
