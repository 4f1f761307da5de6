//! SPF (RFC 7208) through gatepost's resolver against the testkit's DNS
//! server: pass, fail, softfail, neutral, none, temperror, permerror, the
//! HELO identity for the null sender, include: and mx, and the header.

mod common;

use gatepost_mailauth::{check_spf, SpfCheck};
use gatepost_testkit::dns_server::Zones;

fn zones() -> Zones {
    let mut z = Zones::new();
    z.txt("pass.test", "v=spf1 ip4:127.0.0.0/8 -all")
        .txt("fail.test", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt("soft.test", "v=spf1 ip4:192.0.2.0/24 ~all")
        .txt("neutral.test", "v=spf1 ?all")
        .a("none.test", "192.0.2.1")
        .servfail("temp.test")
        .txt("perm.test", "v=spf1 include:missing.test -all")
        .txt("include.test", "v=spf1 include:pass.test -all")
        .txt("mx.test", "v=spf1 mx -all")
        .mx("mx.test", 10, "mail.mx.test")
        .a("mail.mx.test", "127.0.0.1")
        .txt("helo.test", "v=spf1 a -all")
        .a("helo.test", "127.0.0.1")
        .txt("explained.test", "v=spf1 -all exp=why.explained.test")
        .txt("why.explained.test", "see https://explained.test/spf");
    z
}

async fn result(sender: &str, helo: &str) -> String {
    let (_dns, r) = common::resolver(zones());
    let check = SpfCheck {
        client: "127.0.0.1".parse().unwrap(),
        helo,
        sender,
        myhostname: "mx.gatepost.test",
    };
    check_spf(&r, &check).await.result().to_string()
}

#[tokio::test]
async fn results_for_the_mail_from_identity() {
    assert_eq!(result("a@pass.test", "client.test").await, "pass");
    assert_eq!(result("a@fail.test", "client.test").await, "fail");
    assert_eq!(result("a@soft.test", "client.test").await, "softfail");
    assert_eq!(result("a@neutral.test", "client.test").await, "neutral");
    assert_eq!(result("a@none.test", "client.test").await, "none");
    assert_eq!(result("a@nxdomain.test", "client.test").await, "none");
    assert_eq!(result("a@temp.test", "client.test").await, "temperror");
    assert_eq!(result("a@perm.test", "client.test").await, "permerror");
    assert_eq!(result("a@include.test", "client.test").await, "pass");
    assert_eq!(result("a@mx.test", "client.test").await, "pass");
}

#[tokio::test]
async fn null_sender_checks_the_helo_name() {
    assert_eq!(result("", "helo.test").await, "pass");
    assert_eq!(result("", "fail.test").await, "fail");
}

#[tokio::test]
async fn header_and_lookups_through_the_cache() {
    let (dns, r) = common::resolver(zones());
    let check = SpfCheck {
        client: "127.0.0.1".parse().unwrap(),
        helo: "client.test",
        sender: "a@fail.test",
        myhostname: "mx.gatepost.test",
    };
    let v = check_spf(&r, &check).await;
    assert_eq!(v.domain(), "fail.test");
    let header = v.header("mx.gatepost.test");
    assert!(
        header.starts_with("Authentication-Results: mx.gatepost.test;\n\tspf=fail"),
        "{header}"
    );
    assert!(header.contains("smtp.mailfrom=a@fail.test"), "{header}");
    assert!(
        header.ends_with('\n') && !header.contains('\r'),
        "{header:?}"
    );
    let asked = dns.queries();
    // A second check is answered from gatepost's DNS cache.
    assert_eq!(check_spf(&r, &check).await.result(), "fail");
    assert_eq!(dns.queries(), asked);
}

#[tokio::test]
async fn explanation_of_the_domain() {
    let (_dns, r) = common::resolver(zones());
    let check = SpfCheck {
        client: "127.0.0.1".parse().unwrap(),
        helo: "client.test",
        sender: "a@explained.test",
        myhostname: "mx.gatepost.test",
    };
    let v = check_spf(&r, &check).await;
    assert_eq!(v.result(), "fail");
    assert_eq!(v.explanation(), Some("see https://explained.test/spf"));
}
