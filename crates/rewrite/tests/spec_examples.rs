//! The relay-decision and unlisted-recipient examples of
//! docs/address-classes.md: every address form relay testers
//! try, resolved against the reference setup, plus canonicalisation and
//! virtual alias expansion through a real `Config` and `inline:` tables.

use gatepost_config::Config;
use gatepost_rewrite::{quote_address, unquote_address, AddressClass, RewriteError, Rewriter};

const BASE: &str = "\
myhostname = mx.spec.test
mydestination = $myhostname, localhost, spec.test
relay_domains = relay.test
virtual_alias_domains = valias.test
virtual_alias_maps = inline:{bob@valias.test=root@spec.test}
inet_interfaces = 127.0.0.1
";

fn rewriter(extra: &str) -> Rewriter {
    let text = format!("{BASE}{extra}");
    let cfg = Config::parse_main_cf(&text, "main.cf").expect("main.cf");
    Rewriter::from_config(&cfg).expect("rewriter")
}

use AddressClass::{Default, Local, Relay, VirtualAlias};

#[test]
fn relay_tester_addresses() {
    let rw = rewriter("");
    // (input in internal form, class, routed, recipient, transport, nexthop)
    let cases: &[(&str, AddressClass, bool, &str, &str, &str)] = &[
        (
            "x@far.example",
            Default,
            false,
            "x@far.example",
            "smtp",
            "far.example",
        ),
        (
            "u@[10.9.9.9]",
            Default,
            false,
            "u@[10.9.9.9]",
            "smtp",
            "[10.9.9.9]",
        ),
        (
            "u@[127.0.0.1]",
            Local,
            false,
            "u@[127.0.0.1]",
            "local",
            "mx.spec.test",
        ),
        (
            "u%far.example@spec.test",
            Default,
            false,
            "u@far.example",
            "smtp",
            "far.example",
        ),
        (
            "u@far.example@spec.test",
            Default,
            false,
            "u@far.example",
            "smtp",
            "far.example",
        ),
        (
            "far.example!u@spec.test",
            Default,
            false,
            "u@far.example",
            "smtp",
            "far.example",
        ),
        (
            "u@relay.test",
            Relay,
            false,
            "u@relay.test",
            "relay",
            "relay.test",
        ),
        (
            "U@Relay.Test",
            Relay,
            false,
            "U@Relay.Test",
            "relay",
            "Relay.Test",
        ),
        (
            "u@far.example@relay.test",
            Relay,
            true,
            "u@far.example@relay.test",
            "relay",
            "relay.test",
        ),
        (
            "u%far.example@relay.test",
            Relay,
            true,
            "u%far.example@relay.test",
            "relay",
            "relay.test",
        ),
        (
            "far.example!u@relay.test",
            Relay,
            true,
            "far.example!u@relay.test",
            "relay",
            "relay.test",
        ),
        (
            "bob@valias.test",
            VirtualAlias,
            false,
            "bob@valias.test",
            "error",
            "5.1.1 User unknown in virtual alias table",
        ),
        (
            "zed@valias.test",
            VirtualAlias,
            false,
            "zed@valias.test",
            "error",
            "5.1.1 User unknown in virtual alias table",
        ),
        (
            "postmaster",
            Local,
            false,
            "postmaster@mx.spec.test",
            "local",
            "mx.spec.test",
        ),
        (
            "postmaster@far.example",
            Default,
            false,
            "postmaster@far.example",
            "smtp",
            "far.example",
        ),
        (
            "Postmaster@spec.test",
            Local,
            false,
            "Postmaster@spec.test",
            "local",
            "mx.spec.test",
        ),
        (
            "u@spec.test.",
            Local,
            false,
            "u@spec.test",
            "local",
            "mx.spec.test",
        ),
        (
            "u@SPEC.TEST",
            Local,
            false,
            "u@SPEC.TEST",
            "local",
            "mx.spec.test",
        ),
        (
            "u@localhost",
            Local,
            false,
            "u@localhost",
            "local",
            "mx.spec.test",
        ),
        (
            "x@far.example.",
            Default,
            false,
            "x@far.example",
            "smtp",
            "far.example",
        ),
        (
            "",
            Local,
            false,
            "MAILER-DAEMON@mx.spec.test",
            "local",
            "mx.spec.test",
        ),
        (
            "u@[IPv6:::1]",
            Default,
            false,
            "u@[IPv6:::1]",
            "smtp",
            "[IPv6:::1]",
        ),
    ];
    for (addr, class, routed, rcpt, transport, nexthop) in cases {
        let r = rw.resolve(addr).unwrap_or_else(|e| panic!("{addr:?}: {e}"));
        assert_eq!(r.class, *class, "class of {addr:?}");
        assert_eq!(r.routed, *routed, "routed of {addr:?}");
        assert_eq!(r.recipient, *rcpt, "recipient of {addr:?}");
        assert_eq!(r.transport, *transport, "transport of {addr:?}");
        assert_eq!(r.nexthop, *nexthop, "nexthop of {addr:?}");
    }
}

#[test]
fn quoted_form_from_the_wire() {
    let rw = rewriter("");
    // RCPT TO:<"u@far.example"@spec.test> reaches the resolver unquoted.
    let internal = unquote_address("\"u@far.example\"@spec.test");
    assert_eq!(internal, "u@far.example@spec.test");
    let r = rw.resolve(&internal).unwrap();
    assert_eq!((r.class, r.recipient.as_str()), (Default, "u@far.example"));
    // ... and is logged in external form.
    assert_eq!(quote_address(&internal), "\"u@far.example\"@spec.test");
}

#[test]
fn bad_syntax() {
    let rw = rewriter("");
    for addr in [
        "u@1.2.3.4",
        "u@[1.2.3]",
        "u@[::1]",
        "u@",
        "u@bad_dom ain",
        "u@.spec",
        "-u@spec.test",
    ] {
        match rw.resolve(addr) {
            Err(RewriteError::BadAddress(_)) => {}
            other => panic!("{addr:?}: {other:?}"),
        }
    }
}

#[test]
fn switches() {
    let rw = rewriter("resolve_numeric_domain = yes\n");
    let r = rw.resolve("u@1.2.3.4").unwrap();
    assert_eq!((r.class, r.recipient.as_str()), (Default, "u@[1.2.3.4]"));
    let r = rw.resolve("u@127.0.0.1").unwrap();
    assert_eq!((r.class, r.recipient.as_str()), (Local, "u@[127.0.0.1]"));

    let rw = rewriter("allow_percent_hack = no\nswap_bangpath = no\n");
    let r = rw.resolve("u%far.example@spec.test").unwrap();
    assert_eq!((r.class, r.routed), (Local, true));
    let r = rw.resolve("far.example!u@spec.test").unwrap();
    assert_eq!((r.class, r.routed), (Local, true));

    let rw = rewriter("resolve_dequoted_address = no\n");
    let r = rw.resolve("u@far.example@spec.test").unwrap();
    assert_eq!((r.class, r.routed), (Local, true));
    assert_eq!(r.recipient, "u@far.example@spec.test");

    let rw = rewriter("resolve_null_domain = yes\n");
    assert_eq!(rw.resolve("u@").unwrap().recipient, "u@mx.spec.test");

    let rw = rewriter("allow_min_user = yes\n");
    assert_eq!(rw.resolve("-u@spec.test").unwrap().class, Local);
}

#[test]
fn transports_and_relayhost() {
    let rw = rewriter(
        "relayhost = [smarthost.test]:587\nrelay_transport = error:no relay in test\n\
         virtual_mailbox_domains = vmbox.test\nvirtual_transport = lmtp:unix:private/dovecot\n\
         local_transport = local\n",
    );
    let cases: &[(&str, AddressClass, &str, &str)] = &[
        ("x@far.example", Default, "smtp", "[smarthost.test]:587"),
        ("u@relay.test", Relay, "error", "no relay in test"),
        (
            "u@vmbox.test",
            AddressClass::VirtualMailbox,
            "lmtp",
            "unix:private/dovecot",
        ),
        ("u@spec.test", Local, "local", "spec.test"),
    ];
    for (addr, class, transport, nexthop) in cases {
        let r = rw.resolve(addr).unwrap();
        assert_eq!(
            (r.class, r.transport.as_str(), r.nexthop.as_str()),
            (*class, *transport, *nexthop),
            "{addr}"
        );
    }
}

#[test]
fn canonicalize() {
    let rw = rewriter("myorigin = spec.test\n");
    let cases = [
        ("user", "user@spec.test"),
        ("user@host.example", "user@host.example"),
        ("", ""),
        ("far.example!u", "u@far.example"),
    ];
    for (addr, want) in cases {
        assert_eq!(rw.canonicalize(addr), want, "{addr:?}");
    }
    let rw = rewriter("append_at_myorigin = no\n");
    assert_eq!(rw.canonicalize("user"), "user");
    let rw = rewriter("");
    assert_eq!(rw.canonicalize("user"), "user@mx.spec.test");
}

#[test]
fn virtual_alias_lookup() {
    let rw = rewriter("");
    assert!(rw.is_virtual_alias("bob@valias.test").unwrap());
    assert!(rw.is_virtual_alias("BOB@VALIAS.TEST").unwrap());
    assert!(!rw.is_virtual_alias("zed@valias.test").unwrap());
    assert_eq!(
        rw.expand_virtual_aliases("bob@valias.test").unwrap(),
        ["root@spec.test"]
    );
    assert_eq!(
        rw.expand_virtual_aliases("zed@valias.test").unwrap(),
        ["zed@valias.test"]
    );
}

#[test]
fn virtual_alias_expansion() {
    let rw = rewriter(
        "recipient_delimiter = +\n\
         virtual_alias_maps = inline:{ {list@valias.test = a@spec.test, b@valias.test, list@valias.test}, \
         b@valias.test=c@far.example, self@valias.test=self@valias.test, \
         loop1@valias.test=loop2@valias.test, loop2@valias.test=loop1@valias.test, \
         bare@valias.test=root, @catch.test=@spec.test, joe=joe@far.example }\n",
    );
    let cases: &[(&str, &[&str])] = &[
        (
            "list@valias.test",
            &["a@spec.test", "c@far.example", "list@valias.test"],
        ),
        ("self@valias.test", &["self@valias.test"]),
        ("bare@valias.test", &["root@mx.spec.test"]),
        ("b+tag@valias.test", &["c+tag@far.example"]),
        ("any@catch.test", &["any@spec.test"]),
        ("joe@spec.test", &["joe@far.example"]),
        ("joe@far.example", &["joe@far.example"]),
        ("nobody@valias.test", &["nobody@valias.test"]),
    ];
    for (addr, want) in cases {
        assert_eq!(rw.expand_virtual_aliases(addr).unwrap(), *want, "{addr}");
    }
    match rw.expand_virtual_aliases("loop1@valias.test") {
        Err(RewriteError::Temporary(why)) => {
            assert!(why.starts_with("4.6.0 Alias expansion error"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn expansion_limit() {
    let rw = rewriter(
        "virtual_alias_expansion_limit = 2\n\
         virtual_alias_maps = inline:{ {big@valias.test = a@x.test, b@x.test, c@x.test} }\n",
    );
    assert!(matches!(
        rw.expand_virtual_aliases("big@valias.test"),
        Err(RewriteError::Temporary(_))
    ));
}

#[test]
fn postfix_defaults() {
    let cfg = Config::parse_main_cf("", "main.cf").expect("main.cf");
    let rw = Rewriter::from_config(&cfg).expect("rewriter");
    let r = rw.resolve("postmaster").unwrap();
    assert_eq!((r.class, r.transport.as_str()), (Local, "local"));
    assert!(!r.routed);
    let r = rw.resolve("u@[127.0.0.1]").unwrap();
    assert_eq!(r.class, Local, "inet_interfaces = all includes loopback");
    let r = rw.resolve("x@far.example").unwrap();
    assert_eq!(
        (r.class, r.transport.as_str(), r.nexthop.as_str()),
        (Default, "smtp", "far.example")
    );
    assert_eq!(
        rw.expand_virtual_aliases("x@far.example").unwrap(),
        ["x@far.example"]
    );
    assert!(!rw.is_virtual_alias("x@far.example").unwrap());
}
