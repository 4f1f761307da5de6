//! What a failed DMARC check asks for: `pct=` (RFC 7489 section 6.6.4,
//! deterministic at 0 and 100: a message left out of the sample gets the
//! next lower policy), `sp=` for an existing subdomain of the
//! organizational domain, `np=` (RFC 9091) for one that does not exist,
//! and `t=y`, which is not lowered twice when `pct=` is there too.

mod common;

use gatepost_mailauth::{check_spf, verify_inbound, DmarcAction, SpfCheck};
use gatepost_testkit::dns_server::Zones;

fn zones() -> Zones {
    let mut z = Zones::new();
    for (domain, record) in [
        ("reject0.test", "v=DMARC1; p=reject; pct=0"),
        ("reject100.test", "v=DMARC1; p=reject; pct=100"),
        ("quarantine0.test", "v=DMARC1; p=quarantine; pct=0"),
        ("org.test", "v=DMARC1; p=reject; sp=none; np=quarantine"),
        ("testing.test", "v=DMARC1; p=reject; pct=0; t=y"),
    ] {
        z.txt(domain, "v=spf1 -all")
            .txt(&format!("_dmarc.{domain}"), record);
    }
    z.a("sub.org.test", "192.0.2.50")
        .txt("sub.org.test", "v=spf1 -all");
    z
}

/// The DMARC outcome of an unsigned message from `from` sent by a client
/// the sender's SPF record does not list.
async fn action(from: &str) -> (&'static str, DmarcAction) {
    let (_dns, r) = common::resolver(zones());
    let client = "127.0.0.1".parse().unwrap();
    let spf = check_spf(
        &r,
        &SpfCheck {
            client,
            helo: "client.test",
            sender: from,
            myhostname: "mx.gatepost.test",
        },
    )
    .await;
    let message = format!(
        "From: {from}\nTo: bob@gatepost.test\nSubject: dmarc\nMessage-ID: <1@x>\n\nHello\n"
    );
    let v = verify_inbound(&r, client, &spf, message.as_bytes(), "mx.gatepost.test").await;
    (v.dmarc, v.action)
}

#[tokio::test]
async fn pct_zero_applies_the_next_lower_policy() {
    assert_eq!(
        action("a@reject0.test").await,
        ("fail", DmarcAction::Quarantine)
    );
    assert_eq!(
        action("a@quarantine0.test").await,
        ("fail", DmarcAction::None)
    );
}

#[tokio::test]
async fn pct_hundred_applies_the_policy() {
    assert_eq!(
        action("a@reject100.test").await,
        ("fail", DmarcAction::Reject)
    );
}

#[tokio::test]
async fn subdomain_and_nonexistent_subdomain_policies() {
    // The organizational domain itself: p=reject.
    assert_eq!(action("a@org.test").await, ("fail", DmarcAction::Reject));
    // An existing subdomain without a record of its own: sp=none.
    assert_eq!(action("a@sub.org.test").await, ("fail", DmarcAction::None));
    // A subdomain that does not exist (NXDOMAIN): np=quarantine.
    assert_eq!(
        action("a@nx.org.test").await,
        ("fail", DmarcAction::Quarantine)
    );
}

#[tokio::test]
async fn test_mode_is_not_lowered_twice() {
    // t=y (DMARCbis) already lowers reject to quarantine; pct=0 beside it
    // says the same and is not applied again.
    assert_eq!(
        action("a@testing.test").await,
        ("fail", DmarcAction::Quarantine)
    );
}
