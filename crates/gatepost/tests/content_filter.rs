//! `content_filter` (after-queue): the queue manager hands every message
//! to the filter instead of its normal route; the filter (a small SMTP
//! relay in the test, on a loopback port) adds a header and re-injects
//! into gatepost's second service, which runs with `-o content_filter=`
//! and does the address mappings the first one skipped
//! (`receive_override_options = no_address_mappings`). The message is
//! delivered once, with the filter's header. A `FILTER` action of an
//! access table or of header/body checks routes the same way, and so does
//! a master.cf transport that runs `smtp` under another name (`amavis`).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatepost_testkit::{gatepost_bin, submit, Client, ConfigDir, TestServer};

const T: Duration = Duration::from_secs(10);

/// What the filter saw of each message: sender, recipients.
type Seen = Arc<Mutex<Vec<(String, Vec<String>)>>>;

/// A one-message-at-a-time SMTP relay: receives, adds `X-Filtered: yes`,
/// re-injects to `next` (read from the cell once the server is up), and
/// answers with the re-injection's reply.
fn start_filter(next: Arc<Mutex<Option<SocketAddr>>>) -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let next = next.lock().unwrap().expect("re-injection address");
            relay_one(stream, next, &seen2);
        }
    });
    (port, seen)
}

fn relay_one(stream: TcpStream, next: SocketAddr, seen: &Seen) {
    let mut out = stream.try_clone().unwrap();
    let mut lines = BufReader::new(stream);
    let mut say = |s: &str| out.write_all(format!("{s}\r\n").as_bytes()).is_ok();
    say("220 filter.test ESMTP");
    let (mut from, mut rcpts) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            say("250-filter.test\r\n250 8BITMIME");
        } else if upper.starts_with("MAIL FROM:") {
            from = cmd[10..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(['<', '>'])
                .to_string();
            rcpts.clear();
            say("250 2.1.0 Ok");
        } else if upper.starts_with("RCPT TO:") {
            rcpts.push(
                cmd[8..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches(['<', '>'])
                    .to_string(),
            );
            say("250 2.1.5 Ok");
        } else if upper == "DATA" {
            say("354 go ahead");
            let mut content = String::from("X-Filtered: yes\n");
            loop {
                line.clear();
                if lines.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let l = line.trim_end_matches(['\r', '\n']);
                if l == "." {
                    break;
                }
                content.push_str(l.strip_prefix('.').unwrap_or(l));
                content.push('\n');
            }
            seen.lock().unwrap().push((from.clone(), rcpts.clone()));
            // Re-inject into gatepost's second service.
            let mut c = Client::connect(next).unwrap();
            c.read_reply().unwrap();
            c.command("EHLO filter.test").unwrap();
            c.command(&format!("MAIL FROM:<{from}>")).unwrap();
            for r in &rcpts {
                c.command(&format!("RCPT TO:<{r}>")).unwrap();
            }
            let reply = c.send_message(&content).unwrap();
            c.command("QUIT").unwrap();
            say(&reply.full());
        } else if upper == "QUIT" {
            say("221 bye");
            return;
        } else {
            say("250 Ok");
        }
    }
}

fn start(main_cf: &str, master_extra: &str, next: &Arc<Mutex<Option<SocketAddr>>>) -> TestServer {
    let config = ConfigDir::new().unwrap().main_cf(main_cf).unwrap();
    std::fs::write(
        config.path().join("master.cf"),
        format!(
            "127.0.0.1:0 inet n - n - - smtpd\n\
             127.0.0.2:0 inet n - n - - smtpd\n  -o content_filter=\n  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters\n  -o smtpd_sender_restrictions=\n\
             {master_extra}"
        ),
    )
    .unwrap();
    let srv = config.start(gatepost_bin!()).unwrap();
    *next.lock().unwrap() = Some(srv.addrs[1]);
    srv
}

#[test]
fn content_filter_round_trip_delivers_once_with_the_filter_header() {
    let next = Arc::default();
    let (port, seen) = start_filter(Arc::clone(&next));
    let srv = start(
        &format!(
            "content_filter = smtp:[127.0.0.1]:{port}\n\
             receive_override_options = no_address_mappings\n\
             virtual_alias_maps = inline:{{ info@spec.test=bob@spec.test }}\n"
        ),
        "",
        &next,
    );
    let id = submit(
        &srv,
        "client.example",
        "alice@example.org",
        &["info@spec.test"],
        "Subject: filter me\n\nbody",
    );
    let mail = srv.wait_for_mail("bob", 1, T);
    assert_eq!(mail.len(), 1, "{}", srv.log());
    assert!(
        mail[0].starts_with("Return-Path: <alice@example.org>"),
        "{}",
        mail[0]
    );
    assert!(mail[0].contains("X-Filtered: yes\n"), "{}", mail[0]);
    assert!(mail[0].contains("Subject: filter me\n"), "{}", mail[0]);
    // The filter got the address before the virtual alias mapping.
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![(
            "alice@example.org".to_string(),
            vec!["info@spec.test".to_string()]
        )],
        "{}",
        srv.log()
    );
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![(
            "alice@example.org".to_string(),
            vec!["info@spec.test".to_string()]
        )]
    );
    assert!(
        srv.wait_for_log(
            &format!("{id}: to=<info@spec.test>, relay=127.0.0.1[127.0.0.1]:{port}"),
            T
        ),
        "{}",
        srv.log()
    );
    assert!(
        srv.wait_for_log(&format!("{id}: removed"), T),
        "{}",
        srv.log()
    );
    // The re-injected copy was delivered and removed; still one message.
    let delivery = "to=<bob@spec.test>, orig_to=<info@spec.test>, relay=local";
    assert!(srv.wait_for_log(delivery, T), "{}", srv.log());
    let log = srv.log();
    let delivered = log.matches(delivery).count();
    assert_eq!(delivered, 1, "{log}");
    assert_eq!(srv.maildir_messages("bob").len(), 1);
}

#[test]
fn filter_action_and_a_named_smtp_transport_route_the_same_way() {
    let next = Arc::default();
    let (port, seen) = start_filter(Arc::clone(&next));
    let config_dir = tempfile::tempdir().unwrap();
    let access = config_dir.path().join("access");
    std::fs::write(
        &access,
        format!("filtered@example.org FILTER amavis:[127.0.0.1]:{port}\n"),
    )
    .unwrap();
    let srv = start(
        &format!(
            "smtpd_sender_restrictions = check_sender_access texthash:{}\n",
            access.display()
        ),
        "amavis unix - - n - 2 smtp\n",
        &next,
    );
    submit(
        &srv,
        "client.example",
        "plain@example.org",
        &["carol@spec.test"],
        "Subject: direct\n\nx",
    );
    let direct = srv.wait_for_mail("carol", 1, T);
    assert!(!direct[0].contains("X-Filtered"), "{}", direct[0]);
    let id = submit(
        &srv,
        "client.example",
        "filtered@example.org",
        &["carol@spec.test"],
        "Subject: via filter\n\nx",
    );
    let mail = srv.wait_for_mail("carol", 2, T);
    assert_eq!(mail.len(), 2, "{}", srv.log());
    assert!(
        mail.iter()
            .any(|m| m.contains("X-Filtered: yes") && m.contains("Subject: via filter")),
        "{mail:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(
        srv.wait_for_log(
            &format!("{id}: to=<carol@spec.test>, relay=127.0.0.1[127.0.0.1]:{port}"),
            T
        ),
        "{}",
        srv.log()
    );
}

/// `sendmail -f SENDER RCPT` with `input` on standard input.
fn sendmail(srv: &TestServer, sender: &str, rcpt: &str, input: &str) {
    let mut child = Command::new(gatepost_bin!())
        .arg("-c")
        .arg(srv.path())
        .args(["sendmail", "-f", sender, rcpt])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// The `FILTER transport:destination` action of header_checks and
/// body_checks (cleanup(8)), on SMTP and `sendmail` submissions: logged as
/// Postfix logs it, it overrides `content_filter` (which names a port
/// nobody listens on here: mail routed there would only be deferred); a
/// bad one is ignored with Postfix's warning; a `REDIRECT` overrides every
/// filter. Each filtered message goes round the filter once and is
/// delivered once, with the filter's header.
#[test]
fn header_and_body_filter_actions_route_through_the_filter() {
    let next = Arc::default();
    let (port, seen) = start_filter(Arc::clone(&next));
    let tables = tempfile::tempdir().unwrap();
    let hc = tables.path().join("header_checks");
    std::fs::write(
        &hc,
        format!(
            "/^Subject: via-header/ FILTER smtp:[127.0.0.1]:{port}\n\
             /^Subject: bad-filter/ FILTER nocolon\n\
             /^X-Then: filter/ FILTER smtp:[127.0.0.1]:{port}\n\
             /^Subject: redirect-wins/ REDIRECT frank@spec.test\n"
        ),
    )
    .unwrap();
    let bc = tables.path().join("body_checks");
    std::fs::write(
        &bc,
        format!("/^filter-me/ FILTER smtp:[127.0.0.1]:{port}\n"),
    )
    .unwrap();
    let srv = start(
        &format!(
            "content_filter = smtp:[127.0.0.1]:9\n\
             header_checks = regexp:{}\nbody_checks = regexp:{}\n",
            hc.display(),
            bc.display()
        ),
        "",
        &next,
    );
    let filter = format!("smtp:[127.0.0.1]:{port}");
    let header = submit(
        &srv,
        "client.example",
        "alice@example.org",
        &["carol@spec.test"],
        "Subject: via-header\n\nx",
    );
    let bad = submit(
        &srv,
        "client.example",
        "alice@example.org",
        &["erin@spec.test"],
        "Subject: bad-filter\nX-Then: filter\n\nx",
    );
    sendmail(
        &srv,
        "alice@example.org",
        "dave@spec.test",
        "Subject: via-body\n\nfilter-me\n",
    );
    submit(
        &srv,
        "client.example",
        "alice@example.org",
        &["grace@spec.test"],
        "X-Then: filter\nSubject: redirect-wins\n\nx",
    );
    for line in [
        format!("{header}: filter: header Subject: via-header from unknown[127.0.0.1]; from=<alice@example.org> to=<carol@spec.test> proto=ESMTP helo=<client.example>: {filter}"),
        format!("{header}: to=<carol@spec.test>, relay=127.0.0.1[127.0.0.1]:{port}"),
        "warning: bad FILTER command nocolon in header_checks -- need transport:destination".to_string(),
        format!("{bad}: filter: header X-Then: filter from unknown[127.0.0.1]; from=<alice@example.org> to=<erin@spec.test> proto=ESMTP helo=<client.example>: {filter}"),
        format!(": filter: body filter-me from local; from=<alice@example.org> to=<dave@spec.test>: {filter}"),
        "to=<frank@spec.test>, orig_to=<grace@spec.test>, relay=local".to_string(),
    ] {
        assert!(srv.wait_for_log(&line, T), "{line}\n{}", srv.log());
    }
    for user in ["carol", "erin", "dave"] {
        let mail = srv.wait_for_mail(user, 1, T);
        assert_eq!(mail.len(), 1, "{user}: {}", srv.log());
        assert!(mail[0].contains("X-Filtered: yes\n"), "{user}: {}", mail[0]);
    }
    let redirected = srv.wait_for_mail("frank", 1, T);
    assert!(!redirected[0].contains("X-Filtered"), "{}", redirected[0]);
    assert_eq!(seen.lock().unwrap().len(), 3, "{}", srv.log());
    // Delivered once each: the re-injected copies were not filtered again.
    let delivered = |user: &str| format!("to=<{user}@spec.test>, relay=local");
    for user in ["carol", "erin", "dave"] {
        assert!(srv.wait_for_log(&delivered(user), T), "{}", srv.log());
    }
    let log = srv.log();
    for user in ["carol", "erin", "dave"] {
        assert_eq!(log.matches(&delivered(user)).count(), 1, "{log}");
        assert_eq!(srv.maildir_messages(user).len(), 1);
    }
    assert!(!log.contains("127.0.0.1]:9,"), "{log}");
}

#[test]
fn no_unknown_recipient_checks_skips_the_recipient_tables() {
    for (extra, want) in [
        ("", 550),
        (
            "receive_override_options = no_unknown_recipient_checks\n",
            250,
        ),
    ] {
        let srv = ConfigDir::new()
            .unwrap()
            .main_cf(&format!(
                "local_recipient_maps = inline:{{ bob=yes }}\n{extra}"
            ))
            .unwrap()
            .start(gatepost_bin!())
            .unwrap();
        let mut c = Client::connect_from("127.0.0.1", srv.addr).unwrap();
        c.read_reply().unwrap();
        c.command("EHLO client.example").unwrap();
        c.command("MAIL FROM:<alice@example.org>").unwrap();
        let r = c.command("RCPT TO:<stranger@spec.test>").unwrap();
        assert_eq!(r.code, want, "{extra}: {r:?}");
    }
}
