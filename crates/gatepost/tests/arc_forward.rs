//! ARC sealing where gatepost forwards (docs/mail-auth.md): a message
//! DKIM-signed by an outside domain reaches a first server from outside,
//! whose virtual_alias_maps sends it to another domain; that server seals
//! it (`gatepost_arc_seal = forwarded`, i=1, cv=none) and relays it to a
//! second server, which finds the chain valid, seals again (i=2, cv=pass)
//! and relays to a test sink. The sink's copy is verified with mail-auth
//! through gatepost's resolver, and by dkimpy's ARC verifier (Debian's
//! python3-dkim, independent of mail-auth) when it is installed: DKIM and
//! the ARC chain pass. Mail for a local mailbox on the first server is not
//! sealed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use gatepost_mailauth::{keygen, KeyAlgorithm, SigningKeys};
use gatepost_testkit::client::Client;
use gatepost_testkit::dns_server::{DnsServer, Zones};
use gatepost_testkit::sink::{Sink, SinkMode};
use gatepost_testkit::{gatepost_bin, TestServer};

mod receiver_support;
use receiver_support::{verify_as_receiver, Receiver};

/// The last hop, where the forwarded message is checked.
const FINAL: Receiver = Receiver {
    client: "127.0.0.1",
    helo: "mx.hop2.test",
    sender: "alice@origin.test",
    myhostname: "mx.final.test",
};

const WAIT: Duration = Duration::from_secs(15);

const MESSAGE: &str = "From: Alice <alice@origin.test>\n\
To: bob@spec.test\n\
Subject: forwarded with a seal\n\
Date: Wed, 02 Dec 2026 02:00:00 +0000\n\
Message-ID: <arc.e2e@origin.test>\n\
\n\
Hello Bob,\n\
this goes on to Carol.\n";

/// Keys for origin.test (the author), hop1.test and hop2.test (the
/// sealers), the table file, and the zone that publishes them.
fn keys(dir: &Path) -> (std::path::PathBuf, Zones, Vec<(String, String)>) {
    let origin = keygen("origin.test", "o1", KeyAlgorithm::Rsa(2048), dir).unwrap();
    let hop1 = keygen("hop1.test", "arc1", KeyAlgorithm::Rsa(2048), dir).unwrap();
    let hop2 = keygen("hop2.test", "arc2", KeyAlgorithm::Rsa(2048), dir).unwrap();
    // The server reads the keys after dropping root (as mail_owner).
    for key in [&origin.key_file, &hop1.key_file, &hop2.key_file] {
        std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let table = dir.join("dkim_keys");
    std::fs::write(
        &table,
        format!(
            "origin.test o1:{}\nhop1.test arc1:{}\nhop2.test arc2:{}\n",
            origin.key_file.display(),
            hop1.key_file.display(),
            hop2.key_file.display()
        ),
    )
    .unwrap();
    let mut z = Zones::new();
    z.txt(&origin.record_name, &origin.record)
        .txt(&hop1.record_name, &hop1.record)
        .txt(&hop2.record_name, &hop2.record)
        .txt("origin.test", "v=spf1 ip4:127.0.0.2 -all")
        .txt("_dmarc.origin.test", "v=DMARC1; p=reject");
    let records = [origin, hop1, hop2]
        .into_iter()
        .map(|k| (k.record_name, k.record))
        .collect();
    (table, z, records)
}

/// dkimpy's `arc_verify` on `mail` with `records` as its DNS: the chain
/// validation it reports (`pass`, `fail`, `none`), or `None` without
/// Debian's python3-dkim.
fn dkimpy_arc_verify(dir: &Path, records: &[(String, String)], mail: &str) -> Option<String> {
    let python = Path::new("/usr/bin/python3");
    let has_dkimpy = python.is_file()
        && std::process::Command::new(python)
            .args(["-c", "import dkim"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !has_dkimpy {
        return None;
    }
    let message = dir.join("final.eml");
    std::fs::write(&message, mail.replace('\n', "\r\n")).unwrap();
    let zone: String = records
        .iter()
        .map(|(name, text)| format!("{name} {text}\n"))
        .collect();
    std::fs::write(dir.join("zone"), zone).unwrap();
    let script = "import sys, dkim\n\
        zone = {}\n\
        for line in open(sys.argv[2], 'rb'):\n\
        \x20   name, text = line.rstrip(b'\\n').split(b' ', 1)\n\
        \x20   zone[name.lower()] = text\n\
        def txt(name, timeout=5):\n\
        \x20   return zone.get(name.rstrip(b'.').lower())\n\
        cv, results, reason = dkim.arc_verify(open(sys.argv[1], 'rb').read(), dnsfunc=txt)\n\
        print(cv.decode(), reason)\n";
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(&message)
        .arg(dir.join("zone"))
        .output()
        .unwrap();
    Some(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// The message as origin.test's own server signs it.
fn signed(table: &Path) -> String {
    let keys = SigningKeys::new(
        gatepost_table::open_table(&format!("texthash:{}", table.display())).unwrap(),
    );
    let sig = keys
        .sign("alice@origin.test", MESSAGE.as_bytes())
        .unwrap()
        .unwrap();
    format!("{sig}{MESSAGE}")
}

fn send(srv: &TestServer, rcpt: &str, message: &str) {
    let mut c = Client::connect_from("127.0.0.2", srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO mail.origin.test").unwrap();
    assert_eq!(
        c.command("MAIL FROM:<alice@origin.test>").unwrap().code,
        250
    );
    assert_eq!(c.command(&format!("RCPT TO:<{rcpt}>")).unwrap().code, 250);
    let reply = c.send_message(message).unwrap();
    assert_eq!(reply.code, 250, "{}", srv.log());
}

/// The unfolded value of each `name:` header, top down.
fn headers(message: &str, name: &str) -> Vec<String> {
    let message = message.replace("\r\n", "\n");
    let head = message.split("\n\n").next().unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(c) = current.as_mut() {
                c.push(' ');
                c.push_str(line.trim());
            }
            continue;
        }
        out.extend(current.take());
        if let Some((n, v)) = line.split_once(':') {
            if n.eq_ignore_ascii_case(name) {
                current = Some(v.trim().to_string());
            }
        }
    }
    out.extend(current);
    out
}

/// Verify `mail` as the final receiver would, through gatepost's resolver.
#[test]
fn forwarded_mail_is_sealed_at_each_hop_and_the_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (table, zones, records) = keys(dir.path());
    let dns = DnsServer::start(zones).unwrap();
    let common = format!(
        "{}dns_query_timeout = 1s\ndns_query_attempts = 1\n\
         gatepost_mail_auth_verify = yes\ngatepost_arc_seal = forwarded\n\
         gatepost_dkim_signing_keys = texthash:{}\n",
        dns.main_cf(),
        table.display()
    );
    let sink = Sink::start("127.0.0.3", SinkMode::Accept).unwrap();
    // The second server: the first one (connecting from 127.0.0.1) is a
    // client from outside for it; far.test is relayed on to the sink.
    let hop2 = TestServer::start(
        gatepost_bin!(),
        &format!(
            "{common}myhostname = mx.hop2.test\nmynetworks = 127.0.0.250/32\n\
             relay_domains = far.test\ngatepost_arc_domain = hop2.test\n\
             transport_maps = inline:{{far.test=smtp:[127.0.0.3]:{}}}\n",
            sink.port()
        ),
    )
    .unwrap();
    // The first server: bob@spec.test is forwarded to carol@far.test.
    let hop1 = TestServer::start(
        gatepost_bin!(),
        &format!(
            "{common}gatepost_arc_domain = hop1.test\n\
             virtual_alias_maps = inline:{{bob@spec.test=carol@far.test}}\n\
             transport_maps = inline:{{far.test=smtp:[127.0.0.1]:{}}}\n",
            hop2.addr.port()
        ),
    )
    .unwrap();

    let original = signed(&table);
    send(&hop1, "bob@spec.test", &original);
    let got = sink.wait_for_messages(1, WAIT);
    assert_eq!(got.len(), 1, "hop1:\n{}\nhop2:\n{}", hop1.log(), hop2.log());
    assert_eq!(got[0].rcpt_to, vec!["carol@far.test"]);
    let mail = got[0].data.replace("\r\n", "\n");

    let seals = headers(&mail, "ARC-Seal");
    assert_eq!(
        seals.len(),
        2,
        "{mail}\nhop1:\n{}\nhop2:\n{}",
        hop1.log(),
        hop2.log()
    );
    assert!(seals[0].starts_with("i=2; a=rsa-sha256;"), "{}", seals[0]);
    assert!(
        seals[0].contains("cv=pass") && seals[0].contains("d=hop2.test"),
        "{}",
        seals[0]
    );
    assert!(seals[1].starts_with("i=1; a=rsa-sha256;"), "{}", seals[1]);
    assert!(
        seals[1].contains("cv=none") && seals[1].contains("d=hop1.test"),
        "{}",
        seals[1]
    );
    let aar = headers(&mail, "ARC-Authentication-Results");
    assert!(aar[0].starts_with("i=2; mx.hop2.test;"), "{}", aar[0]);
    assert!(aar[0].contains("arc=pass"), "{}", aar[0]);
    assert!(aar[1].starts_with("i=1; mx.spec.test;"), "{}", aar[1]);
    assert!(
        aar[1].contains("dkim=pass") && aar[1].contains("spf=pass") && aar[1].contains("arc=none"),
        "{}",
        aar[1]
    );
    let ar = headers(&mail, "Authentication-Results");
    assert!(
        ar[0].starts_with("mx.hop2.test;") && ar[0].contains("arc=pass"),
        "{}",
        ar[0]
    );

    let end = verify_as_receiver(&dns, &FINAL, &mail);
    assert_eq!(
        (end.dkim, end.arc, end.dmarc),
        ("pass", "pass", "pass"),
        "{}",
        end.header
    );

    match dkimpy_arc_verify(dir.path(), &records, &mail) {
        Some(said) => assert!(said.starts_with("pass"), "dkimpy: {said}\n{mail}"),
        None => eprintln!("dkimpy check skipped: /usr/bin/python3 with python3-dkim not installed"),
    }

    // Mail that stays here is verified but not sealed.
    send(&hop1, "alice@spec.test", &original);
    let local = hop1.wait_for_mail("alice", 1, WAIT);
    assert_eq!(local.len(), 1, "{}", hop1.log());
    assert!(
        local[0].contains("Authentication-Results: mx.spec.test;"),
        "{}",
        local[0]
    );
    assert!(!local[0].contains("ARC-Seal:"), "{}", local[0]);
}

#[test]
fn sealing_without_verification_or_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let (table, _, _) = keys(dir.path());
    for (extra, why) in [
        (
            "gatepost_arc_seal = forwarded\n",
            "needs gatepost_mail_auth_verify = yes",
        ),
        (
            "gatepost_arc_seal = all\ngatepost_mail_auth_verify = yes\n",
            "needs gatepost_dkim_signing_keys",
        ),
        (
            &format!(
                "gatepost_arc_seal = forwarded\ngatepost_mail_auth_verify = yes\n\
                 gatepost_dkim_signing_keys = texthash:{}\n",
                table.display()
            ),
            "gatepost_arc_domain = spec.test: ",
        ),
        (
            "gatepost_arc_seal = sometimes\n",
            "gatepost_arc_seal: bad value \"sometimes\"",
        ),
    ] {
        let config = gatepost_testkit::ConfigDir::new()
            .unwrap()
            .main_cf(extra)
            .unwrap();
        let (code, out) =
            gatepost_testkit::server::run_gatepost(gatepost_bin!(), config.path(), &["serve"]);
        assert_ne!(code, 0, "{extra}: {out}");
        assert!(out.contains(why), "{extra}: {out}");
    }
}
