//! LMTP client tests against an LMTP sink written here, on a Unix-domain
//! socket (relative to the queue directory) and on TCP: LHLO, and one
//! reply per recipient after the content, each recipient ending on its own.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use gatepost_config::Config;
use gatepost_qmgr::DeliveryStatus;
use gatepost_queue::{Envelope, EnvelopeRecipient, QueueId};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener};

use super::resolver::testing::FakeResolver;
use super::*;

/// The sink's answers by local part: `ok*` delivered, `later*` 452 after
/// the content, `full*` 552 after the content, `nobody*` 550 at RCPT.
fn rcpt_reply(local: &str) -> &'static str {
    if local.starts_with("nobody") {
        "550 5.1.1 <nobody@mail.example> User doesn't exist: nobody@mail.example"
    } else {
        "250 2.1.5 OK"
    }
}

fn final_reply(local: &str) -> String {
    if local.starts_with("later") {
        "452 4.2.2 <later@mail.example> Mailbox is temporarily full".to_string()
    } else if local.starts_with("full") {
        "552 5.2.2 <full@mail.example> Quota exceeded (mailbox for user is full)".to_string()
    } else {
        format!("250 2.0.0 <{local}@mail.example> Saved")
    }
}

/// One LMTP conversation; the client's lines go to `seen`.
async fn lmtp_sink<S: AsyncRead + AsyncWrite + Unpin>(stream: S, seen: Arc<Mutex<Vec<String>>>) {
    let (r, mut w) = tokio::io::split(stream);
    let mut r = BufReader::new(r);
    let _ = w.write_all(b"220 sink.test Dovecot ready.\r\n").await;
    let mut accepted: Vec<String> = Vec::new();
    let mut in_data = false;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        seen.lock().unwrap().push(line.clone());
        if in_data {
            if line == "." {
                in_data = false;
                for local in accepted.drain(..) {
                    let _ = w
                        .write_all(format!("{}\r\n", final_reply(&local)).as_bytes())
                        .await;
                }
            }
            continue;
        }
        let verb = line
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply = match verb.as_str() {
            "LHLO" => "250-sink.test\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING"
                .to_string(),
            "MAIL" => "250 2.1.0 OK".to_string(),
            "RCPT" => {
                let local = line
                    .split_once('<')
                    .and_then(|(_, rest)| rest.split_once('@'))
                    .map(|(l, _)| l.to_string())
                    .unwrap_or_default();
                let reply = rcpt_reply(&local);
                if reply.starts_with('2') {
                    accepted.push(local);
                }
                reply.to_string()
            }
            "DATA" if accepted.is_empty() => "503 5.5.1 No valid recipients".to_string(),
            "DATA" => {
                in_data = true;
                "354 OK".to_string()
            }
            "QUIT" => {
                let _ = w.write_all(b"221 2.0.0 Bye\r\n").await;
                return;
            }
            _ => "500 5.5.1 Unknown command".to_string(),
        };
        let _ = w.write_all(format!("{reply}\r\n").as_bytes()).await;
    }
}

fn message(rcpts: &[&str]) -> QueuedMessage {
    QueuedMessage {
        id: QueueId::short_form(1, 2),
        envelope: Envelope {
            sender: "alice@spec.test".to_string(),
            recipients: rcpts.iter().map(|r| EnvelopeRecipient::new(r)).collect(),
            arrival: SystemTime::now(),
            client: "local".to_string(),
            ret: None,
            envid: None,
            filter: None,
        },
        path: std::path::PathBuf::from("/nonexistent"),
        preloaded: Default::default(),
    }
}

fn lmtp_agent(queue_directory: &std::path::Path) -> SmtpAgent {
    let cfg = Config::parse_main_cf(
        &format!(
            "myhostname = mail.example\nqueue_directory = {}\nlmtp_lhlo_name = out.example\n\
             lmtp_connect_timeout = 5s\n",
            queue_directory.display()
        ),
        "main.cf",
    )
    .unwrap();
    SmtpAgent::lmtp_from_config(&cfg, Arc::new(FakeResolver::default())).unwrap()
}

async fn deliver(agent: &SmtpAgent, nexthop: &str, to: &[&str]) -> Vec<DeliveryOutcome> {
    let rcpts: Vec<SmtpRcpt> = to
        .iter()
        .enumerate()
        .map(|(index, a)| SmtpRcpt {
            index,
            address: a.to_string(),
        })
        .collect();
    agent
        .deliver(&message(to), b"Subject: hi\n\nbody\n", nexthop, &rcpts)
        .await
}

#[tokio::test]
async fn unix_socket_per_recipient_replies() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("private")).unwrap();
    let listener = UnixListener::bind(dir.path().join("private/dovecot-lmtp")).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            lmtp_sink(stream, log).await;
        }
    });
    let to = [
        "ok@mail.example",
        "later@mail.example",
        "full@mail.example",
        "nobody@mail.example",
        "ok2@mail.example",
    ];
    let mut out = deliver(&lmtp_agent(dir.path()), "unix:private/dovecot-lmtp", &to).await;
    out.sort_by_key(|o| o.recipient);
    let relay = "mail.example[private/dovecot-lmtp]";
    let got: Vec<(DeliveryStatus, &str, &str, &str, &str)> = out
        .iter()
        .map(|o| {
            (
                o.status.clone(),
                o.dsn.as_str(),
                o.text.as_str(),
                o.relay.as_str(),
                o.agent.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (DeliveryStatus::Sent, "2.0.0", "250 2.0.0 <ok@mail.example> Saved", relay, "lmtp"),
            (
                DeliveryStatus::Deferred,
                "4.2.2",
                "host mail.example[private/dovecot-lmtp] said: 452 4.2.2 <later@mail.example> Mailbox is temporarily full (in reply to end of DATA command)",
                relay,
                "lmtp"
            ),
            (
                DeliveryStatus::Bounced,
                "5.2.2",
                "host mail.example[private/dovecot-lmtp] said: 552 5.2.2 <full@mail.example> Quota exceeded (mailbox for user is full) (in reply to end of DATA command)",
                relay,
                "lmtp"
            ),
            (
                DeliveryStatus::Bounced,
                "5.1.1",
                "host mail.example[private/dovecot-lmtp] said: 550 5.1.1 <nobody@mail.example> User doesn't exist: nobody@mail.example (in reply to RCPT TO command)",
                relay,
                "lmtp"
            ),
            (DeliveryStatus::Sent, "2.0.0", "250 2.0.0 <ok2@mail.example> Saved", relay, "lmtp"),
        ]
    );
    let transcript = seen.lock().unwrap().clone();
    assert_eq!(
        transcript.first().map(String::as_str),
        Some("LHLO out.example")
    );
    assert!(
        transcript
            .iter()
            .any(|l| l == "MAIL FROM:<alice@spec.test>"),
        "{transcript:?}"
    );
    assert_eq!(transcript.last().map(String::as_str), Some("QUIT"));
}

#[tokio::test]
async fn inet_host_port_and_missing_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            lmtp_sink(stream, log).await;
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let agent = lmtp_agent(dir.path());
    let out = deliver(
        &agent,
        &format!("inet:127.0.0.1:{port}"),
        &["ok@mail.example"],
    )
    .await;
    assert_eq!(out[0].status, DeliveryStatus::Sent, "{out:?}");
    assert_eq!(out[0].relay, format!("127.0.0.1[127.0.0.1]:{port}"));
    assert_eq!(out[0].agent, "lmtp");

    let out = deliver(&agent, "unix:private/nothing-here", &["ok@mail.example"]).await;
    assert_eq!(out[0].status, DeliveryStatus::Deferred);
    assert_eq!(out[0].dsn, "4.4.1");
    assert_eq!(out[0].relay, "none");
    assert!(
        out[0]
            .text
            .starts_with("connect to mail.example[private/nothing-here]: No such file"),
        "{}",
        out[0].text
    );
}
