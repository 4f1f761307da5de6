//! Agent tests against scripted SMTP servers on 127.0.0.1 (real sockets).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::resolver::testing::FakeResolver;
use super::*;
use gatepost_queue::{Envelope, EnvelopeRecipient, QueueId};

/// What the scripted server answers: greeting, EHLO lines, then a reply per
/// command verb (MAIL, RCPT (in order), DATA, end of data).
#[derive(Clone)]
struct Script {
    greeting: &'static str,
    ehlo: Vec<&'static str>,
    helo: &'static str,
    mail: &'static str,
    rcpt: Vec<&'static str>,
    data: &'static str,
    done: &'static str,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            greeting: "220 sink.test ESMTP",
            ehlo: vec![
                "250-sink.test",
                "250-PIPELINING",
                "250-SIZE 100000",
                "250 8BITMIME",
            ],
            helo: "250 sink.test",
            mail: "250 2.1.0 Ok",
            rcpt: vec![],
            data: "354 End data with <CR><LF>.<CR><LF>",
            done: "250 2.0.0 Ok: queued as SINK1",
        }
    }
}

/// Start a one-connection server; returns its address and the transcript
/// (client lines, message data lines included).
async fn serve(script: Script) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        let send = |s: String| format!("{s}\r\n");
        w.write_all(send(script.greeting.to_string()).as_bytes())
            .await
            .unwrap();
        if !script.greeting.starts_with('2') {
            // Wait for QUIT.
        }
        let mut rcpt_no = 0;
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
                    w.write_all(send(script.done.to_string()).as_bytes())
                        .await
                        .unwrap();
                }
                continue;
            }
            let verb = line
                .split([' ', ':'])
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            let reply = match verb.as_str() {
                "EHLO" => script.ehlo.join("\r\n"),
                "HELO" => script.helo.to_string(),
                "MAIL" => script.mail.to_string(),
                "RCPT" => {
                    rcpt_no += 1;
                    script
                        .rcpt
                        .get(rcpt_no - 1)
                        .copied()
                        .unwrap_or("250 2.1.5 Ok")
                        .to_string()
                }
                "DATA" => {
                    in_data = script.data.starts_with("354");
                    script.data.to_string()
                }
                "QUIT" => {
                    let _ = w.write_all(b"221 2.0.0 Bye\r\n").await;
                    return;
                }
                _ => "502 5.5.2 Error: command not recognized".to_string(),
            };
            w.write_all(send(reply).as_bytes()).await.unwrap();
        }
    });
    (addr, log)
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

fn agent() -> SmtpAgent {
    let params = SmtpParams {
        timeouts: smtp_params::Timeouts {
            connect: Duration::from_secs(2),
            helo: Duration::from_secs(2),
            mail: Duration::from_secs(2),
            rcpt: Duration::from_secs(2),
            data_init: Duration::from_secs(2),
            data_xfer: Duration::from_secs(2),
            data_done: Duration::from_secs(2),
            quit: Duration::from_secs(2),
        },
        ..SmtpParams::default()
    };
    SmtpAgent::for_tests(
        params,
        OwnAddresses::default(),
        Arc::new(FakeResolver::default()),
    )
}

fn rcpts(list: &[&str]) -> Vec<SmtpRcpt> {
    list.iter()
        .enumerate()
        .map(|(index, a)| SmtpRcpt {
            index,
            address: a.to_string(),
        })
        .collect()
}

async fn run(script: Script, to: &[&str]) -> (Vec<DeliveryOutcome>, Vec<String>, String) {
    let (addr, log) = serve(script).await;
    let nexthop = format!("[127.0.0.1]:{}", addr.port());
    let out = agent()
        .deliver(
            &message(to),
            b"Subject: hi\n\n.dot\nbody\n",
            &nexthop,
            &rcpts(to),
        )
        .await;
    let transcript = log.lock().unwrap().clone();
    (
        out,
        transcript,
        format!("127.0.0.1[127.0.0.1]:{}", addr.port()),
    )
}

#[tokio::test]
async fn delivered_with_pipelining() {
    let (out, transcript, relay) =
        run(Script::default(), &["bob@far.test", "carol@far.test"]).await;
    assert_eq!(out.len(), 2);
    for o in &out {
        assert_eq!(o.status, DeliveryStatus::Sent);
        assert_eq!(o.relay, relay);
        assert_eq!(o.dsn, "2.0.0");
        assert_eq!(o.text, "250 2.0.0 Ok: queued as SINK1");
        assert_eq!(o.agent, "smtp");
    }
    assert_eq!(
        transcript,
        vec![
            "EHLO localhost",
            "MAIL FROM:<alice@spec.test> SIZE=27",
            "RCPT TO:<bob@far.test>",
            "RCPT TO:<carol@far.test>",
            "DATA",
            "Subject: hi",
            "",
            "..dot",
            "body",
            ".",
            "QUIT",
        ]
    );
}

#[tokio::test]
async fn per_recipient_results() {
    let script = Script {
        rcpt: vec![
            "550 5.1.1 <bob@far.test>: Recipient address rejected: User unknown",
            "250 2.1.5 Ok",
            "451 4.3.0 <dan@far.test>: try later",
        ],
        ..Script::default()
    };
    let (out, _, relay) = run(script, &["bob@far.test", "carol@far.test", "dan@far.test"]).await;
    let by = |i: usize| out.iter().find(|o| o.recipient == i).unwrap();
    assert_eq!(by(0).status, DeliveryStatus::Bounced);
    assert_eq!(by(0).dsn, "5.1.1");
    assert_eq!(
        by(0).text,
        format!("host {} said: 550 5.1.1 <bob@far.test>: Recipient address rejected: User unknown (in reply to RCPT TO command)", relay.rsplit_once(':').unwrap().0)
    );
    assert_eq!(by(0).relay, relay);
    assert_eq!(by(1).status, DeliveryStatus::Sent);
    assert_eq!(by(2).status, DeliveryStatus::Deferred);
    assert_eq!(by(2).dsn, "4.3.0");
}

#[tokio::test]
async fn helo_fallback_and_lockstep() {
    let script = Script {
        ehlo: vec!["502 5.5.2 Error: command not recognized"],
        ..Script::default()
    };
    let (out, transcript, _) = run(script, &["bob@far.test"]).await;
    assert_eq!(out[0].status, DeliveryStatus::Sent);
    assert_eq!(
        &transcript[..3],
        &[
            "EHLO localhost",
            "HELO localhost",
            "MAIL FROM:<alice@spec.test>"
        ]
    );
}

#[tokio::test]
async fn session_level_failures() {
    let cases: Vec<(Script, DeliveryStatus, &str, &str)> = vec![
        (
            Script {
                greeting: "554 5.7.1 go away",
                ..Script::default()
            },
            DeliveryStatus::Deferred,
            "4.7.1",
            "refused to talk to me: 554 5.7.1 go away",
        ),
        (
            Script {
                mail: "553 5.7.1 sender rejected",
                ..Script::default()
            },
            DeliveryStatus::Bounced,
            "5.7.1",
            "said: 553 5.7.1 sender rejected (in reply to MAIL FROM command)",
        ),
        (
            Script {
                done: "452 4.3.1 Insufficient system storage",
                ..Script::default()
            },
            DeliveryStatus::Deferred,
            "4.3.1",
            "said: 452 4.3.1 Insufficient system storage (in reply to end of DATA command)",
        ),
        (
            Script {
                data: "554 5.5.1 Error: no valid recipients",
                ..Script::default()
            },
            DeliveryStatus::Bounced,
            "5.5.1",
            "(in reply to DATA command)",
        ),
        (
            Script {
                ehlo: vec!["250-sink.test", "250 SIZE 10"],
                ..Script::default()
            },
            DeliveryStatus::Bounced,
            "5.3.4",
            "message size 27 exceeds size limit 10 of server 127.0.0.1[127.0.0.1]",
        ),
    ];
    for (script, status, dsn, text) in cases {
        let (out, _, _) = run(script, &["bob@far.test"]).await;
        assert_eq!(out[0].status, status, "{text}");
        assert_eq!(out[0].dsn, dsn, "{text}");
        assert!(out[0].text.contains(text), "{} vs {text}", out[0].text);
    }
}

#[tokio::test]
async fn connection_refused() {
    // Find a free port, then close it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = agent()
        .deliver(
            &message(&["bob@far.test"]),
            b"x\n",
            &format!("[127.0.0.1]:{port}"),
            &rcpts(&["bob@far.test"]),
        )
        .await;
    assert_eq!(out[0].status, DeliveryStatus::Deferred);
    assert_eq!(out[0].dsn, "4.4.1");
    assert_eq!(out[0].relay, "none");
    assert_eq!(
        out[0].text,
        format!("connect to 127.0.0.1[127.0.0.1]:{port}: Connection refused")
    );
}

#[tokio::test]
async fn lost_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            let _ = s.write_all(b"220 x ESMTP\r\n").await;
        }
    });
    let out = agent()
        .deliver(
            &message(&["bob@far.test"]),
            b"x\n",
            &format!("[127.0.0.1]:{port}"),
            &rcpts(&["bob@far.test"]),
        )
        .await;
    assert_eq!(out[0].status, DeliveryStatus::Deferred);
    assert_eq!(out[0].dsn, "4.4.2");
    assert_eq!(
        out[0].text,
        "lost connection with 127.0.0.1[127.0.0.1] while performing the EHLO handshake"
    );
}

#[tokio::test]
async fn null_mx_and_relayhost_problem() {
    let resolver = FakeResolver::default().mx_fail("nullmx.test", resolver::DnsFailure::NullMx);
    let params = SmtpParams {
        relayhost: "[gone.test]".to_string(),
        ..SmtpParams::default()
    };
    let a = SmtpAgent::for_tests(params, OwnAddresses::default(), Arc::new(resolver));
    let out = a
        .deliver(
            &message(&["u@nullmx.test"]),
            b"x\n",
            "nullmx.test",
            &rcpts(&["u@nullmx.test"]),
        )
        .await;
    assert_eq!(out[0].status, DeliveryStatus::Bounced);
    assert_eq!(out[0].dsn, "5.1.0");
    assert_eq!(out[0].relay, "none");
    assert_eq!(
        out[0].text,
        "Domain nullmx.test does not accept mail (nullMX)"
    );
    let out = a
        .deliver(
            &message(&["u@far.test"]),
            b"x\n",
            "[gone.test]",
            &rcpts(&["u@far.test"]),
        )
        .await;
    assert_eq!(out[0].status, DeliveryStatus::Deferred);
    assert_eq!(out[0].dsn, "4.3.5");
}

fn fallback_agent(fallback: &[String]) -> SmtpAgent {
    let mut a = agent();
    a.params.fallback_relay = fallback.to_vec();
    a
}

#[tokio::test]
async fn fallback_relay_takes_what_the_next_hop_defers() {
    // The next hop refuses the connection: all go to the fallback relay.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let (fallback, log) = serve(Script::default()).await;
    let a = fallback_agent(&[format!("[127.0.0.1]:{}", fallback.port())]);
    let to = ["bob@far.test"];
    let out = a
        .deliver(
            &message(&to),
            b"x\n",
            &format!("[127.0.0.1]:{closed_port}"),
            &rcpts(&to),
        )
        .await;
    assert_eq!(out[0].status, DeliveryStatus::Sent, "{out:?}");
    assert_eq!(
        out[0].relay,
        format!("127.0.0.1[127.0.0.1]:{}", fallback.port())
    );
    assert!(log
        .lock()
        .unwrap()
        .contains(&"RCPT TO:<bob@far.test>".to_string()));

    // The next hop bounces one recipient and defers the other: only the
    // deferred one is offered to the fallback relay.
    let (primary, _) = serve(Script {
        rcpt: vec!["550 5.1.1 no such user", "450 4.2.0 try later"],
        ..Script::default()
    })
    .await;
    let (fallback, log) = serve(Script::default()).await;
    let a = fallback_agent(&[format!("[127.0.0.1]:{}", fallback.port())]);
    let to = ["gone@far.test", "later@far.test"];
    let mut out = a
        .deliver(
            &message(&to),
            b"x\n",
            &format!("[127.0.0.1]:{}", primary.port()),
            &rcpts(&to),
        )
        .await;
    out.sort_by_key(|o| o.recipient);
    assert_eq!(out[0].status, DeliveryStatus::Bounced, "{out:?}");
    assert_eq!(
        out[0].relay,
        format!("127.0.0.1[127.0.0.1]:{}", primary.port())
    );
    assert_eq!(out[1].status, DeliveryStatus::Sent, "{out:?}");
    assert_eq!(
        out[1].relay,
        format!("127.0.0.1[127.0.0.1]:{}", fallback.port())
    );
    let seen = log.lock().unwrap().clone();
    assert!(
        seen.contains(&"RCPT TO:<later@far.test>".to_string()),
        "{seen:?}"
    );
    assert!(
        !seen.contains(&"RCPT TO:<gone@far.test>".to_string()),
        "{seen:?}"
    );
}

#[tokio::test]
async fn fallback_relay_after_a_lookup_failure_and_its_own_problem() {
    // No such next hop (hard): the fallback relay is tried; it cannot be
    // found either: 4.3.5, a configuration problem, not a bounce.
    let a = fallback_agent(&["[relay.gone.test]".to_string()]);
    let to = ["u@nowhere.test"];
    let out = a
        .deliver(&message(&to), b"x\n", "[nowhere.test]", &rcpts(&to))
        .await;
    assert_eq!(out[0].status, DeliveryStatus::Deferred, "{out:?}");
    assert_eq!(out[0].dsn, "4.3.5");
    assert_eq!(out[0].relay, "none");
    assert!(
        out[0].text.contains("name=relay.gone.test"),
        "{}",
        out[0].text
    );
}
