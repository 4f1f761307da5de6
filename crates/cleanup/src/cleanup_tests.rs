//! Cleanup as seen by its two callers: a local submission (pickup) and an
//! SMTP client, in and out of the local header rewrite context.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Local};
use gatepost_rewrite::RewriteError;

use crate::*;

/// Bare names get `@spec.test`; `alias@spec.test` expands to two.
struct TestRewriter;

impl AddressRewriter for TestRewriter {
    fn canonicalize(&self, addr: &str) -> String {
        if addr.contains('@') || addr.is_empty() {
            addr.to_string()
        } else {
            format!("{addr}@spec.test")
        }
    }

    fn expand_virtual_aliases(&self, addr: &str) -> Result<Vec<String>, RewriteError> {
        Ok(match addr {
            "alias@spec.test" => vec!["one@spec.test".into(), "two@spec.test".into()],
            _ => vec![addr.to_string()],
        })
    }
}

fn time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn ctx<'a>(source: Source<'a>, sender: &'a str) -> CleanupContext<'a> {
    ctx_with(source, sender, &NO_CHECKS)
}

pub(crate) fn ctx_with<'a>(
    source: Source<'a>,
    sender: &'a str,
    rules: &'a ContentRules,
) -> CleanupContext<'a> {
    CleanupContext {
        source,
        always_add_missing_headers: false,
        myhostname: "mx.spec.test",
        queue_id: "5562DBE20B",
        arrival: time().into(),
        sender,
        rewriter: &TestRewriter,
        header_size_limit: 102_400,
        rules,
        log: LogOrigin::default(),
    }
}

static NO_CHECKS: std::sync::LazyLock<ContentRules> =
    std::sync::LazyLock::new(ContentRules::default);

fn local(extract: bool) -> Source<'static> {
    Source::Local {
        full_name: None,
        extract_recipients: extract,
    }
}

const LOCAL_SMTP: Source<'static> = Source::Smtp {
    local_header_rewrite: true,
};
const REMOTE_SMTP: Source<'static> = Source::Smtp {
    local_header_rewrite: false,
};

/// Local submission: the whole content at once, after pickup's trace.
fn clean_local(c: &CleanupContext<'_>, content: &str) -> (String, HeaderSummary) {
    let trace = local_received_header("mx.spec.test", "Postfix", Some(1000), "5562DBE20B", time());
    let (out, summary) = clean_content(c, &trace, content.as_bytes());
    (String::from_utf8(out).unwrap(), summary)
}

/// SMTP with every line whole.
pub(crate) fn clean_smtp_with(c: &CleanupContext<'_>, content: &str) -> (String, HeaderSummary) {
    let mut out = Vec::new();
    let summary = {
        let mut cleanup = MessageCleanup::new(c, |d: &[u8]| out.extend_from_slice(d));
        for line in content.lines() {
            cleanup.line(line.as_bytes(), true);
        }
        cleanup.finish()
    };
    (String::from_utf8(out).unwrap(), summary)
}

/// SMTP: CRLF-less lines as the DATA framer hands them over, in pieces
/// (as lines over `line_length_limit` arrive).
fn clean_smtp(c: &CleanupContext<'_>, content: &str) -> (String, HeaderSummary) {
    let mut out = Vec::new();
    let summary = {
        let mut cleanup = MessageCleanup::new(c, |d: &[u8]| out.extend_from_slice(d));
        for line in content.lines() {
            let bytes = line.as_bytes();
            let (head, tail) = bytes.split_at(bytes.len() / 2);
            cleanup.line(head, false);
            cleanup.line(tail, true);
        }
        cleanup.finish()
    };
    (String::from_utf8(out).unwrap(), summary)
}

fn stamp() -> String {
    DateTime::<Local>::from(time())
        .format("%Y%m%d%H%M%S")
        .to_string()
}

#[test]
fn extracted_header_recipients() {
    let got = header_recipients(b"To: a@x, B <b@y>\nSubject: s\nCC: c\nbcc: d\n\nTo: body@z\n");
    assert_eq!(got, vec!["a@x", "b@y", "c", "d"]);
    assert!(header_recipients(b"Subject: none\n\n").is_empty());
}

#[test]
fn adds_postfix_headers_and_strips_bcc() {
    let c = ctx(local(true), "alice");
    let (text, summary) = clean_local(
        &c,
        "To: bob, Carol <carol@far.example>\nBcc: secret@spec.test\n  , more\nSubject: hi\n\nbody\nBcc: in body stays\n",
    );
    let date = mail_date(time());
    let stamp = stamp();
    let want = format!(
        "Received: by mx.spec.test (Postfix, from userid 1000)\n\tid 5562DBE20B; {date}\n\
         To: bob@spec.test, Carol <carol@far.example>\nSubject: hi\n\
         Message-Id: <{stamp}.5562DBE20B@mx.spec.test>\nDate: {date}\nFrom: alice@spec.test\n\
         \nbody\nBcc: in body stays\n"
    );
    assert_eq!(text, want);
    assert_eq!(
        summary.recipients,
        vec!["bob", "carol@far.example", "secret@spec.test", "more"]
    );
    assert_eq!(
        summary.message_id,
        Some(format!("<{stamp}.5562DBE20B@mx.spec.test>"))
    );
}

#[test]
fn keeps_existing_headers_and_full_name() {
    let c = ctx(local(false), "alice");
    let (text, summary) = clean_local(
        &c,
        "From: me@x.example\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <a@b>\nTo: t@x\n\nhi\n",
    );
    assert!(text.ends_with("From: me@x.example\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <a@b>\nTo: t@x\n\nhi\n"));
    assert_eq!(summary.message_id.as_deref(), Some("<a@b>"));
    assert!(summary.recipients.is_empty());

    for (name, want) in [
        (
            "Alice Liddell",
            "\nFrom: Alice Liddell <alice@spec.test>\n\nhi\n",
        ),
        (
            "Liddell, Alice",
            "\nFrom: \"Liddell, Alice\" <alice@spec.test>\n",
        ),
    ] {
        let source = Source::Local {
            full_name: Some(name),
            extract_recipients: false,
        };
        let (text, _) = clean_local(&ctx(source, "alice"), "Subject: x\n\nhi\n");
        assert!(text.contains(want), "{text}");
    }
}

#[test]
fn body_without_header_and_empty_message() {
    let c = ctx(local(false), "alice");
    let (text, _) = clean_local(&c, "just text\nmore\n");
    assert!(
        text.ends_with("From: alice@spec.test\n\njust text\nmore\n"),
        "{text}"
    );
    let (text, _) = clean_local(&c, "");
    assert!(text.ends_with("From: alice@spec.test\n"), "{text}");
}

#[test]
fn smtp_in_local_context_is_treated_as_local_submission() {
    let content = "From me Mon Jan  1\nTo: bob,\n\tCarol <carol>\nBcc: secret\nReceived: from a\nSubject: hi\nnot a header\nbody\n";
    let (smtp, smtp_summary) = clean_smtp(&ctx(LOCAL_SMTP, "alice"), content);
    let (local, local_summary) = clean_local(&ctx(local(false), "alice"), content);
    let local = local.split_once("\n\tid 5562DBE20B; ").unwrap().1;
    let local = local.split_once('\n').unwrap().1;
    assert_eq!(smtp, local);
    assert_eq!(smtp_summary, local_summary);
    let date = mail_date(time());
    let stamp = stamp();
    assert_eq!(
        smtp,
        format!(
            "X-Mailbox-Line: From me Mon Jan  1\nTo: bob@spec.test, Carol <carol@spec.test>\n\
             Received: from a\nSubject: hi\n\
             Message-Id: <{stamp}.5562DBE20B@mx.spec.test>\nDate: {date}\nFrom: alice@spec.test\n\
             \nnot a header\nbody\n"
        )
    );
    assert_eq!(smtp_summary.hops, 1);
}

#[test]
fn remote_smtp_keeps_addresses_but_loses_bcc() {
    let content = "To: bob\nBcc: secret\nSubject: hi\n\nbody\n";
    let (text, summary) = clean_smtp(&ctx(REMOTE_SMTP, "alice@far.example"), content);
    assert_eq!(text, "To: bob\nSubject: hi\n\nbody\n");
    assert_eq!(summary.message_id, None);
    // always_add_missing_headers adds them, still without rewriting.
    let mut c = ctx(REMOTE_SMTP, "alice@far.example");
    c.always_add_missing_headers = true;
    let (text, summary) = clean_smtp(&c, content);
    assert!(
        text.starts_with("To: bob\nSubject: hi\nMessage-Id: <"),
        "{text}"
    );
    assert!(
        text.ends_with("\nFrom: alice@far.example\n\nbody\n"),
        "{text}"
    );
    assert!(summary.message_id.is_some());
}

#[test]
fn null_sender_gets_mailer_daemon_from_either_way() {
    let (smtp, _) = clean_smtp(&ctx(LOCAL_SMTP, ""), "Subject: x\n\nhi\n");
    let (local, _) = clean_local(&ctx(local(false), ""), "Subject: x\n\nhi\n");
    assert!(smtp.ends_with("\nFrom: MAILER-DAEMON\n\nhi\n"), "{smtp}");
    assert!(local.ends_with("\nFrom: MAILER-DAEMON\n\nhi\n"), "{local}");
}

#[test]
fn header_only_message_gets_no_empty_line_either_way() {
    let (smtp, _) = clean_smtp(&ctx(REMOTE_SMTP, "a@x"), "Subject: x");
    assert_eq!(smtp, "Subject: x\n");
    let (local, _) = clean_local(&ctx(local(false), "a@x"), "Subject: x");
    assert!(local.ends_with("\nFrom: a@x\n"), "{local}");
}

/// cleanup(8): a header longer than `header_size_limit` keeps its first
/// `header_size_limit` bytes (inner line breaks counted), the rest is
/// discarded and the message goes on; the kept part is still rewritten,
/// and a long `Bcc:` is still removed.
#[test]
fn oversized_header_is_truncated_at_header_size_limit() {
    let mut c = ctx(LOCAL_SMTP, "a@x");
    c.header_size_limit = 30;
    let content = "To: bob, carol,\n dave, erin, frank, grace\n\tmore\n\
                   Bcc: x, yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\n\
                   Subject: s\n\nbody\n";
    let (text, _) = clean_smtp(&c, content);
    // 30 bytes kept: "To: bob, carol,\n dave, erin, f", then the line end
    // (rewritten and refolded).
    let kept =
        "To: bob@spec.test, carol@spec.test, dave@spec.test, erin@spec.test,\n\tf@spec.test\n";
    assert!(text.starts_with(&format!("{kept}Subject: s\n")), "{text:?}");
    assert!(!text.contains("Bcc:") && !text.contains("more"), "{text}");
    assert!(text.ends_with("\n\nbody\n"), "{text}");
}

#[test]
fn header_at_the_limit_is_kept_whole() {
    let mut c = ctx(REMOTE_SMTP, "a@x");
    c.header_size_limit = "Subject: 12345".len();
    let (text, _) = clean_smtp(&c, "Subject: 12345\nX: y\n\nb\n");
    assert!(text.starts_with("Subject: 12345\nX: y\n"), "{text}");
    let (text, _) = clean_smtp(&c, "Subject: 123456\nX: y\n\nb\n");
    assert!(text.starts_with("Subject: 12345\nX: y\n"), "{text}");
}

#[test]
fn envelope_is_cleaned_the_same_for_both() {
    assert_eq!(
        clean_sender(&TestRewriter, "alice").unwrap(),
        "alice@spec.test"
    );
    assert_eq!(clean_sender(&TestRewriter, "").unwrap(), "");
    let given = [
        ("bob", "bob"),
        ("alias@spec.test", "alias@spec.test"),
        ("bob", "bob"),
        ("bob@spec.test", "bob@spec.test"),
    ];
    let got = clean_recipients(&TestRewriter, given).unwrap();
    let got: Vec<(&str, usize)> = got.iter().map(|r| (r.address.as_str(), r.from)).collect();
    assert_eq!(
        got,
        vec![
            ("bob@spec.test", 0),
            ("one@spec.test", 1),
            ("two@spec.test", 1),
            ("bob@spec.test", 3),
        ]
    );
}
