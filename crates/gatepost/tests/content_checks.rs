//! header_checks, mime_header_checks, nested_header_checks and body_checks
//! end to end, on SMTP and on `sendmail` submissions: every action's
//! reply, log line and effect, with the log lines Postfix 3.7 writes for
//! the same tables (checked by running it on loopback); and the MIME
//! limits and strictness checks (`mime_nesting_limit`,
//! `strict_7bit_headers`, `strict_8bitmime_body`,
//! `strict_mime_encoding_domain`) with Postfix's `550 5.6.0` replies.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use gatepost_testkit::{gatepost_bin, open_transaction, ConfigDir, TestServer, EVENT_TIMEOUT};

const HEADER_CHECKS: &str = "\
/^Subject: t-reject-text/ REJECT custom words here
/^Subject: t-reject-plain/ REJECT
/^Subject: t-reject-4/ REJECT 4.7.0 try later
/^Subject: t-discard/ DISCARD gone
/^Subject: t-hold/ HOLD held now
/^Subject: t-redirect/ REDIRECT redirected@mx.spec.test
/^Subject: t-replace/ REPLACE X-Replaced: yes
/^Subject: t-prepend/ PREPEND X-Prepended: yes
/^Subject: t-ignore/ IGNORE
/^Subject: t-warn/ WARN warned text
/^Subject: t-info/ INFO info text
/^Subject: t-bcc/ BCC copied@mx.spec.test
/^Subject: t-dunno/ DUNNO
/^Subject: t-ok/ OK
/^Content-Type: text\\/x-primary/ WARN mime header in the primary header
/^X-Part: t-part/ WARN part header
/^X-Inner: t-nested/ WARN nested header
";

const BODY_CHECKS: &str = "\
/^body-reject/ REJECT body words
/^body-warn/ WARN body warning
/^body-replace/ REPLACE replaced body line
/^body-ignore/ IGNORE
/^body-prepend/ PREPEND prepended body line
";

fn server(extra: &str) -> TestServer {
    let dir = ConfigDir::new().expect("config dir");
    let hc = dir
        .file("header_checks", HEADER_CHECKS)
        .expect("header_checks");
    let bc = dir.file("body_checks", BODY_CHECKS).expect("body_checks");
    dir.main_cf(&format!(
        "header_checks = regexp:{}\nbody_checks = regexp:{}\n{extra}",
        hc.display(),
        bc.display()
    ))
    .expect("main.cf")
    .start(gatepost_bin!())
    .expect("start")
}

/// What a case must lead to besides its log line.
enum Effect {
    /// Delivered to the case's own recipient, with and without these texts.
    Delivered(&'static [&'static str], &'static [&'static str]),
    /// Delivered to this other mailbox too (or instead).
    AlsoTo(&'static str),
    Held,
    /// Not queued (SMTP: the reply says so; local: nothing delivered).
    NotQueued,
    /// Rejected: SMTP answers the reply, sendmail's sender gets a bounce.
    Rejected(&'static str),
}

struct Case {
    name: &'static str,
    /// Header lines after `From:`; the body follows an empty line.
    header: &'static str,
    body: &'static str,
    /// The action log line from `ACTION: ` on, before ` from ORIGIN;`.
    log: Option<&'static str>,
    /// The log line's text after the context, or "".
    text: &'static str,
    effect: Effect,
}

fn cases() -> Vec<Case> {
    use Effect::*;
    let c = |name, header, body, log, text, effect| Case {
        name,
        header,
        body,
        log,
        text,
        effect,
    };
    vec![
        c(
            "t-reject-text",
            "Subject: t-reject-text",
            "hi",
            Some("reject: header Subject: t-reject-text"),
            "5.7.1 custom words here",
            Rejected("550 5.7.1 custom words here"),
        ),
        c(
            "t-reject-plain",
            "Subject: t-reject-plain",
            "hi",
            Some("reject: header Subject: t-reject-plain"),
            "5.7.1 message content rejected",
            Rejected("550 5.7.1 message content rejected"),
        ),
        c(
            "t-discard",
            "Subject: t-discard",
            "hi",
            Some("discard: header Subject: t-discard"),
            "gone",
            NotQueued,
        ),
        c(
            "t-hold",
            "Subject: t-hold",
            "hi",
            Some("hold: header Subject: t-hold"),
            "held now",
            Held,
        ),
        c(
            "t-redirect",
            "Subject: t-redirect",
            "hi",
            Some("redirect: header Subject: t-redirect"),
            "redirected@mx.spec.test",
            AlsoTo("redirected"),
        ),
        c(
            "t-replace",
            "Subject: t-replace",
            "hi",
            Some("replace: header Subject: t-replace"),
            "X-Replaced: yes",
            Delivered(&["\nX-Replaced: yes\n"], &["Subject: t-replace"]),
        ),
        c(
            "t-prepend",
            "Subject: t-prepend",
            "hi",
            Some("prepend: header Subject: t-prepend"),
            "X-Prepended: yes",
            Delivered(&["\nX-Prepended: yes\nSubject: t-prepend\n"], &[]),
        ),
        c(
            "t-ignore",
            "Subject: t-ignore",
            "hi",
            None,
            "",
            Delivered(&["\nhi\n"], &["Subject: t-ignore"]),
        ),
        c(
            "t-warn",
            "Subject: t-warn",
            "hi",
            Some("warning: header Subject: t-warn"),
            "warned text",
            Delivered(&["Subject: t-warn\n"], &[]),
        ),
        c(
            "t-info",
            "Subject: t-info",
            "hi",
            Some("info: header Subject: t-info"),
            "info text",
            Delivered(&["Subject: t-info\n"], &[]),
        ),
        c(
            "t-bcc",
            "Subject: t-bcc",
            "hi",
            Some("bcc: header Subject: t-bcc"),
            "copied@mx.spec.test",
            AlsoTo("copied"),
        ),
        c(
            "t-dunno",
            "Subject: t-dunno",
            "hi",
            None,
            "",
            Delivered(&["Subject: t-dunno\n"], &[]),
        ),
        c(
            "t-ok",
            "Subject: t-ok",
            "hi",
            None,
            "",
            Delivered(&["Subject: t-ok\n"], &[]),
        ),
        c(
            "b-reject",
            "Subject: b-reject",
            "line\nbody-reject here",
            Some("reject: body body-reject here"),
            "5.7.1 body words",
            Rejected("550 5.7.1 body words"),
        ),
        c(
            "b-warn",
            "Subject: b-warn",
            "body-warn here",
            Some("warning: body body-warn here"),
            "body warning",
            Delivered(&["\nbody-warn here\n"], &[]),
        ),
        c(
            "b-replace",
            "Subject: b-replace",
            "a\nbody-replace here\nz",
            Some("replace: body body-replace here"),
            "replaced body line",
            Delivered(&["\na\nreplaced body line\nz\n"], &["body-replace"]),
        ),
        c(
            "b-ignore",
            "Subject: b-ignore",
            "a\nbody-ignore here\nz",
            None,
            "",
            Delivered(&["\na\nz\n"], &["body-ignore"]),
        ),
        c(
            "b-prepend",
            "Subject: b-prepend",
            "a\nbody-prepend here",
            Some("prepend: body body-prepend here"),
            "prepended body line",
            Delivered(&["\na\nprepended body line\nbody-prepend here\n"], &[]),
        ),
        // MIME headers of the primary header go to mime_header_checks
        // (default $header_checks), part headers too, and headers of an
        // attached message to nested_header_checks (same default).
        c(
            "m-primary",
            "Subject: m-primary\nMIME-Version: 1.0\nContent-Type: text/x-primary",
            "hi",
            Some("warning: header Content-Type: text/x-primary"),
            "mime header in the primary header",
            Delivered(&[], &[]),
        ),
        c(
            "m-part",
            "Subject: m-part\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"",
            "--b1\nX-Part: t-part\n\nbody-warn in a part\n--b1--",
            Some("warning: header X-Part: t-part"),
            "part header",
            Delivered(&["\nX-Part: t-part\n"], &[]),
        ),
        c(
            "m-nested",
            "Subject: m-nested\nMIME-Version: 1.0\nContent-Type: message/rfc822",
            "X-Inner: t-nested\nSubject: inner\n\ninner body",
            Some("warning: header X-Inner: t-nested"),
            "nested header",
            Delivered(&["\nX-Inner: t-nested\n"], &[]),
        ),
    ]
}

fn message(case: &Case, sep: &str) -> String {
    let text = format!("From: a@client.test\n{}\n\n{}\n", case.header, case.body);
    text.replace('\n', sep)
}

fn sendmail(srv: &TestServer, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(gatepost_bin!())
        .arg("-c")
        .arg(srv.path())
        .arg("sendmail")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sendmail");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    child.wait_with_output().expect("sendmail output")
}

fn hold_queue(srv: &TestServer) -> Vec<String> {
    std::fs::read_dir(srv.path().join("spool/hold"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn wait_log(srv: &TestServer, needle: &str, what: &str) {
    assert!(
        srv.wait_for_log(needle, EVENT_TIMEOUT),
        "{what}: no log line containing {needle:?}\n--- log ---\n{}",
        srv.log()
    );
}

#[test]
fn every_action_on_smtp_submissions() {
    let srv = server("");
    for case in cases() {
        let rcpt = format!("{}@mx.spec.test", case.name);
        let mut c = open_transaction(
            &srv,
            "127.0.0.1",
            "client.test",
            "sender@client.test",
            &[&rcpt],
        );
        let reply = c.send_message(&message(&case, "\r\n")).expect("DATA");
        let line = reply.last_line().to_string();
        if let Some(log) = case.log {
            let colon_text = if case.text.is_empty() {
                String::new()
            } else {
                format!(": {}", case.text)
            };
            wait_log(
                &srv,
                &format!(
                    ": {log} from unknown[127.0.0.1]; from=<sender@client.test> to=<{rcpt}> proto=ESMTP helo=<client.test>{colon_text}"
                ),
                case.name,
            );
        }
        match case.effect {
            Effect::Rejected(want) => assert_eq!(line, want, "{}", case.name),
            Effect::NotQueued => assert!(
                line.starts_with("250 2.0.0 Ok: queued as "),
                "{}: {line}",
                case.name
            ),
            Effect::Held => {
                let id = line.rsplit(' ').next().unwrap_or_default().to_string();
                assert!(
                    hold_queue(&srv).contains(&id),
                    "{}: {id} not in hold",
                    case.name
                );
            }
            Effect::AlsoTo(user) => {
                assert!(line.starts_with("250 "), "{}: {line}", case.name);
                let mail = srv.wait_for_mail(user, 1, Duration::from_secs(10));
                assert!(
                    mail.iter()
                        .any(|m| m.contains(&format!("Subject: {}", case.name))),
                    "{}: {mail:?}",
                    case.name
                );
            }
            Effect::Delivered(has, lacks) => {
                assert!(line.starts_with("250 "), "{}: {line}", case.name);
                let mail = srv.wait_for_mail(case.name, 1, Duration::from_secs(10));
                assert_eq!(mail.len(), 1, "{}\n{}", case.name, srv.log());
                for text in has {
                    assert!(
                        mail[0].contains(text),
                        "{}: {text:?} missing in\n{}",
                        case.name,
                        mail[0]
                    );
                }
                for text in lacks {
                    assert!(
                        !mail[0].contains(text),
                        "{}: {text:?} present in\n{}",
                        case.name,
                        mail[0]
                    );
                }
            }
        }
    }
    // REJECT with a 4.x.x status defers: 451.
    let mut c = open_transaction(
        &srv,
        "127.0.0.1",
        "client.test",
        "sender@client.test",
        &["x@mx.spec.test"],
    );
    let reply = c
        .send_message("Subject: t-reject-4\r\n\r\nhi\r\n")
        .expect("DATA");
    assert_eq!(reply.last_line(), "451 4.7.0 try later");
    // The redirected message kept its original recipient; the BCC was added.
    wait_log(
        &srv,
        "to=<redirected@mx.spec.test>, orig_to=<t-redirect@mx.spec.test>",
        "redirect",
    );
    assert_eq!(
        srv.wait_for_mail("t-bcc", 1, Duration::from_secs(10)).len(),
        1
    );
    let log = srv.log();
    // No message-id line for a rejected or discarded message, as Postfix.
    for line in log.lines().filter(|l| l.contains(": discard: header")) {
        let id = line
            .split(": ")
            .nth(1)
            .unwrap_or_default()
            .rsplit(' ')
            .next()
            .unwrap_or_default();
        assert!(!log.contains(&format!("{id}: message-id=")), "{line}");
    }
}

#[test]
fn every_action_on_sendmail_submissions() {
    let srv = server("");
    for case in cases() {
        let rcpt = format!("{}@mx.spec.test", case.name);
        let sender = format!("{}-sender@mx.spec.test", case.name);
        let out = sendmail(&srv, &["-f", &sender, &rcpt], &message(&case, "\n"));
        assert!(
            out.status.success(),
            "{}: {}",
            case.name,
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(log) = case.log {
            let colon_text = if case.text.is_empty() {
                String::new()
            } else {
                format!(": {}", case.text)
            };
            wait_log(
                &srv,
                &format!(": {log} from local; from=<{sender}> to=<{rcpt}>{colon_text}"),
                case.name,
            );
        }
        match case.effect {
            Effect::Rejected(_) => {
                // Bounced to the sender, logged as Postfix's cleanup does.
                wait_log(&srv, &format!("to=<{rcpt}>, relay=none, delay="), case.name);
                wait_log(
                    &srv,
                    &format!(
                        "status=bounced ({})",
                        case.text.split_once(' ').map_or("", |t| t.1)
                    ),
                    case.name,
                );
                let mail =
                    srv.wait_for_mail(&format!("{}-sender", case.name), 1, Duration::from_secs(10));
                assert_eq!(mail.len(), 1, "{}: no bounce\n{}", case.name, srv.log());
            }
            Effect::NotQueued => {}
            Effect::Held => {
                gatepost_testkit::wait_until("a message in hold", || !hold_queue(&srv).is_empty());
            }
            Effect::AlsoTo(user) => {
                let mail = srv.wait_for_mail(user, 1, Duration::from_secs(10));
                assert!(
                    mail.iter()
                        .any(|m| m.contains(&format!("Subject: {}", case.name))),
                    "{}: {mail:?}",
                    case.name
                );
            }
            Effect::Delivered(has, lacks) => {
                let mail = srv.wait_for_mail(case.name, 1, Duration::from_secs(10));
                assert_eq!(mail.len(), 1, "{}\n{}", case.name, srv.log());
                for text in has {
                    assert!(
                        mail[0].contains(text),
                        "{}: {text:?} missing in\n{}",
                        case.name,
                        mail[0]
                    );
                }
                for text in lacks {
                    assert!(
                        !mail[0].contains(text),
                        "{}: {text:?} present in\n{}",
                        case.name,
                        mail[0]
                    );
                }
            }
        }
    }
    // The discarded message was never queued or delivered.
    let log = srv.log();
    assert!(
        !log.contains("to=<t-discard@mx.spec.test>, relay="),
        "{log}"
    );
}

/// `mime_nesting_limit`, `strict_7bit_headers`, `strict_8bitmime_body`,
/// `strict_mime_encoding_domain`: rejected at end of DATA with Postfix's
/// texts, logged as `reject: mime-error`.
#[test]
fn mime_limits_and_strictness() {
    let srv = server(
        "mime_nesting_limit = 2\nstrict_7bit_headers = yes\nstrict_8bitmime_body = yes\nstrict_mime_encoding_domain = yes",
    );
    let nested = "Subject: deep\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: multipart/mixed; boundary=d\r\n\r\n--d\r\nContent-Type: multipart/mixed; boundary=e\r\n\r\n--e\r\n\r\nx\r\n";
    let nested4 = "Subject: deep4\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: multipart/mixed; boundary=d\r\n\r\n--d\r\n\r\nx\r\n";
    let cases = [
        ("8-bit header", "Subject: caf\u{e9}\r\n\r\nhi\r\n", "550 5.6.0 improper use of 8-bit data in message header", "reject: mime-error improper use of 8-bit data in message header: Subject: caf"),
        ("8-bit body", "Subject: b\r\n\r\ncaf\u{e9}\r\n", "550 5.6.0 improper use of 8-bit data in message body", "reject: mime-error improper use of 8-bit data in message body: caf"),
        ("8-bit body declared", "Subject: b\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\u{e9}\r\n", "250 ", ""),
        ("encoding domain", "Subject: d\r\nContent-Type: multipart/mixed; boundary=x\r\nContent-Transfer-Encoding: base64\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n", "550 5.6.0 invalid message/* or multipart/* encoding domain", "reject: mime-error invalid message/* or multipart/* encoding domain: base64 from unknown[127.0.0.1]; from=<s@client.test> to=<u@mx.spec.test>"),
        // Four levels pass mime_nesting_limit = 2, five do not, as in Postfix.
        ("nesting within the limit", nested4, "250 ", ""),
        ("nesting", nested, "550 5.6.0 MIME nesting exceeds safety limit", "reject: mime-error MIME nesting exceeds safety limit: Content-Type: multipart/mixed; boundary=e"),
    ];
    for (name, content, reply, log) in cases {
        let mut c = open_transaction(
            &srv,
            "127.0.0.1",
            "client.test",
            "s@client.test",
            &["u@mx.spec.test"],
        );
        let r = c.send_message(content).expect("DATA");
        assert!(
            r.last_line().starts_with(reply),
            "{name}: {r:?}\n{}",
            srv.log()
        );
        if !log.is_empty() {
            wait_log(&srv, log, name);
        }
    }
}
