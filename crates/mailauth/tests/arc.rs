//! ARC (RFC 8617) through gatepost's resolver: a DKIM-signed message is
//! verified and sealed by one forwarder (i=1, cv=none), verified and
//! sealed again by a second (i=2, cv=pass), and the chain verifies at the
//! final receiver; a body changed after a seal fails the chain, and a
//! failed chain is recorded with cv=fail and then never sealed again. The
//! DKIM and ARC key records are asked through gatepost's resolver, once.

mod common;

use std::net::IpAddr;
use std::path::Path;

use gatepost_dns::Resolver;
use gatepost_mailauth::{
    check_spf, keygen, verify_inbound, ArcSealing, InboundResult, KeyAlgorithm, SigningKeys,
    SpfCheck,
};
use gatepost_testkit::dns_server::Zones;

const MESSAGE: &str = "From: Alice <alice@origin.test>\n\
To: list@hop1.test\n\
Subject: forwarded twice\n\
Date: Wed, 02 Dec 2026 02:00:00 +0000\n\
Message-ID: <arc.1@origin.test>\n\
\n\
Hello,\n\
a line with  two spaces.\n";

/// Keys for origin.test (the author's DKIM key), hop1.test and hop2.test
/// (RSA: ARC seals are rsa-sha256 only), ed.test (Ed25519, which cannot
/// seal), one table for all, and the zone publishing them.
fn setup(dir: &Path) -> (SigningKeys, Zones) {
    let origin = keygen("origin.test", "o1", KeyAlgorithm::Rsa(2048), dir).unwrap();
    let hop1 = keygen("hop1.test", "arc1", KeyAlgorithm::Rsa(2048), dir).unwrap();
    let hop2 = keygen("hop2.test", "arc2", KeyAlgorithm::Rsa(2048), dir).unwrap();
    let ed = keygen("ed.test", "ed1", KeyAlgorithm::Ed25519, dir).unwrap();
    let table = dir.join("keys");
    std::fs::write(
        &table,
        format!(
            "origin.test o1:{}\nhop1.test arc1:{}\nhop2.test arc2:{}\ned.test ed1:{}\n",
            origin.key_file.display(),
            hop1.key_file.display(),
            hop2.key_file.display(),
            ed.key_file.display()
        ),
    )
    .unwrap();
    let keys = SigningKeys::new(
        gatepost_table::open_table(&format!("texthash:{}", table.display())).unwrap(),
    );
    let mut z = Zones::new();
    z.txt(&origin.record_name, &origin.record)
        .txt(&hop1.record_name, &hop1.record)
        .txt(&hop2.record_name, &hop2.record)
        .txt("origin.test", "v=spf1 ip4:192.0.2.1 -all")
        .txt("_dmarc.origin.test", "v=DMARC1; p=reject");
    (keys, z)
}

/// Verify `message` as `host` receiving it from `client`.
async fn receive<'h>(
    r: &Resolver,
    client: &str,
    host: &'h str,
    message: &str,
) -> InboundResult<'h> {
    let client: IpAddr = client.parse().unwrap();
    let spf = check_spf(
        r,
        &SpfCheck {
            client,
            helo: "sender.test",
            sender: "alice@origin.test",
            myhostname: host,
        },
    )
    .await;
    verify_inbound(r, client, &spf, message.as_bytes(), host).await
}

/// What a forwarder queues: its ARC set, its Authentication-Results, the
/// message.
fn forward(sealer: &ArcSealing, verified: &InboundResult<'_>, message: &str) -> String {
    let set = sealer
        .seal(message.as_bytes(), verified)
        .unwrap()
        .expect("sealed");
    format!("{set}{}{message}", verified.header)
}

/// The unfolded value of each `name:` header, top down.
fn headers(message: &str, name: &str) -> Vec<String> {
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

fn signed(keys: &SigningKeys) -> String {
    let sig = keys
        .sign("alice@origin.test", MESSAGE.as_bytes())
        .unwrap()
        .unwrap();
    format!("{sig}{MESSAGE}")
}

#[tokio::test]
async fn two_forwarders_seal_and_the_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, zones) = setup(dir.path());
    let (_dns, r) = common::resolver(zones);
    let hop1 = ArcSealing::new(keys.clone(), "hop1.test").unwrap();
    let hop2 = ArcSealing::new(keys.clone(), "hop2.test").unwrap();

    // Hop 1 receives from the author's server: no chain yet.
    let original = signed(&keys);
    let v1 = receive(&r, "192.0.2.1", "mx.hop1.test", &original).await;
    assert_eq!((v1.dkim, v1.arc, v1.dmarc), ("pass", "none", "pass"));
    assert!(
        v1.header.contains("\tarc=none smtp.remote-ip=192.0.2.1;\n"),
        "{}",
        v1.header
    );
    let at_hop2 = forward(&hop1, &v1, &original);
    let seals = headers(&at_hop2, "ARC-Seal");
    assert_eq!(seals.len(), 1, "{at_hop2}");
    assert!(seals[0].starts_with("i=1; a=rsa-sha256;"), "{}", seals[0]);
    assert!(
        seals[0].contains("cv=none") && seals[0].contains("d=hop1.test"),
        "{}",
        seals[0]
    );
    let aar = headers(&at_hop2, "ARC-Authentication-Results");
    assert!(
        aar[0].starts_with("i=1; mx.hop1.test; dkim=pass"),
        "{}",
        aar[0]
    );

    // Hop 2 receives from hop 1 (SPF fails there: the chain vouches).
    let v2 = receive(&r, "198.51.100.7", "mx.hop2.test", &at_hop2).await;
    assert_eq!((v2.dkim, v2.arc), ("pass", "pass"), "{}", v2.header);
    let at_final = forward(&hop2, &v2, &at_hop2);
    let seals = headers(&at_final, "ARC-Seal");
    assert_eq!(seals.len(), 2, "{at_final}");
    assert!(seals[0].starts_with("i=2; a=rsa-sha256;"), "{}", seals[0]);
    assert!(
        seals[0].contains("cv=pass") && seals[0].contains("d=hop2.test"),
        "{}",
        seals[0]
    );
    let ams = headers(&at_final, "ARC-Message-Signature");
    assert!(
        ams[0].contains("dkim-signature") || ams[0].contains("DKIM-Signature"),
        "{}",
        ams[0]
    );

    // The final receiver validates both sets.
    let v3 = receive(&r, "203.0.113.9", "mx.final.test", &at_final).await;
    assert_eq!((v3.dkim, v3.arc), ("pass", "pass"), "{}", v3.header);
    assert!(
        v3.header
            .contains("\tarc=pass smtp.remote-ip=203.0.113.9;\n"),
        "{}",
        v3.header
    );
}

#[tokio::test]
async fn a_changed_body_fails_and_a_failed_chain_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, zones) = setup(dir.path());
    let (_dns, r) = common::resolver(zones);
    let hop1 = ArcSealing::new(keys.clone(), "hop1.test").unwrap();
    let hop2 = ArcSealing::new(keys.clone(), "hop2.test").unwrap();
    let original = signed(&keys);
    let v1 = receive(&r, "192.0.2.1", "mx.hop1.test", &original).await;
    let sealed = forward(&hop1, &v1, &original);
    let altered = sealed.replace("two spaces", "three spaces");
    let v2 = receive(&r, "198.51.100.7", "mx.hop2.test", &altered).await;
    assert_eq!(v2.arc, "fail", "{}", v2.header);
    assert!(v2.header.contains("\tarc=fail"), "{}", v2.header);
    // The failure is recorded in a seal with cv=fail...
    let failed = forward(&hop2, &v2, &altered);
    let seals = headers(&failed, "ARC-Seal");
    assert!(
        seals[0].starts_with("i=2;") && seals[0].contains("cv=fail"),
        "{}",
        seals[0]
    );
    // ...after which nobody seals.
    let v3 = receive(&r, "203.0.113.9", "mx.final.test", &failed).await;
    assert_eq!(v3.arc, "fail");
    assert_eq!(hop1.seal(failed.as_bytes(), &v3).unwrap(), None);
}

#[tokio::test]
async fn dkim_and_arc_keys_come_through_gatepost_resolver_and_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, zones) = setup(dir.path());
    let (dns, r) = common::resolver(zones);
    let hop1 = ArcSealing::new(keys.clone(), "hop1.test").unwrap();
    let original = signed(&keys);
    let v1 = receive(&r, "192.0.2.1", "mx.hop1.test", &original).await;
    let sealed = forward(&hop1, &v1, &original);
    let before = dns.queries();
    let v2 = receive(&r, "198.51.100.7", "mx.hop2.test", &sealed).await;
    assert_eq!((v2.dkim, v2.arc), ("pass", "pass"), "{}", v2.header);
    // mail-auth's own resolver has no name server: every answer came from
    // the test server through gatepost's resolver, which asked for the
    // hop1.test key (new to it) and answered the rest from its cache.
    let asked = dns.queries() - before;
    assert!(asked >= 1, "the ARC key was not asked for");
    let again = dns.queries();
    let v3 = receive(&r, "198.51.100.7", "mx.hop2.test", &sealed).await;
    assert_eq!((v3.dkim, v3.arc), ("pass", "pass"));
    assert_eq!(
        dns.queries(),
        again,
        "a second verification asked DNS again"
    );
}

#[tokio::test]
async fn a_sealer_needs_an_rsa_key_for_its_domain() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, zones) = setup(dir.path());
    let err = ArcSealing::new(keys.clone(), "nokey.test")
        .unwrap_err()
        .to_string();
    assert!(err.ends_with(": no key for nokey.test"), "{err}");
    let (_dns, r) = common::resolver(zones);
    let original = signed(&keys);
    let v1 = receive(&r, "192.0.2.1", "mx.hop1.test", &original).await;
    let ed = ArcSealing::new(keys, "ed.test").unwrap();
    let err = ed.seal(original.as_bytes(), &v1).unwrap_err().to_string();
    assert!(err.contains("rsa-sha256 only"), "{err}");
}
