//! canonical(5) maps, their address classes and masquerading through a
//! real `Config` and `inline:` tables, with the results Postfix 3.7's
//! cleanup gave for the same settings (checked by running it).

use gatepost_config::Config;
use gatepost_rewrite::{AddressRole, Rewriter};

const BASE: &str = "\
myhostname = mx.spec.test
mydestination = $myhostname, localhost
recipient_delimiter = +
sender_canonical_maps = inline:{ {sender@client.test=rewritten.sender@client.test} }
recipient_canonical_maps = inline:{ {user@mx.spec.test=canon.user@mx.spec.test} }
canonical_maps = inline:{ {a@client.test=common.a@client.test}, {bob@host.example.com=bob2@host.example.com}, {loop1@x.test=loop2@x.test}, {loop2@x.test=loop1@x.test}, {ext@x.test=other@x.test} }
masquerade_domains = !keep.example.com, example.com
masquerade_exceptions = root
";

fn rewriter(extra: &str) -> Rewriter {
    let text = format!("{BASE}{extra}");
    let cfg = Config::parse_main_cf(&text, "main.cf").expect("main.cf");
    Rewriter::from_config(&cfg).expect("rewriter")
}

use AddressRole::{EnvelopeRecipient, EnvelopeSender, HeaderRecipient, HeaderSender};

#[test]
fn default_classes() {
    let rw = rewriter("");
    let cases = [
        (
            "sender@client.test",
            EnvelopeSender,
            "rewritten.sender@client.test",
        ),
        (
            "sender@client.test",
            HeaderSender,
            "rewritten.sender@client.test",
        ),
        // sender_canonical_maps is not for recipients.
        (
            "sender@client.test",
            EnvelopeRecipient,
            "sender@client.test",
        ),
        (
            "user@mx.spec.test",
            EnvelopeRecipient,
            "canon.user@mx.spec.test",
        ),
        (
            "user@mx.spec.test",
            HeaderRecipient,
            "canon.user@mx.spec.test",
        ),
        ("user@mx.spec.test", EnvelopeSender, "user@mx.spec.test"),
        ("a@client.test", HeaderSender, "common.a@client.test"),
        ("a@client.test", EnvelopeRecipient, "common.a@client.test"),
        // canonical_maps, then masquerading (envelope sender: yes).
        ("bob@host.example.com", EnvelopeSender, "bob2@example.com"),
        // Envelope recipients are not masqueraded by default.
        (
            "w@host.example.com",
            EnvelopeRecipient,
            "w@host.example.com",
        ),
        ("x@host.example.com", HeaderRecipient, "x@example.com"),
        ("z@deep.host.example.com", HeaderSender, "z@example.com"),
        (
            "root@host.example.com",
            HeaderRecipient,
            "root@host.example.com",
        ),
        (
            "y@host.keep.example.com",
            HeaderRecipient,
            "y@host.keep.example.com",
        ),
        ("y@example.com", HeaderRecipient, "y@example.com"),
        // Bare names are qualified first.
        ("user", EnvelopeRecipient, "canon.user@mx.spec.test"),
        // A loop stops after the recursion limit, the extension comes back.
        ("loop1@x.test", EnvelopeRecipient, "loop1@x.test"),
        ("ext+tag@x.test", EnvelopeRecipient, "other+tag@x.test"),
    ];
    for (addr, role, want) in cases {
        assert_eq!(
            rw.rewrite_address(addr, role).expect("lookup"),
            want,
            "{addr} {role:?}"
        );
    }
}

#[test]
fn classes_restrict_the_maps() {
    let rw = rewriter(
        "canonical_classes = envelope_recipient\nsender_canonical_classes = header_sender\nmasquerade_classes = envelope_recipient\npropagate_unmatched_extensions =\n",
    );
    let cases = [
        ("a@client.test", HeaderSender, "a@client.test"),
        ("a@client.test", EnvelopeRecipient, "common.a@client.test"),
        ("sender@client.test", EnvelopeSender, "sender@client.test"),
        (
            "sender@client.test",
            HeaderSender,
            "rewritten.sender@client.test",
        ),
        ("w@host.example.com", EnvelopeRecipient, "w@example.com"),
        (
            "bob@host.example.com",
            EnvelopeSender,
            "bob@host.example.com",
        ),
        ("ext+tag@x.test", EnvelopeRecipient, "other@x.test"),
    ];
    for (addr, role, want) in cases {
        assert_eq!(
            rw.rewrite_address(addr, role).expect("lookup"),
            want,
            "{addr} {role:?}"
        );
    }
}

#[test]
fn unknown_class_is_a_configuration_error() {
    let text = format!("{BASE}canonical_classes = envelope_sender, bogus\n");
    let cfg = Config::parse_main_cf(&text, "main.cf").expect("main.cf");
    let err = Rewriter::from_config(&cfg).expect_err("refused");
    assert!(
        err.to_string()
            .contains("canonical_classes: unknown address class \"bogus\""),
        "{err}"
    );
}
