//! Local deliveries handed to another transport, in local(8)'s order:
//! aliases, `.forward`, `mailbox_transport_maps`, `mailbox_transport`,
//! mailbox; for names without a mailbox `fallback_transport_maps`,
//! `fallback_transport`, then `luser_relay`. Each case is a whole delivery
//! through the dispatcher with the outcome the queue manager logs.

use gatepost_testkit::sink::{Sink, SinkMode};

use super::commands::install_script;
use super::*;

const MASTER_CF: &str = "\
dovecot unix - n n - - pipe
  flags=DRhu user=homer argv={d}/bin/mb {d}/out/dovecot-${user}.txt ${user}@${nexthop}
clientpipe unix - n n - - pipe
  user=homer argv={d}/bin/mb {d}/out/clientpipe.txt ${client_address} ${client_helo}
  ${client_hostname} ${client_port} ${client_protocol} ${sasl_method} ${sasl_username} <${sasl_sender}>
";

const ALIASES: &str = "team: homer, stranger\ninfo: homer\n";

type Case<'a> = (&'a str, &'a str, Expect<'a>);

async fn run_cases(main_cf: &str, cases: &[Case<'_>]) -> Harness {
    let h = Harness::with_master_cf(main_cf, ALIASES, MASTER_CF);
    install_script(&h);
    for (rcpt, why, want) in cases {
        let outcomes = h.deliver("alice@remote.example", &[rcpt], BODY).await;
        assert_eq!(summary(&outcomes[0]), *want, "{rcpt}: {why}");
    }
    h
}

#[tokio::test]
async fn mailbox_transport_takes_every_mailbox_delivery() {
    use DeliveryStatus::*;
    let via_dovecot = || {
        (
            Sent,
            "pipe",
            "dovecot",
            "2.0.0",
            "delivered via dovecot service",
        )
    };
    let h = run_cases(
        "mailbox_transport = dovecot\n",
        &[
            ("homer@example.com", "a passwd user", via_dovecot()),
            (
                "stranger@example.com",
                "no passwd entry: still the mailbox step",
                via_dovecot(),
            ),
            ("info@example.com", "an alias to a user", via_dovecot()),
            (
                "team@example.com",
                "an alias to two users: combined",
                (
                    Sent,
                    "local",
                    "local",
                    "2.0.0",
                    "delivered via dovecot service",
                ),
            ),
            (
                "postmaster@example.com",
                "no alias: the mailbox step comes first",
                via_dovecot(),
            ),
        ],
    )
    .await;
    // The local transport's next hop ($myhostname) when none is given.
    let text = std::fs::read_to_string(h.path("out/dovecot-stranger.txt")).unwrap();
    assert!(
        text.lines().any(|l| l == "args=stranger@mx.example.com"),
        "{text}"
    );
    assert!(
        text.contains("\nDelivered-To: stranger@example.com\n"),
        "{text}"
    );
    assert!(!h.path("mail/homer").exists());
}

#[tokio::test]
async fn mailbox_transport_maps_by_user_then_mailbox_transport() {
    use DeliveryStatus::*;
    run_cases(
        "mailbox_transport_maps = inline:{ { homer = discard:kept by map }, { stranger = error:5.2.1 mailbox disabled } }\n\
         mailbox_transport = dovecot\n",
        &[
            ("Homer+x@example.com", "listed, by user name", (Sent, "discard", "none", "2.0.0", "kept by map")),
            ("stranger@example.com", "listed", (Bounced, "error", "none", "5.2.1", "mailbox disabled")),
            ("other@example.com", "not listed", (Sent, "pipe", "dovecot", "2.0.0", "delivered via dovecot service")),
        ],
    )
    .await;
    run_cases(
        "mailbox_transport_maps = texthash:/nonexistent/transport\nmailbox_transport = dovecot\n",
        &[(
            "homer@example.com",
            "table failure",
            (Deferred, "local", "local", "4.3.0", "table lookup failure"),
        )],
    )
    .await;
    run_cases(
        "mailbox_transport = local\n",
        &[(
            "homer@example.com",
            "back to local: a loop",
            (
                Deferred,
                "local",
                "none",
                "4.3.5",
                "mail system configuration error",
            ),
        )],
    )
    .await;
    run_cases(
        "mailbox_transport = nosuch:x\n",
        &[(
            "homer@example.com",
            "no such transport",
            (
                Deferred,
                "qmgr",
                "none",
                "4.3.0",
                "mail transport unavailable",
            ),
        )],
    )
    .await;
}

#[tokio::test]
async fn fallback_transport_only_for_names_without_a_mailbox() {
    use DeliveryStatus::*;
    let mailbox = || (Sent, "local", "local", "2.0.0", "delivered to mailbox");
    let h = run_cases(
        "local_mailbox_for_unknown_users = no\n\
         fallback_transport_maps = inline:{ { lost = error:5.1.1 gone away } }\n\
         fallback_transport = dovecot\n\
         luser_relay = homer",
        &[
            ("homer@example.com", "a passwd user: the mailbox", mailbox()),
            (
                "lost@example.com",
                "listed in fallback_transport_maps",
                (Bounced, "error", "none", "5.1.1", "gone away"),
            ),
            (
                "stranger@example.com",
                "fallback_transport before luser_relay",
                (
                    Sent,
                    "pipe",
                    "dovecot",
                    "2.0.0",
                    "delivered via dovecot service",
                ),
            ),
            (
                "team@example.com",
                "an alias: mailbox and fallback",
                (
                    Sent,
                    "local",
                    "local",
                    "2.0.0",
                    "homer@example.com: delivered to mailbox; \
                     stranger@example.com: delivered via dovecot service",
                ),
            ),
        ],
    )
    .await;
    let homer = std::fs::read_to_string(h.path("mail/homer")).unwrap();
    assert_eq!(homer.matches("\nSubject: test\n").count(), 2, "{homer}");
    // Without fallback_transport: luser_relay, then the required aliases.
    run_cases(
        "local_mailbox_for_unknown_users = no\nluser_relay = $user@example.com\n",
        &[(
            "stranger@example.com",
            "luser_relay naming the recipient",
            (
                Bounced,
                "local",
                "local",
                "5.1.1",
                "unknown user: \"stranger\"",
            ),
        )],
    )
    .await;
    run_cases(
        "local_mailbox_for_unknown_users = no\nluser_relay = homer\n",
        &[(
            "postmaster@example.com",
            "luser_relay before the required aliases",
            mailbox(),
        )],
    )
    .await;
}

#[tokio::test]
async fn mailbox_transport_to_an_smtp_next_hop() {
    let sink = Sink::start("127.0.4.1", SinkMode::Accept).unwrap();
    let port = sink.port();
    let main_cf = format!("mailbox_transport = smtp:[127.0.4.1]:{port}\n");
    let h = Harness::with_master_cf(&main_cf, ALIASES, MASTER_CF);
    let outcomes = h
        .deliver("alice@remote.example", &["info@example.com"], BODY)
        .await;
    let o = &outcomes[0];
    let relay = format!("127.0.4.1[127.0.4.1]:{port}");
    assert_eq!(
        (
            &o.status,
            o.agent.as_str(),
            o.relay.as_str(),
            o.dsn.as_str()
        ),
        (&DeliveryStatus::Sent, "smtp", relay.as_str(), "2.0.0"),
        "{o:?}"
    );
    assert!(o.text.starts_with("250 2.0.0 Ok: queued as "), "{o:?}");
    // The address the alias expanded to, as local(8) passes it on.
    let got = sink.wait_for_messages(1, std::time::Duration::from_secs(10));
    assert_eq!(got[0].rcpt_to, ["homer@example.com"], "{got:?}");
}

#[tokio::test]
async fn commands_see_the_client_that_submitted_the_message() {
    let main_cf = "mailbox_command = {d}/bin/mb {d}/out/mailbox-command.txt\n\
                   transport_maps = inline:{ pipe.example=clientpipe: }\n";
    let h = Harness::with_master_cf(main_cf, ALIASES, MASTER_CF);
    install_script(&h);
    let rcpts = ["homer@example.com", "x@pipe.example"];
    let outcomes = h.deliver("alice@remote.example", &rcpts, BODY).await;
    for o in &outcomes {
        assert_eq!(o.status, DeliveryStatus::Sent, "{o:?}");
    }
    let text = std::fs::read_to_string(h.path("out/mailbox-command.txt")).unwrap();
    for line in [
        "CLIENT_HOSTNAME=client.example",
        "CLIENT_ADDRESS=192.0.2.1",
        "CLIENT_HELO=helo.example",
        "CLIENT_PROTOCOL=ESMTP",
        "SASL_METHOD=PLAIN",
        "SASL_USERNAME=alice",
        // Not given: not exported.
        "SASL_SENDER=unset",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in {text}");
    }
    let text = std::fs::read_to_string(h.path("out/clientpipe.txt")).unwrap();
    let args = "args=192.0.2.1 helo.example client.example 40000 ESMTP PLAIN alice <>";
    assert!(text.lines().any(|l| l == args), "{args} in {text}");
}
