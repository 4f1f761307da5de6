//! The content checks inside cleanup: `body_checks_size_limit` per body
//! part, `mime_boundary_length_limit`, header classes, and
//! `header_address_token_limit` on a rewritten header.

use std::sync::Arc;

use gatepost_table::{MapList, Table};

use crate::cleanup_tests::{clean_smtp_with, ctx_with};
use crate::content_rules::ContentRules;
use crate::Source;

fn regexp(dir: &tempfile::TempDir, name: &str, rules: &str) -> MapList {
    let path = dir.path().join(name);
    std::fs::write(&path, rules).expect("write table");
    let table: Arc<dyn Table> =
        gatepost_table::open_table(&format!("regexp:{}", path.display())).expect("open");
    MapList::from_tables(vec![table])
}

const LOCAL_SMTP: Source<'static> = Source::Smtp {
    local_header_rewrite: true,
};

#[test]
fn body_checks_stop_at_the_size_limit_of_each_part() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = ContentRules {
        body_checks: regexp(&dir, "body", "/^strip/ IGNORE\n"),
        body_checks_size_limit: 20,
        ..ContentRules::default()
    };
    let c = ctx_with(LOCAL_SMTP, "s@x.test", &rules);
    let content = "Subject: s\nContent-Type: multipart/mixed; boundary=b\n\n\
                   strip 1\n0123456789012345\nstrip 2\n--b\n\nstrip 3\n--b--\n";
    let (text, _) = clean_smtp_with(&c, content);
    // Lines starting before byte 20 of a part are checked: the first and
    // the first of the part; "strip 2" starts at byte 25.
    assert!(!text.contains("strip 1"), "{text}");
    assert!(text.contains("\nstrip 2\n"), "{text}");
    assert!(!text.contains("strip 3"), "{text}");
}

#[test]
fn boundaries_are_compared_up_to_the_length_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = ContentRules {
        mime_header_checks: regexp(&dir, "mime", "/^X-Part:/ IGNORE\n"),
        mime: crate::MimeSettings {
            boundary_length_limit: 4,
            ..crate::MimeSettings::default()
        },
        ..ContentRules::default()
    };
    let c = ctx_with(LOCAL_SMTP, "s@x.test", &rules);
    // "--abcdXYZ" starts with the first 4 bytes of the boundary "abcdefgh":
    // a part header follows, as in Postfix.
    let content = "Subject: s\nContent-Type: multipart/mixed; boundary=\"abcdefgh\"\n\n\
                   --abcdXYZ\nX-Part: one\n\nbody\n";
    let (text, _) = clean_smtp_with(&c, content);
    assert!(!text.contains("X-Part"), "{text}");
    assert!(text.contains("\n--abcdXYZ\n\nbody\n"), "{text}");
}

#[test]
fn rewritten_address_header_is_cut_at_the_token_limit() {
    let rules = ContentRules {
        header_address_token_limit: 5,
        ..ContentRules::default()
    };
    let c = ctx_with(LOCAL_SMTP, "s@x.test", &rules);
    let (text, _) = clean_smtp_with(&c, "To: a@x.test, b@y.test\nSubject: s\n\nhi\n");
    assert!(text.starts_with("To: a@x.test\n"), "{text}");
    // Outside the rewrite context the header is left whole.
    let c = ctx_with(
        Source::Smtp {
            local_header_rewrite: false,
        },
        "s@x.test",
        &rules,
    );
    let (text, _) = clean_smtp_with(&c, "To: a@x.test, b@y.test\nSubject: s\n\nhi\n");
    assert!(text.starts_with("To: a@x.test, b@y.test\n"), "{text}");
}

/// Several matches in one message, as Postfix 3.7's cleanup(8) decides
/// them: the last `FILTER` wins; `PASS` keeps the filter but stops the
/// checks; after `REDIRECT` no further header or body line is looked up
/// (a later `FILTER` or `REJECT` does not happen); a bad `FILTER` is
/// ignored.
#[test]
fn several_matches_filter_pass_and_redirect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = ContentRules {
        header_checks: regexp(
            &dir,
            "header",
            "/^X-A: filter1/ FILTER smtp:[127.0.0.1]:10025\n\
             /^X-A: filter2/ FILTER amavis:[127.0.0.1]:10026\n\
             /^X-A: bad/ FILTER nocolon\n\
             /^X-A: pass/ PASS\n\
             /^X-A: redirect/ REDIRECT r@y.test\n\
             /^X-A: reject/ REJECT no\n",
        ),
        body_checks: regexp(&dir, "body", "/^body-filter/ FILTER body:next\n"),
        ..ContentRules::default()
    };
    let c = ctx_with(LOCAL_SMTP, "s@x.test", &rules);
    let verdict = |headers: &str, body: &str| {
        let (_, summary) = clean_smtp_with(&c, &format!("{headers}Subject: s\n\n{body}\n"));
        summary.verdict
    };
    let v = verdict("X-A: filter1\nX-A: filter2\n", "hi");
    assert_eq!(v.filter.as_deref(), Some("amavis:[127.0.0.1]:10026"));
    let v = verdict("X-A: filter1\nX-A: bad\n", "body-filter");
    assert_eq!(v.filter.as_deref(), Some("body:next"));
    let v = verdict("X-A: filter1\nX-A: pass\nX-A: filter2\n", "body-filter");
    assert_eq!(v.filter.as_deref(), Some("smtp:[127.0.0.1]:10025"));
    let v = verdict("X-A: redirect\nX-A: reject\nX-A: filter1\n", "body-filter");
    assert_eq!(
        (v.redirect.as_deref(), v.reject, v.filter),
        (Some("r@y.test"), None, None)
    );
    let v = verdict("X-A: filter1\nX-A: redirect\n", "hi");
    assert_eq!(v.filter.as_deref(), Some("smtp:[127.0.0.1]:10025"));
    assert_eq!(v.redirect.as_deref(), Some("r@y.test"));
}
