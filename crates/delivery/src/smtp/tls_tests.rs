//! STARTTLS in the SMTP client against a real TLS server on 127.0.0.1
//! (self-signed certificate, or one signed by a test CA made with rcgen):
//! TLS at `may`, deferral at `encrypt` when it is not offered or the
//! handshake fails, plaintext at `none`; the `smtp_tls_loglevel` line and
//! the handshake warning; `verify` and `secure` with `smtp_tls_CAfile`
//! (trusted, untrusted, name mismatch), `smtp_tls_policy_maps`, and AUTH
//! to the server inside TLS (accepted, refused with the server's reply).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use gatepost_config::Config;
use gatepost_queue::{Envelope, EnvelopeRecipient, QueueId};
use gatepost_tls::{CertFiles, ProtocolFloor, TlsAcceptor};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::resolver::testing::FakeResolver;
use super::*;

/// How the test server answers STARTTLS.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Offer {
    /// Not in the EHLO reply.
    None,
    /// 220, then (in the same write) a pipelined line that must be discarded.
    Tls,
    /// 220, then the connection is closed: the handshake fails.
    Broken,
}

/// Client lines as the server saw them, each marked with whether it came
/// inside TLS.
type Transcript = Arc<Mutex<Vec<(bool, String)>>>;

fn acceptor(dir: &std::path::Path) -> TlsAcceptor {
    let (cert, key, _) = gatepost_tls::ensure_self_signed(dir, "sink.test").expect("certificate");
    let files = CertFiles::Pair {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
    };
    let floor = ProtocolFloor {
        tls12: true,
        tls13: true,
    };
    TlsAcceptor::from(gatepost_tls::server_config(&files, floor).expect("server config"))
}

/// Serve SMTP until QUIT or STARTTLS; returns true after a STARTTLS 220.
async fn converse<S: AsyncBufRead + AsyncWrite + Unpin>(
    stream: &mut S,
    offer: Offer,
    tls: bool,
    seen: &Transcript,
) -> bool {
    let mut in_data = false;
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
            return false;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        seen.lock().unwrap().push((tls, line.clone()));
        if in_data {
            if line == "." {
                in_data = false;
                let _ = stream.write_all(b"250 2.0.0 Ok: queued as TLS1\r\n").await;
            }
            continue;
        }
        let verb = line
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            // LMTP's LHLO is answered as EHLO.
            "EHLO" | "LHLO" if offer != Offer::None && !tls => {
                b"250-sink.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"
            }
            "EHLO" | "LHLO" if tls => {
                b"250-sink.test\r\n250-AUTH LOGIN PLAIN\r\n250 PIPELINING\r\n"
            }
            "EHLO" | "LHLO" => b"250-sink.test\r\n250 PIPELINING\r\n",
            // alice / s3cret
            "AUTH" if line == "AUTH PLAIN AGFsaWNlAHMzY3JldA==" => {
                b"235 2.7.0 Authentication successful\r\n"
            }
            "AUTH" => b"535 5.7.8 Error: authentication failed: authentication failure\r\n",
            "STARTTLS" => {
                let _ = stream
                    .write_all(b"220 2.0.0 Ready to start TLS\r\n250 pipelined junk\r\n")
                    .await;
                let _ = stream.flush().await;
                return true;
            }
            "DATA" => {
                in_data = true;
                b"354 End data with <CR><LF>.<CR><LF>\r\n"
            }
            "QUIT" => {
                let _ = stream.write_all(b"221 2.0.0 Bye\r\n").await;
                return false;
            }
            _ => b"250 2.0.0 Ok\r\n",
        };
        if stream.write_all(reply).await.is_err() {
            return false;
        }
    }
}

async fn serve(offer: Offer, acceptor: TlsAcceptor) -> (u16, Transcript) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: Transcript = Arc::default();
    let seen = Arc::clone(&log);
    tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let mut plain = BufReader::new(stream);
        if plain.write_all(b"220 sink.test ESMTP\r\n").await.is_err() {
            return;
        }
        if !converse(&mut plain, offer, false, &seen).await || offer == Offer::Broken {
            return;
        }
        let Ok(tls) = acceptor.accept(plain.into_inner()).await else {
            return;
        };
        converse(&mut BufReader::new(tls), offer, true, &seen).await;
    });
    (port, log)
}

fn agent(main_cf: &str, resolver: FakeResolver) -> SmtpAgent {
    let mut cfg = Config::parse_main_cf(main_cf, "main.cf").expect("main.cf");
    cfg.set("myhostname", "localhost");
    let base = SmtpParams::from_config(&cfg).expect("params");
    let t = Duration::from_secs(5);
    let params = SmtpParams {
        timeouts: smtp_params::Timeouts {
            connect: t,
            helo: t,
            mail: t,
            rcpt: t,
            data_init: t,
            data_xfer: t,
            data_done: t,
            quit: t,
        },
        ..base
    };
    SmtpAgent::for_tests(params, OwnAddresses::default(), Arc::new(resolver))
}

async fn run(main_cf: &str, offer: Offer) -> (DeliveryOutcome, Vec<(bool, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let (port, log) = serve(offer, acceptor(dir.path())).await;
    let out = deliver_to(
        main_cf,
        &format!("[127.0.0.1]:{port}"),
        FakeResolver::default(),
    )
    .await;
    let transcript = log.lock().unwrap().clone();
    (out, transcript)
}

/// Deliver the test message to `nexthop` with this configuration.
async fn deliver_to(main_cf: &str, nexthop: &str, resolver: FakeResolver) -> DeliveryOutcome {
    gatepost_testkit::log_capture::in_process_log();
    let msg = QueuedMessage {
        id: QueueId::short_form(1, 2),
        envelope: Envelope {
            sender: "alice@spec.test".to_string(),
            recipients: vec![EnvelopeRecipient::new("bob@far.test")],
            arrival: SystemTime::now(),
            client: "local".to_string(),
            ret: None,
            envid: None,
            filter: None,
        },
        path: std::path::PathBuf::from("/nonexistent"),
        preloaded: Default::default(),
    };
    let rcpts = [SmtpRcpt {
        index: 0,
        address: "bob@far.test".to_string(),
    }];
    let mut out = agent(main_cf, resolver)
        .deliver(&msg, b"Subject: hi\n\nbody\n", nexthop, &rcpts)
        .await;
    assert_eq!(out.len(), 1);
    out.remove(0)
}

fn lines(transcript: &[(bool, String)], tls: bool) -> Vec<&str> {
    transcript
        .iter()
        .filter(|(t, _)| *t == tls)
        .map(|(_, l)| l.as_str())
        .collect()
}

#[tokio::test]
async fn may_uses_starttls_and_sends_the_message_inside_tls() {
    for main_cf in ["smtp_tls_security_level = may\n", "smtp_use_tls = yes\n"] {
        let (out, transcript) = run(main_cf, Offer::Tls).await;
        assert_eq!(out.status, DeliveryStatus::Sent, "{main_cf}: {}", out.text);
        assert_eq!(out.text, "250 2.0.0 Ok: queued as TLS1");
        assert_eq!(lines(&transcript, false), ["EHLO localhost", "STARTTLS"]);
        let inside = lines(&transcript, true);
        assert_eq!(
            inside[..3],
            [
                "EHLO localhost",
                "MAIL FROM:<alice@spec.test>",
                "RCPT TO:<bob@far.test>"
            ]
        );
        assert!(inside.contains(&"body"), "{inside:?}");
        assert_eq!(inside.last(), Some(&"QUIT"));
    }
}

#[tokio::test]
async fn encrypt_defers_when_starttls_is_not_offered() {
    for main_cf in [
        "smtp_tls_security_level = encrypt\n",
        "smtp_enforce_tls = yes\n",
    ] {
        let (out, transcript) = run(main_cf, Offer::None).await;
        assert_eq!(out.status, DeliveryStatus::Deferred, "{main_cf}");
        assert_eq!(out.dsn, "4.7.4");
        assert_eq!(
            out.text,
            "TLS is required, but was not offered by host 127.0.0.1[127.0.0.1]"
        );
        assert_eq!(lines(&transcript, false), ["EHLO localhost", "QUIT"]);
    }
}

#[tokio::test]
async fn encrypt_defers_on_a_failed_handshake() {
    let (out, transcript) = run("smtp_tls_security_level = encrypt\n", Offer::Broken).await;
    assert_eq!(out.status, DeliveryStatus::Deferred);
    assert_eq!(out.dsn, "4.7.5");
    assert_eq!(out.text, "Cannot start TLS: handshake failure");
    assert_eq!(lines(&transcript, false), ["EHLO localhost", "STARTTLS"]);
}

#[tokio::test]
async fn none_and_may_without_offer_stay_plaintext() {
    for (main_cf, offer) in [
        ("smtp_tls_security_level = none\n", Offer::Tls),
        ("", Offer::Tls),
        ("smtp_tls_security_level = may\n", Offer::None),
    ] {
        let (out, transcript) = run(main_cf, offer).await;
        assert_eq!(out.status, DeliveryStatus::Sent, "{main_cf}: {}", out.text);
        assert!(lines(&transcript, true).is_empty(), "{main_cf}");
        let plain = lines(&transcript, false);
        assert!(!plain.contains(&"STARTTLS"), "{main_cf}: {plain:?}");
        assert!(plain.contains(&"body"), "{main_cf}: {plain:?}");
    }
}

#[tokio::test]
async fn loglevel_1_logs_the_untrusted_session_and_a_failed_handshake_warns() {
    let log = gatepost_testkit::log_capture::in_process_log();
    let (out, _) = run(
        "smtp_tls_security_level = may\nsmtp_tls_loglevel = 1\n",
        Offer::Tls,
    )
    .await;
    assert_eq!(out.status, DeliveryStatus::Sent, "{}", out.text);
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let line = text
        .lines()
        .find(|l| l.contains("Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:"))
        .unwrap_or_else(|| panic!("no TLS line in:\n{text}"));
    assert!(line.contains("smtp["), "{line}");
    assert!(
        line.contains(": TLSv1.3 with cipher TLS_") && line.ends_with(" bits)"),
        "{line}"
    );
    let (out, _) = run("smtp_tls_security_level = may\n", Offer::Broken).await;
    assert_eq!(out.status, DeliveryStatus::Deferred);
    assert_eq!(out.text, "Cannot start TLS: handshake failure");
    let text = std::fs::read_to_string(log).unwrap_or_default();
    assert!(
        text.lines()
            .any(|l| l.contains("smtp[") && l.contains("warning: TLS library problem: ")),
        "{text}"
    );
}

/// A test CA (testkit's), and servers presenting certificates it signs.
struct Pki(gatepost_testkit::pki::TestPki);

impl Pki {
    fn new() -> Pki {
        Pki(gatepost_testkit::pki::TestPki::new())
    }

    fn named(ca_name: &str) -> Pki {
        Pki(gatepost_testkit::pki::TestPki::named(ca_name))
    }

    fn cafile(&self) -> String {
        format!("smtp_tls_CAfile = {}\n", self.0.ca_file().display())
    }

    /// A server presenting a certificate for `names`, signed by the CA.
    fn acceptor(&self, names: &[&str]) -> TlsAcceptor {
        let issued = self.0.issue(names);
        let files = CertFiles::Pair {
            cert: issued.cert.display().to_string(),
            key: issued.key.display().to_string(),
        };
        let floor = ProtocolFloor {
            tls12: true,
            tls13: true,
        };
        TlsAcceptor::from(gatepost_tls::server_config(&files, floor).expect("server config"))
    }
}

/// Deliver to `nexthop` (`{port}` in it and in `main_cf` is the server's
/// port; mx.far.test is 127.0.0.1 and the MX host of far.test) served
/// with `acceptor`.
async fn run_verified(
    main_cf: &str,
    acceptor: TlsAcceptor,
    nexthop: &str,
) -> (DeliveryOutcome, Vec<(bool, String)>, u16) {
    let (port, log) = serve(Offer::Tls, acceptor).await;
    let resolver = FakeResolver::default()
        .host("mx.far.test", &["127.0.0.1"])
        .mx("far.test", &[(10, "mx.far.test")]);
    let nexthop = nexthop.replace("{port}", &port.to_string());
    let main_cf = main_cf.replace("{port}", &port.to_string());
    let out = deliver_to(&main_cf, &nexthop, resolver).await;
    let transcript = log.lock().unwrap().clone();
    (out, transcript, port)
}

fn log_has(needle: &str) -> bool {
    let text = gatepost_testkit::log_capture::in_process_log_text();
    text.lines().any(|l| l.contains(needle))
}

#[tokio::test]
async fn verify_succeeds_with_the_cafile_and_logs_verified() {
    let pki = Pki::new();
    let main_cf = format!(
        "smtp_tls_security_level = verify\nsmtp_tls_loglevel = 1\n{}",
        pki.cafile()
    );
    let (out, transcript, port) = run_verified(
        &main_cf,
        pki.acceptor(&["mx.far.test"]),
        "[mx.far.test]:{port}",
    )
    .await;
    assert_eq!(out.status, DeliveryStatus::Sent, "{}", out.text);
    assert!(lines(&transcript, true).contains(&"body"));
    assert!(log_has(&format!(
        "Verified TLS connection established to mx.far.test[127.0.0.1]:{port}: TLSv1.3 with cipher "
    )));
}

#[tokio::test]
async fn verify_defers_an_untrusted_or_mismatched_certificate() {
    let pki = Pki::new();
    let main_cf = format!(
        "smtp_tls_security_level = verify\nsmtp_tls_loglevel = 1\n{}",
        pki.cafile()
    );
    let self_signed = tempfile::tempdir().unwrap();
    let cases = [
        (acceptor(self_signed.path()), "certificate verification failed for mx.far.test[127.0.0.1]:{port}: self-signed certificate"),
        (Pki::named("Other CA").acceptor(&["mx.far.test"]), "certificate verification failed for mx.far.test[127.0.0.1]:{port}: untrusted issuer /CN=Other CA"),
        (pki.acceptor(&["other.test"]), "server certificate verification failed for mx.far.test[127.0.0.1]:{port}: num=62:hostname mismatch"),
    ];
    for (acceptor, logged) in cases {
        let (out, transcript, port) =
            run_verified(&main_cf, acceptor, "[mx.far.test]:{port}").await;
        assert_eq!(out.status, DeliveryStatus::Deferred, "{logged}");
        assert_eq!(out.dsn, "4.7.5");
        assert_eq!(out.text, "Server certificate not verified");
        // Nothing of the message was sent; the session ended politely.
        assert_eq!(lines(&transcript, true), ["QUIT"], "{logged}");
        let logged = logged.replace("{port}", &port.to_string());
        assert!(log_has(&logged), "no {logged:?}");
        assert!(log_has(&format!(
            "Untrusted TLS connection established to mx.far.test[127.0.0.1]:{port}: "
        )));
    }
}

#[tokio::test]
async fn secure_matches_the_nexthop_and_names_below_it() {
    let pki = Pki::new();
    let main_cf = format!("smtp_tls_security_level = secure\n{}", pki.cafile());
    // The MX host's certificate names a host below the next hop: dot-nexthop.
    let (out, _, _) =
        run_verified(&main_cf, pki.acceptor(&["mx.far.test"]), "far.test:{port}").await;
    assert_eq!(out.status, DeliveryStatus::Sent, "{}", out.text);
    // A name only the MX host has is not enough at secure (it is at verify).
    let (out, _, _) = run_verified(
        &main_cf,
        pki.acceptor(&["mx.elsewhere.test"]),
        "far.test:{port}",
    )
    .await;
    assert_eq!(out.text, "Server certificate not verified");
    let verify = format!(
        "smtp_tls_security_level = verify\nsmtp_tls_verify_cert_match = hostname, nexthop\n{}",
        pki.cafile()
    );
    let (out, _, _) = run_verified(&verify, pki.acceptor(&["far.test"]), "far.test:{port}").await;
    assert_eq!(out.status, DeliveryStatus::Sent, "{}", out.text);
}

#[tokio::test]
async fn may_logs_a_trusted_chain_as_trusted() {
    let pki = Pki::new();
    let main_cf = format!(
        "smtp_tls_security_level = may\nsmtp_tls_loglevel = 1\n{}",
        pki.cafile()
    );
    // Names are not checked at may: a trusted chain is Trusted.
    let (out, _, port) = run_verified(
        &main_cf,
        pki.acceptor(&["other.test"]),
        "[mx.far.test]:{port}",
    )
    .await;
    assert_eq!(out.status, DeliveryStatus::Sent, "{}", out.text);
    assert!(log_has(&format!(
        "Trusted TLS connection established to mx.far.test[127.0.0.1]:{port}: "
    )));
}

#[tokio::test]
async fn policy_maps_choose_the_level_per_destination() {
    let pki = Pki::new();
    let main_cf = |policy: &str| {
        format!(
            "smtp_tls_security_level = may\nsmtp_tcp_port = {{port}}\n{}smtp_tls_policy_maps = inline:{{ {{{policy}}} }}\n",
            pki.cafile()
        )
    };
    // A per-destination secure level defers a certificate may would take.
    let (out, transcript, _) = run_verified(
        &main_cf("far.test = secure match=nosuch.test"),
        pki.acceptor(&["mx.far.test"]),
        "far.test",
    )
    .await;
    assert_eq!(
        out.text, "Server certificate not verified",
        "{transcript:?}"
    );
    // [host]:port is looked up as written; none means plaintext.
    let (out, transcript, _) = run_verified(
        &main_cf("[mx.far.test]:{port} = none"),
        pki.acceptor(&["mx.far.test"]),
        "[mx.far.test]:{port}",
    )
    .await;
    assert_eq!(out.status, DeliveryStatus::Sent, "{}", out.text);
    assert!(lines(&transcript, true).is_empty());
    // A parent domain entry (.test) applies to far.test.
    let (out, _, _) = run_verified(
        &main_cf(".test = encrypt"),
        pki.acceptor(&["x"]),
        "far.test",
    )
    .await;
    assert_eq!(out.status, DeliveryStatus::Sent, "{}", out.text);
    // A level gatepost lacks defers the mail.
    let (out, _, _) = run_verified(
        &main_cf("far.test = dane-only"),
        pki.acceptor(&["x"]),
        "far.test",
    )
    .await;
    assert_eq!(out.dsn, "4.7.5");
    assert_eq!(out.text, "client TLS configuration problem");
    assert!(log_has(
        "warning: smtp_tls_policy_maps, next-hop destination \"far.test\": security level \"dane-only\" is not implemented by gatepost"
    ));
    assert!(log_has(
        "warning: TLS policy lookup for far.test/mx.far.test: client TLS configuration problem"
    ));
}

#[tokio::test]
async fn auth_inside_tls_with_the_password_table() {
    let pki = Pki::new();
    let main_cf = |password: &str| {
        format!(
            "smtp_tls_security_level = secure\n{}smtp_sasl_auth_enable = yes\n\
             smtp_sasl_tls_security_options = noanonymous\n\
             smtp_sasl_password_maps = inline:{{ {{[mx.far.test]:{{port}} = alice:{password}}} }}\n",
            pki.cafile()
        )
    };
    let run = |main_cf: String| {
        let pki = &pki;
        async move {
            let (port, log) = serve(Offer::Tls, pki.acceptor(&["mx.far.test"])).await;
            let resolver = FakeResolver::default().host("mx.far.test", &["127.0.0.1"]);
            let out = deliver_to(
                &main_cf.replace("{port}", &port.to_string()),
                &format!("[mx.far.test]:{port}"),
                resolver,
            )
            .await;
            let transcript = log.lock().unwrap().clone();
            (out, transcript)
        }
    };
    let (out, transcript) = run(main_cf("s3cret")).await;
    assert_eq!(out.status, DeliveryStatus::Sent, "{}", out.text);
    let inside = lines(&transcript, true);
    assert_eq!(
        inside[..3],
        [
            "EHLO localhost",
            "AUTH PLAIN AGFsaWNlAHMzY3JldA==",
            "MAIL FROM:<alice@spec.test>"
        ]
    );
    let (out, transcript) = run(main_cf("wrong")).await;
    assert_eq!(out.status, DeliveryStatus::Deferred);
    assert_eq!(out.dsn, "4.7.8");
    assert_eq!(
        out.text,
        "SASL authentication failed; server mx.far.test[127.0.0.1] said: 535 5.7.8 Error: authentication failed: authentication failure"
    );
    assert!(!lines(&transcript, true)
        .iter()
        .any(|l| l.starts_with("MAIL")));
    // Postfix's default options rule out PLAIN and LOGIN even inside TLS.
    let (out, _) =
        run(main_cf("s3cret").replace("smtp_sasl_tls_security_options = noanonymous\n", "")).await;
    assert_eq!(out.dsn, "4.7.0");
    assert_eq!(
        out.text,
        "SASL authentication failed; cannot authenticate to server mx.far.test[127.0.0.1]: no mechanism available"
    );
}

#[tokio::test]
async fn lmtp_uses_starttls_and_auth_with_the_lmtp_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let lmtp_to = |main_cf: String, port: u16| async move {
        let mut cfg = Config::parse_main_cf(&main_cf, "main.cf").expect("main.cf");
        cfg.set("myhostname", "localhost");
        let params = SmtpParams::lmtp_from_config(&cfg).expect("lmtp params");
        let agent = SmtpAgent::for_tests(
            params,
            OwnAddresses::default(),
            Arc::new(FakeResolver::default()),
        );
        let msg = QueuedMessage {
            id: QueueId::short_form(1, 2),
            envelope: Envelope {
                sender: "alice@spec.test".to_string(),
                recipients: vec![EnvelopeRecipient::new("bob@far.test")],
                arrival: SystemTime::now(),
                client: "local".to_string(),
                ret: None,
                envid: None,
                filter: None,
            },
            path: std::path::PathBuf::from("/nonexistent"),
            preloaded: Default::default(),
        };
        let rcpts = [SmtpRcpt {
            index: 0,
            address: "bob@far.test".to_string(),
        }];
        agent
            .deliver(
                &msg,
                b"Subject: hi\n\nbody\n",
                &format!("inet:127.0.0.1:{port}"),
                &rcpts,
            )
            .await
            .remove(0)
    };
    let (port, log) = serve(Offer::Tls, acceptor(dir.path())).await;
    let main_cf = "lmtp_tls_security_level = encrypt\nlmtp_sasl_auth_enable = yes\n\
                   lmtp_sasl_tls_security_options = noanonymous\n\
                   lmtp_sasl_password_maps = inline:{ 127.0.0.1=alice:s3cret }\n";
    let out = lmtp_to(main_cf.to_string(), port).await;
    assert_eq!(out.status, DeliveryStatus::Sent, "{}", out.text);
    assert_eq!(out.agent, "lmtp");
    let transcript = log.lock().unwrap().clone();
    assert_eq!(lines(&transcript, false), ["LHLO localhost", "STARTTLS"]);
    assert_eq!(
        lines(&transcript, true)[..3],
        [
            "LHLO localhost",
            "AUTH PLAIN AGFsaWNlAHMzY3JldA==",
            "MAIL FROM:<alice@spec.test>"
        ]
    );
    // The smtp_ settings do not apply to LMTP: plaintext, no AUTH.
    let (port, log) = serve(Offer::Tls, acceptor(dir.path())).await;
    let main_cf = "smtp_tls_security_level = encrypt\nsmtp_sasl_auth_enable = yes\n\
                   smtp_sasl_password_maps = inline:{ 127.0.0.1=alice:s3cret }\n";
    let out = lmtp_to(main_cf.to_string(), port).await;
    assert_eq!(out.status, DeliveryStatus::Sent, "{}", out.text);
    let transcript = log.lock().unwrap().clone();
    assert!(lines(&transcript, true).is_empty());
    assert_eq!(
        lines(&transcript, false)[..2],
        ["LHLO localhost", "MAIL FROM:<alice@spec.test>"]
    );
}
