//! `sendmail` submissions end to end (issue 5): `-t` with Bcc stripped and
//! delivered to local Maildirs, the binary invoked as `sendmail`/`mailq`
//! while the server is down (the message waits in maildrop and is picked
//! up at the next start), and `-bs` (SMTP on stdin/stdout). Bare names get
//! `@$myorigin` (here `$myhostname`, mx.spec.test).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use gatepost_testkit::TestServer;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_gatepost"))
}

fn run_with_stdin(mut cmd: Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that refuses its arguments may exit before reading its
    // input: a broken pipe here is not a failure of the test.
    if let Err(e) = child.stdin.take().unwrap().write_all(input.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn sendmail(srv: &TestServer, args: &[&str], input: &str) -> Output {
    let mut cmd = Command::new(bin());
    cmd.arg("-c").arg(srv.path()).arg("sendmail").args(args);
    run_with_stdin(cmd, input)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[test]
fn sendmail_t_delivers_locally_without_bcc() {
    let srv = TestServer::start(bin(), "").unwrap();
    let out = sendmail(
        &srv,
        &["-t", "-i"],
        "From: alice@spec.test\nTo: bob@spec.test\nCc: carol\nBcc: dave@spec.test\nSubject: via sendmail\n\nhello\n.\nstill body\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    for user in ["bob", "carol", "dave"] {
        let mail = srv.wait_for_mail(user, 1, Duration::from_secs(10));
        assert_eq!(mail.len(), 1, "{user}; log:\n{}", srv.log());
        let m = &mail[0];
        assert!(m.contains("Subject: via sendmail\n"), "{m}");
        assert!(m.contains("\nhello\n.\nstill body\n"), "{m}");
        assert!(!m.contains("Bcc:"), "Bcc not stripped:\n{m}");
        assert!(m.contains("(Postfix, from userid "), "{m}");
        assert!(m.contains("\nMessage-Id: <"), "{m}");
        assert!(m.contains("\nFrom: alice@spec.test\n"), "{m}");
        // Bare header addresses are qualified, as Postfix's cleanup does.
        assert!(m.contains("\nCc: carol@mx.spec.test\n"), "{m}");
    }
    srv.wait_for_log("orig_to=<carol>", Duration::from_secs(10));
    let log = srv.log();
    assert!(log.contains("postfix/pickup["), "{log}");
    assert!(log.contains(" uid="), "{log}");
    assert!(
        log.contains("to=<carol@mx.spec.test>, orig_to=<carol>"),
        "{log}"
    );
}

#[test]
fn sendmail_while_down_is_picked_up_at_start() {
    let mut srv = TestServer::start(bin(), "").unwrap();
    srv.kill_hard();
    // The binary invoked as `sendmail` and `mailq`, configured by MAIL_CONFIG.
    let links = tempfile::tempdir().unwrap();
    for name in ["sendmail", "mailq"] {
        std::os::unix::fs::symlink(bin(), links.path().join(name)).unwrap();
    }
    let mut cmd = Command::new(links.path().join("sendmail"));
    cmd.env("MAIL_CONFIG", srv.path())
        .args(["-F", "Alice Liddell", "-f", "alice", "bob"]);
    let out = run_with_stdin(
        cmd,
        "Subject: offline\n\nqueued while down\n.\nnot part of it\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "postdrop: warning: unable to look up public/pickup: No such file or directory\n"
    );
    let out = Command::new(links.path().join("mailq"))
        .env("MAIL_CONFIG", srv.path())
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stderr),
        "postqueue: warning: Mail system is down -- accessing queue directly\n"
    );
    let listing = text(&out.stdout);
    assert!(listing.contains(" alice\n"), "{listing}");
    assert!(
        listing.contains(&format!("{}bob\n", " ".repeat(41))),
        "{listing}"
    );
    assert!(
        listing.ends_with("-- 0 Kbytes in 1 Request.\n"),
        "{listing}"
    );

    let srv = srv.restart().unwrap();
    let mail = srv.wait_for_mail("bob", 1, Duration::from_secs(10));
    assert_eq!(mail.len(), 1, "log:\n{}", srv.log());
    let m = &mail[0];
    assert!(
        m.contains("\nFrom: Alice Liddell <alice@mx.spec.test>\n"),
        "{m}"
    );
    assert!(m.contains("Subject: offline\n"));
    assert!(m.contains("queued while down\n"));
    assert!(
        !m.contains("not part of it"),
        "a lone dot ends input without -i"
    );
    assert!(srv.log().contains("from=<alice>"), "{}", srv.log());
}

#[test]
fn sendmail_bs_speaks_smtp_on_stdin() {
    let srv = TestServer::start(bin(), "").unwrap();
    let out = sendmail(
        &srv,
        &["-bs"],
        "EHLO me\r\nFOO\r\nMAIL FROM:<alice@spec.test>\r\nRCPT TO:<bob@spec.test>\r\nDATA\r\nSubject: bs\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let replies = text(&out.stdout);
    assert!(
        replies.starts_with("220 mx.spec.test ESMTP Postfix\r\n"),
        "{replies}"
    );
    assert!(
        replies.contains("\r\n250 2.0.0 Ok: queued as "),
        "{replies}"
    );
    assert!(replies.ends_with("221 2.0.0 Bye\r\n"), "{replies}");
    // The real smtpd answers: full EHLO list, Postfix's unknown-command reply.
    assert!(replies.contains("250-SIZE 10240000\r\n"), "{replies}");
    assert!(
        replies.contains("\r\n500 5.5.2 Error: command not recognized\r\n"),
        "{replies}"
    );
    let mail = srv.wait_for_mail("bob", 1, Duration::from_secs(10));
    assert_eq!(mail.len(), 1, "log:\n{}", srv.log());
    assert!(mail[0].contains("Subject: bs\n"));
    assert!(mail[0].contains("\n.leading dot\n"));
    assert!(mail[0].contains(
        "Received: from me (localhost [127.0.0.1])\n\tby mx.spec.test (Postfix) with ESMTP id "
    ));
    let log = srv.log();
    assert!(log.contains("postfix/smtpd["), "{log}");
    assert!(log.contains("connect from localhost[127.0.0.1]"), "{log}");
    assert!(log.contains("disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 unknown=0/1 commands=5/6"), "{log}");
}

#[test]
fn sendmail_usage_errors() {
    let srv = TestServer::start(bin(), "").unwrap();
    // Postfix's sendmail exits 75 on every fatal error.
    let out = sendmail(&srv, &[], "Subject: x\n\n");
    assert_eq!(out.status.code(), Some(75));
    let err = text(&out.stderr);
    assert!(err.starts_with("sendmail: fatal: "), "{err}");
    assert!(
        err.ends_with(
            "): Recipient addresses must be specified on the command line or via the -t option\n"
        ),
        "{err}"
    );
    let out = sendmail(&srv, &["-t"], "Subject: x\n\n");
    assert_eq!(out.status.code(), Some(75));
    assert!(text(&out.stderr).ends_with("): No recipient addresses found in message header\n"));
    let out = sendmail(&srv, &["-k", "x@spec.test"], "Subject: x\n\n");
    assert_eq!(out.status.code(), Some(75));
    assert_eq!(
        text(&out.stderr),
        "sendmail: invalid option -- 'k'\nsendmail: fatal: usage: sendmail [options]\n"
    );
}

#[test]
fn sendmail_from_header_uses_the_passwd_full_name() {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let (login, gecos) = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 4 && f[2].parse::<u32>().ok() == Some(uid))
        .map(|f| {
            (
                f[0].to_string(),
                f[4].split(',').next().unwrap_or("").to_string(),
            )
        })
        .expect("the test user is in /etc/passwd");
    let srv = TestServer::start(bin(), "").unwrap();
    let out = sendmail(&srv, &["bob@spec.test"], "Subject: no from\n\nbody\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mail = srv.wait_for_mail("bob", 1, Duration::from_secs(10));
    assert_eq!(mail.len(), 1, "{}", srv.log());
    let want = if gecos.is_empty() {
        format!("\nFrom: {login}@mx.spec.test\n")
    } else {
        format!("\nFrom: {gecos} <{login}@mx.spec.test>\n")
    };
    assert!(mail[0].contains(&want), "want {want:?} in:\n{}", mail[0]);
}
