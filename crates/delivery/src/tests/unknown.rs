//! `luser_relay`: a local name with no passwd entry and no alias goes to
//! the relay address (`$user` ... expanded) instead of bouncing.

use super::*;

#[tokio::test]
async fn luser_relay_takes_unknown_names() {
    let h = Harness::new(
        "local_mailbox_for_unknown_users = no\nluser_relay = homer+$user",
        "",
    );
    let outcomes = h
        .deliver("alice@remote.example", &["stranger@example.com"], BODY)
        .await;
    assert_eq!(
        outcomes[0].status,
        DeliveryStatus::Sent,
        "{:?}",
        outcomes[0]
    );
    let mailbox = std::fs::read_to_string(h.path("mail/homer")).unwrap();
    assert!(mailbox.contains("Subject: test"), "{mailbox}");
    assert!(!h.path("mail/stranger").exists());

    let h = Harness::new("local_mailbox_for_unknown_users = no", "");
    let outcomes = h
        .deliver("alice@remote.example", &["stranger@example.com"], BODY)
        .await;
    assert_eq!(
        (outcomes[0].status.clone(), outcomes[0].text.as_str()),
        (DeliveryStatus::Bounced, "unknown user: \"stranger\"")
    );
}
