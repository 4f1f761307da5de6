//! DKIM signing with keys from `gatepost dkim keygen` (RSA and Ed25519),
//! verified by mail-auth through gatepost's resolver and, when Debian's
//! opendkim-tools is installed, by OpenDKIM's `opendkim-testmsg`; DMARC
//! with the signature aligned and not, and the `Authentication-Results:`
//! header.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use gatepost_mailauth::{
    check_spf, keygen, verify_inbound, DmarcAction, KeyAlgorithm, SigningKeys, SpfCheck,
};
use gatepost_testkit::dns_server::Zones;

const MESSAGE: &str = "From: Alice <alice@signed.test>\n\
To: bob@remote.test\n\
Subject: signed by gatepost\n\
Date: Wed, 02 Dec 2026 02:00:00 +0000\n\
Message-ID: <1@signed.test>\n\
\n\
Hello Bob,\n\
a line with  two spaces and a trailing space \n\
\n\
.dot line\n";

/// Keys for signed.test (selector `rsa`) and ed.test (`ed`), the
/// signing table, and the zone that publishes them.
fn setup(dir: &Path) -> (SigningKeys, Zones, String) {
    let rsa = keygen("signed.test", "rsa", KeyAlgorithm::Rsa(2048), dir).unwrap();
    let ed = keygen("ed.test", "ed", KeyAlgorithm::Ed25519, dir).unwrap();
    let table = dir.join("dkim_keys");
    std::fs::write(
        &table,
        format!(
            "signed.test rsa:{}\ned.test ed:{}\n",
            rsa.key_file.display(),
            ed.key_file.display()
        ),
    )
    .unwrap();
    let spec = format!("texthash:{}", table.display());
    let keys = SigningKeys::new(gatepost_table::open_table(&spec).unwrap());
    let mut z = Zones::new();
    z.txt(&rsa.record_name, &rsa.record)
        .txt(&ed.record_name, &ed.record)
        .txt("_dmarc.signed.test", "v=DMARC1; p=reject")
        .txt("_dmarc.ed.test", "v=DMARC1; p=quarantine")
        .txt("_dmarc.forged.test", "v=DMARC1; p=reject")
        .txt("signed.test", "v=spf1 -all")
        .txt("forged.test", "v=spf1 -all");
    (keys, z, rsa.zone_line())
}

async fn verify(
    zones: Zones,
    sender: &str,
    message: &str,
) -> gatepost_mailauth::InboundResult<'static> {
    let (_dns, r) = common::resolver(zones);
    let client = "127.0.0.1".parse().unwrap();
    let spf = check_spf(
        &r,
        &SpfCheck {
            client,
            helo: "client.test",
            sender,
            myhostname: "mx.gatepost.test",
        },
    )
    .await;
    verify_inbound(&r, client, &spf, message.as_bytes(), "mx.gatepost.test").await
}

#[tokio::test]
async fn rsa_signature_verifies_and_dmarc_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, zones, _) = setup(dir.path());
    let sig = keys
        .sign("alice@signed.test", MESSAGE.as_bytes())
        .unwrap()
        .unwrap();
    assert!(
        sig.starts_with("DKIM-Signature: v=1; a=rsa-sha256;"),
        "{sig}"
    );
    assert!(
        sig.contains("d=signed.test") && sig.contains("s=rsa"),
        "{sig}"
    );
    let signed = format!("{sig}{MESSAGE}");
    let v = verify(zones, "alice@signed.test", &signed).await;
    assert_eq!(
        (v.dkim, v.dmarc, v.action),
        ("pass", "pass", DmarcAction::None)
    );
    assert!(
        v.header
            .starts_with("Authentication-Results: mx.gatepost.test;\n\tdkim=pass"),
        "{}",
        v.header
    );
    assert!(
        v.header.contains("dmarc=pass header.from=signed.test"),
        "{}",
        v.header
    );
}

#[tokio::test]
async fn ed25519_signature_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, zones, _) = setup(dir.path());
    let message = MESSAGE.replace("alice@signed.test", "carol@ed.test");
    let sig = keys
        .sign("carol@ed.test", message.as_bytes())
        .unwrap()
        .unwrap();
    assert!(sig.contains("a=ed25519-sha256"), "{sig}");
    let v = verify(zones, "carol@ed.test", &format!("{sig}{message}")).await;
    assert_eq!((v.dkim, v.dmarc), ("pass", "pass"));
}

#[tokio::test]
async fn no_key_no_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, _, _) = setup(dir.path());
    let message = MESSAGE.replace("alice@signed.test", "dave@unsigned.test");
    assert_eq!(
        keys.sign("dave@unsigned.test", message.as_bytes()).unwrap(),
        None
    );
}

#[tokio::test]
async fn altered_body_fails_and_dmarc_asks_for_reject() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, zones, _) = setup(dir.path());
    let sig = keys
        .sign("alice@signed.test", MESSAGE.as_bytes())
        .unwrap()
        .unwrap();
    let altered = format!("{sig}{}", MESSAGE.replace("Hello Bob", "Hello Eve"));
    let v = verify(zones, "alice@signed.test", &altered).await;
    // mail-auth calls a body hash mismatch neutral (RFC 6376 section 6.1.3).
    assert_ne!(v.dkim, "pass");
    assert_eq!((v.dmarc, v.action), ("fail", DmarcAction::Reject));
    assert!(v.header.contains("policy.dmarc=reject"), "{}", v.header);
}

#[tokio::test]
async fn unsigned_forgery_quarantine_and_reject() {
    let dir = tempfile::tempdir().unwrap();
    let (_, zones, _) = setup(dir.path());
    let forged = MESSAGE.replace("alice@signed.test", "ceo@forged.test");
    let v = verify(zones, "ceo@forged.test", &forged).await;
    assert_eq!(
        (v.dkim, v.dmarc, v.action),
        ("none", "fail", DmarcAction::Reject)
    );
    assert_eq!(v.from_domain, "forged.test");
    let (_, zones, _) = setup(tempfile::tempdir().unwrap().path());
    let forged = MESSAGE.replace("alice@signed.test", "ceo@ed.test");
    let v = verify(zones, "ceo@ed.test", &forged).await;
    assert_eq!(v.action, DmarcAction::Quarantine);
}

/// OpenDKIM's verifier (libopendkim, independent of mail-auth): `opendkim
/// -t FILE` in test mode with the published records given as its
/// `TestPublicKeys` file (opendkim.conf(5)), for an RSA and an Ed25519
/// signature, and an altered body that must fail.
#[test]
fn opendkim_verifies_gatepost_signatures() {
    let Ok(opendkim) = which("opendkim") else {
        eprintln!("skipped: opendkim not installed (Debian packages opendkim, opendkim-tools)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rsa = keygen("signed.test", "rsa2", KeyAlgorithm::Rsa(2048), dir.path()).unwrap();
    let ed = keygen("ed.test", "ed2", KeyAlgorithm::Ed25519, dir.path()).unwrap();
    let table = dir.path().join("dkim_keys2");
    std::fs::write(
        &table,
        format!(
            "signed.test rsa2:{}\ned.test ed2:{}\n",
            rsa.key_file.display(),
            ed.key_file.display()
        ),
    )
    .unwrap();
    let keys = SigningKeys::new(
        gatepost_table::open_table(&format!("texthash:{}", table.display())).unwrap(),
    );
    let published = dir.path().join("testkeys");
    std::fs::write(
        &published,
        format!(
            "{} {}\n{} {}\n",
            rsa.record_name, rsa.record, ed.record_name, ed.record
        ),
    )
    .unwrap();
    let conf = dir.path().join("opendkim.conf");
    std::fs::write(
        &conf,
        format!(
            "TestPublicKeys {}\nMode v\nSyslog no\n",
            published.display()
        ),
    )
    .unwrap();
    let verdict = |name: &str, message: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, message.replace('\n', "\r\n")).unwrap();
        let out = Command::new(&opendkim)
            .arg("-x")
            .arg(&conf)
            .arg("-t")
            .arg(&file)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        // The verdict goes to standard output when it is not a terminal.
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let sig = keys
        .sign("alice@signed.test", MESSAGE.as_bytes())
        .unwrap()
        .unwrap();
    let said = verdict("rsa.eml", &format!("{sig}{MESSAGE}"));
    assert!(
        said.contains("verification (s=rsa2, d=signed.test, 2048-bit key) succeeded"),
        "{said}"
    );
    let said = verdict(
        "bad.eml",
        &format!("{sig}{}", MESSAGE.replace("Hello Bob", "Hello Eve")),
    );
    assert!(said.contains("failed"), "{said}");
    let message = MESSAGE.replace("alice@signed.test", "carol@ed.test");
    let sig = keys
        .sign("carol@ed.test", message.as_bytes())
        .unwrap()
        .unwrap();
    let said = verdict("ed.eml", &format!("{sig}{message}"));
    assert!(
        said.contains("d=ed.test") && said.contains("succeeded"),
        "{said}"
    );
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|f| f.is_file())
        })
        .ok_or(())
}
