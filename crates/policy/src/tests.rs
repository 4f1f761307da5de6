//! Evaluation tests over [`Facts`] with the real configuration, rewriter
//! and tables, and a fixed-answer DNS (postfix-compat §2-§5; the reply
//! strings are Postfix's, byte for byte). The base configuration is the
//! live test environment of postfix-compat §9.

use std::collections::HashMap;
use std::sync::Arc;

use gatepost_config::Config;
use gatepost_rewrite::Rewriter;

use crate::dns::{DnsChecks, DnsStatus, RblAnswer};
use crate::{Facts, LogEvent, MessageAction, Policy, PolicyError, SessionPolicy, Stage, Verdict};

/// DNS double: fixed statuses per name, NotFound otherwise.
#[derive(Debug, Default)]
struct FakeDns {
    hosts: HashMap<String, DnsStatus>,
    domains: HashMap<String, DnsStatus>,
    lists: HashMap<String, RblAnswer>,
}

#[async_trait::async_trait]
impl DnsChecks for FakeDns {
    async fn host_status(&self, name: &str) -> DnsStatus {
        self.hosts.get(name).copied().unwrap_or(DnsStatus::NotFound)
    }
    async fn mail_domain_status(&self, domain: &str) -> DnsStatus {
        self.domains
            .get(domain)
            .copied()
            .unwrap_or(DnsStatus::NotFound)
    }
    async fn rbl_lookup(&self, query: &str) -> RblAnswer {
        self.lists
            .get(query)
            .cloned()
            .unwrap_or(RblAnswer::NotListed)
    }
}

fn dns() -> FakeDns {
    let mut d = FakeDns::default();
    d.hosts.insert("client.example".into(), DnsStatus::Ok);
    d.hosts.insert("timeout.example".into(), DnsStatus::Retry);
    d.hosts
        .insert("no-such-host.invalid".into(), DnsStatus::Retry);
    d.hosts.insert("malformed.example".into(), DnsStatus::Inval);
    d.domains.insert("ext.example".into(), DnsStatus::Ok);
    d.domains.insert("far.example".into(), DnsStatus::Ok);
    d.domains.insert("slow.example".into(), DnsStatus::Retry);
    d.domains.insert("null.example".into(), DnsStatus::NullMx);
    d.domains.insert("bad.example".into(), DnsStatus::Inval);
    d.domains
        .insert("filtered.example".into(), DnsStatus::Policy);
    d
}

const BASE: &str = "\
myhostname = mx.spec.test
mydomain = spec.test
mydestination = $myhostname, localhost, spec.test
mynetworks = 10.255.255.0/24
inet_interfaces = 127.0.0.1
relay_domains = relay.test
virtual_alias_domains = valias.test
virtual_alias_maps = inline:{ bob@valias.test=root@spec.test }
alias_maps =
local_recipient_maps = inline:{ root=yes, dir=yes, tmp=yes, t=yes, 5x=yes, cls=yes }
";

const OPERATOR: &str = "\
smtpd_client_restrictions = permit_mynetworks, reject
smtpd_helo_restrictions = reject_unknown_helo_hostname
smtpd_sender_restrictions = reject_unknown_sender_domain
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_data_restrictions = reject_unauth_pipelining
relay_domains_reject_code = 550
smtpd_helo_required = yes
allow_untrusted_routing = no
";

fn build(extra: &str) -> Result<Policy, PolicyError> {
    let text = format!("{BASE}{extra}");
    let cfg = Config::parse_main_cf(&text, "main.cf").expect("test main.cf parses");
    let rw = Arc::new(Rewriter::from_config(&cfg).expect("rewriter"));
    Ok(Policy::from_config(&cfg, rw)?.with_dns(Arc::new(dns())))
}

fn policy(extra: &str) -> Policy {
    build(extra).expect("policy builds")
}

/// A client outside mynetworks, after EHLO client.example and MAIL FROM
/// <a@ext.example>.
fn outside(rcpt: &str) -> Facts {
    Facts {
        client_addr: "192.0.2.9".parse().unwrap(),
        client_name: "unknown".into(),
        reverse_client_name: "unknown".into(),
        server_addr: "127.0.0.1".parse().unwrap(),
        helo: Some("client.example".into()),
        protocol: "ESMTP".into(),
        sender: Some("a@ext.example".into()),
        recipient: Some(rcpt.into()),
        recipient_count: 0,
        queue_id: None,
        improper_pipelining: false,
        sasl_method: None,
        sasl_username: None,
        etrn_domain: None,
        size: 0,
        encryption: None,
        client_name_tempfail: false,
        reverse_name_tempfail: false,
    }
}

fn inside(rcpt: &str) -> Facts {
    Facts {
        client_addr: "10.255.255.7".parse().unwrap(),
        client_name: "trusted.example".into(),
        reverse_client_name: "trusted.example".into(),
        ..outside(rcpt)
    }
}

fn run(p: &Policy, stage: Stage, facts: &Facts) -> Verdict {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(p.check(stage, facts, &mut SessionPolicy::default()))
}

fn reply_text(v: &Verdict) -> String {
    v.reply
        .as_ref()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "accept".into())
}

fn has_event(v: &Verdict, action: &str, text: &str) -> bool {
    v.events
        .iter()
        .any(|e| e.action == action && e.text == text)
}

#[test]
fn operator_block() {
    let p = policy(OPERATOR);
    let cases: Vec<(&str, Facts, Stage, &str)> = vec![
        (
            "mynetworks client relays",
            inside("x@far.example"),
            Stage::Rcpt,
            "accept",
        ),
        (
            "outside client rejected at RCPT",
            outside("root@spec.test"),
            Stage::Rcpt,
            "554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied",
        ),
        (
            "HELO without DNS records",
            Facts {
                helo: Some("nx.example".into()),
                ..inside("x@far.example")
            },
            Stage::Rcpt,
            "450 4.7.1 <nx.example>: Helo command rejected: Host not found",
        ),
        (
            "HELO DNS timeout: defer_if_permit, then deferred after the permit",
            Facts {
                helo: Some("no-such-host.invalid".into()),
                ..inside("x@far.example")
            },
            Stage::Rcpt,
            "450 4.7.1 <no-such-host.invalid>: Helo command rejected: Host not found",
        ),
        (
            "sender domain not found",
            Facts {
                sender: Some("a@nx.example".into()),
                ..inside("x@far.example")
            },
            Stage::Rcpt,
            "450 4.1.8 <a@nx.example>: Sender address rejected: Domain not found",
        ),
        (
            "no restriction at MAIL with delay_reject",
            Facts {
                sender: Some("a@nx.example".into()),
                recipient: None,
                ..outside("")
            },
            Stage::Mail,
            "accept",
        ),
        (
            "data-stage pipelining",
            Facts {
                improper_pipelining: true,
                recipient_count: 1,
                ..outside("root@spec.test")
            },
            Stage::Data,
            "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining",
        ),
        (
            "data without pipelining",
            Facts {
                recipient_count: 1,
                ..outside("root@spec.test")
            },
            Stage::Data,
            "accept",
        ),
    ];
    for (what, facts, stage, want) in cases {
        assert_eq!(reply_text(&run(&p, stage, &facts)), want, "{what}");
    }
    let v = run(&p, Stage::Rcpt, &outside("root@spec.test"));
    assert!(has_event(
        &v,
        "reject",
        "554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied"
    ));
    assert_eq!(
        crate::format_event(&v.events[0], Stage::Rcpt, &outside("root@spec.test")),
        "NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied; from=<a@ext.example> to=<root@spec.test> proto=ESMTP helo=<client.example>"
    );
}

#[test]
fn operator_block_relay_code_550() {
    // The same block, but a client list that lets everyone through to the
    // relay and recipient restrictions. The default smtpd_relay_restrictions
    // (defer_unauth_destination, evaluated first) answer with
    // relay_domains_reject_code - 100, as in Postfix.
    let open = OPERATOR.replace("permit_mynetworks, reject\n", "permit\n");
    let p = policy(&open);
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("x@far.example"))),
        "450 4.7.1 <x@far.example>: Relay access denied"
    );
    let p = policy(&format!("{open}smtpd_relay_restrictions =\n"));
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("x@far.example"))),
        "550 5.7.1 <x@far.example>: Relay access denied"
    );
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("root@spec.test"))),
        "accept"
    );
}

#[test]
fn relay_battery_default_relay_restrictions() {
    let p = policy("");
    let relay_denied = |r: &str| format!("454 4.7.1 <{r}>: Relay access denied");
    let cases: Vec<(&str, String)> = vec![
        ("x@far.example", relay_denied("x@far.example")),
        ("u@[10.9.9.9]", relay_denied("u@[10.9.9.9]")),
        (
            "u@[127.0.0.1]",
            "550 5.1.1 <u@[127.0.0.1]>: Recipient address rejected: User unknown in local recipient table".into(),
        ),
        ("u%far.example@spec.test", relay_denied("u%far.example@spec.test")),
        ("u@far.example@spec.test", relay_denied("u@far.example@spec.test")),
        ("far.example!u@spec.test", relay_denied("far.example!u@spec.test")),
        ("u@relay.test", "accept".into()),
        ("bob@valias.test", "accept".into()),
        (
            "zed@valias.test",
            "550 5.1.1 <zed@valias.test>: Recipient address rejected: User unknown in virtual alias table".into(),
        ),
        ("postmaster@far.example", relay_denied("postmaster@far.example")),
        ("Postmaster@spec.test", "accept".into()),
        ("MAILER-DAEMON@spec.test", "accept".into()),
        ("double-bounce@spec.test", "accept".into()),
        (
            "abuse@spec.test",
            "550 5.1.1 <abuse@spec.test>: Recipient address rejected: User unknown in local recipient table".into(),
        ),
        ("root@spec.test", "accept".into()),
        ("postmaster", "accept".into()),
    ];
    for (rcpt, want) in cases {
        assert_eq!(
            reply_text(&run(&p, Stage::Rcpt, &outside(rcpt))),
            want,
            "{rcpt}"
        );
    }
}

#[test]
fn relay_battery_with_relay_code_550() {
    let p = policy(
        "smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination\nrelay_domains_reject_code = 550\n",
    );
    for rcpt in [
        "x@far.example",
        "u@far.example@spec.test",
        "u%far.example@spec.test",
    ] {
        assert_eq!(
            reply_text(&run(&p, Stage::Rcpt, &outside(rcpt))),
            format!("550 5.7.1 <{rcpt}>: Relay access denied"),
            "{rcpt}"
        );
    }
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &inside("x@far.example"))),
        "accept"
    );
}

#[test]
fn bare_postmaster_skips_everything() {
    let p = policy("smtpd_client_restrictions = reject\n");
    let v = run(&p, Stage::Rcpt, &outside("postmaster"));
    assert!(v.reply.is_none());
    assert!(v.events.is_empty());
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("PostMaster@spec.test"))),
        "554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied"
    );
}

#[test]
fn null_sender() {
    let p = policy(
        "smtpd_sender_restrictions = reject_non_fqdn_sender, reject_unknown_sender_domain, check_sender_access inline:{ <>=REJECT }\n",
    );
    let facts = Facts {
        sender: Some(String::new()),
        ..outside("root@spec.test")
    };
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &facts)),
        "554 5.7.1 <>: Sender address rejected: Access denied"
    );
    let p = policy("smtpd_null_access_lookup_key = <nullsender>\nsmtpd_sender_restrictions = check_sender_access inline:{ <>=REJECT }\n");
    assert_eq!(reply_text(&run(&p, Stage::Rcpt, &facts)), "accept");
}

#[test]
fn delay_reject_no_staging() {
    let p = policy(
        "smtpd_delay_reject = no\n\
         smtpd_client_restrictions = check_client_access inline:{ 192.0.2.66=REJECT }\n\
         smtpd_helo_restrictions = reject_invalid_helo_hostname\n\
         smtpd_sender_restrictions = reject_non_fqdn_sender\n",
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let blocked = Facts {
        client_addr: "192.0.2.66".parse().unwrap(),
        helo: None,
        sender: None,
        recipient: None,
        ..outside("")
    };
    let mut session = SessionPolicy::default();
    let v = rt.block_on(p.check(Stage::Connect, &blocked, &mut session));
    assert_eq!(
        reply_text(&v),
        "554 5.7.1 <unknown[192.0.2.66]>: Client host rejected: Access denied"
    );

    let mut session = SessionPolicy::default();
    let f = Facts {
        helo: None,
        sender: None,
        recipient: None,
        ..outside("")
    };
    assert_eq!(
        reply_text(&rt.block_on(p.check(Stage::Connect, &f, &mut session))),
        "accept"
    );
    let f = Facts {
        helo: Some("bad_name!".into()),
        ..f
    };
    let v = rt.block_on(p.check(Stage::Helo, &f, &mut session));
    assert_eq!(
        reply_text(&v),
        "501 5.5.2 <bad_name!>: Helo command rejected: Invalid name"
    );
    assert_eq!(
        crate::format_event(&v.events[0], Stage::Helo, &Facts { protocol: "SMTP".into(), ..f.clone() }),
        "NOQUEUE: reject: HELO from unknown[192.0.2.9]: 501 5.5.2 <bad_name!>: Helo command rejected: Invalid name; proto=SMTP helo=<bad_name!>"
    );
    let f = Facts {
        helo: Some("[1.2.3]".into()),
        ..f
    };
    assert_eq!(
        reply_text(&rt.block_on(p.check(Stage::Helo, &f, &mut session))),
        "501 5.5.2 <[1.2.3]>: Helo command rejected: invalid ip address"
    );
    let f = Facts {
        helo: Some("client.example".into()),
        sender: Some("a@nodot".into()),
        ..f
    };
    assert_eq!(
        reply_text(&rt.block_on(p.check(Stage::Mail, &f, &mut session))),
        "504 5.5.2 <a@nodot>: Sender address rejected: need fully-qualified address"
    );
    // RCPT does not re-run the earlier lists when delay_reject = no.
    let f = Facts {
        recipient: Some("root@spec.test".into()),
        ..f
    };
    assert_eq!(
        reply_text(&rt.block_on(p.check(Stage::Rcpt, &f, &mut session))),
        "accept"
    );
}

#[test]
fn client_defer_if_permit_surfaces_at_rcpt() {
    let p = policy("smtpd_delay_reject = no\nsmtpd_client_restrictions = defer_if_permit\n");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut session = SessionPolicy::default();
    let f = Facts {
        helo: None,
        sender: None,
        recipient: None,
        ..outside("")
    };
    assert!(rt
        .block_on(p.check(Stage::Connect, &f, &mut session))
        .reply
        .is_none());
    let f = outside("root@spec.test");
    assert!(rt
        .block_on(p.check(Stage::Mail, &f, &mut session))
        .reply
        .is_none());
    assert_eq!(
        reply_text(&rt.block_on(p.check(Stage::Rcpt, &f, &mut session))),
        "450 4.7.0 <unknown[192.0.2.9]>: Client host rejected: defer_if_permit requested"
    );
    // DATA starts clean.
    assert!(rt
        .block_on(p.check(Stage::Data, &f, &mut session))
        .reply
        .is_none());
}

#[test]
fn defer_if_permit_reject_and_warn() {
    let p = policy(
        "smtpd_helo_restrictions = reject_unknown_helo_hostname\n\
         smtpd_recipient_restrictions = check_recipient_access inline:{ {pol@spec.test=DEFER_IF_PERMIT policy defer}, {dir@spec.test=DEFER_IF_REJECT dir text}, {rej@spec.test=DEFER_IF_PERMIT later}, {both@spec.test=DEFER_IF_REJECT dir} }, \
         check_recipient_access inline:{ rej@spec.test=REJECT, {both@spec.test=DEFER_IF_PERMIT x}, pol@spec.test=OK }, \
         warn_if_reject, reject_non_fqdn_recipient, reject_unauth_destination\n",
    );
    let timeout_helo = |r: &str| Facts {
        helo: Some("no-such-host.invalid".into()),
        ..outside(r)
    };
    let cases: Vec<(&str, Facts, &str)> = vec![
        (
            "first defer_if_permit reason wins",
            timeout_helo("pol@spec.test"),
            "450 4.7.1 <no-such-host.invalid>: Helo command rejected: Host not found",
        ),
        (
            "a later reject wins over defer_if_permit",
            outside("rej@spec.test"),
            "554 5.7.1 <rej@spec.test>: Recipient address rejected: Access denied",
        ),
        (
            "both pending stops the list",
            outside("both@spec.test"),
            "450 4.7.1 <both@spec.test>: Recipient address rejected: x",
        ),
    ];
    for (what, f, want) in cases {
        assert_eq!(reply_text(&run(&p, Stage::Rcpt, &f)), want, "{what}");
    }

    let p = policy(
        "local_recipient_maps = inline:{ root=yes }\n\
         smtpd_recipient_restrictions = check_recipient_access inline:{ {dir@spec.test=DEFER_IF_REJECT dir text} }, reject_unauth_destination\n",
    );
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("dir@spec.test"))),
        "450 4.7.1 <dir@spec.test>: Recipient address rejected: dir text"
    );

    let p = policy("smtpd_recipient_restrictions = warn_if_reject, reject_non_fqdn_recipient, reject_unauth_destination\n");
    let v = run(&p, Stage::Rcpt, &outside("nofqdn"));
    assert!(has_event(
        &v,
        "reject_warning",
        "504 5.5.2 <nofqdn>: Recipient address rejected: need fully-qualified address"
    ));
    assert_ne!(
        reply_text(&v),
        "504 5.5.2 <nofqdn>: Recipient address rejected: need fully-qualified address"
    );

    let p = policy("smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = defer_if_reject, reject_unauth_destination\n");
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("x@far.example"))),
        "450 4.7.0 <x@far.example>: Recipient address rejected: defer_if_reject requested"
    );
}

fn access_case(value: &str) -> (Verdict, Facts) {
    let p = policy(&format!(
        "local_recipient_maps =\nsmtpd_recipient_restrictions = check_recipient_access inline:{{ {{t@spec.test = {value}}} }}, reject_unauth_destination\n"
    ));
    let f = outside("t@spec.test");
    (run(&p, Stage::Rcpt, &f), f)
}

#[test]
fn every_access_result() {
    let cases: Vec<(&str, &str)> = vec![
        ("OK", "accept"),
        ("RELAY", "accept"),
        ("12345", "accept"),
        ("DUNNO", "accept"),
        (
            "REJECT",
            "554 5.7.1 <t@spec.test>: Recipient address rejected: Access denied",
        ),
        (
            "reject go away",
            "554 5.7.1 <t@spec.test>: Recipient address rejected: go away",
        ),
        (
            "REJECT 5.1.8 bad domain",
            "554 5.1.2 <t@spec.test>: Recipient address rejected: bad domain",
        ),
        (
            "DEFER",
            "450 4.7.1 <t@spec.test>: Recipient address rejected: Access denied",
        ),
        (
            "451 4.7.1 try later",
            "451 4.7.1 <t@spec.test>: Recipient address rejected: try later",
        ),
        (
            "550 5.1.1 no such user",
            "550 5.1.1 <t@spec.test>: Recipient address rejected: no such user",
        ),
        (
            "550 4.1.8 mixed",
            "550 5.1.2 <t@spec.test>: Recipient address rejected: mixed",
        ),
        ("550", "451 4.3.5 Server configuration error"),
        (
            "DEFER_IF_PERMIT",
            "450 4.7.1 <t@spec.test>: Recipient address rejected: Service unavailable",
        ),
        ("DEFER_IF_REJECT x", "accept"),
        ("WARN careful", "accept"),
        ("INFO noted", "accept"),
        ("HOLD", "accept"),
        ("DISCARD", "accept"),
        ("FILTER smtp:[127.0.0.1]:10025", "accept"),
        ("REDIRECT other@spec.test", "accept"),
        ("BCC copy@spec.test", "accept"),
        ("PREPEND X-Tag: yes", "accept"),
        (
            "HANGUP",
            "421 4.7.0 Service unavailable - closing connection",
        ),
        (
            "hash:/etc/postfix/x",
            "451 4.3.5 Server configuration error",
        ),
        ("bogus_restriction", "451 4.3.5 Server configuration error"),
        (
            "permit_mynetworks, reject",
            "554 5.7.1 <t@spec.test>: Recipient address rejected: Access denied",
        ),
    ];
    for (value, want) in cases {
        let (v, _) = access_case(value);
        assert_eq!(reply_text(&v), want, "{value}");
    }

    let (v, _) = access_case("REJECT 5.1.8 bad domain");
    assert!(has_event(
        &v,
        LogEvent::NOTE,
        "mapping DSN status 5.1.8 into Recipient address status 5.1.2"
    ));
    let (v, _) = access_case("WARN careful");
    assert!(has_event(&v, "warn", "careful"));
    let (v, _) = access_case("INFO noted");
    assert!(has_event(&v, "info", "noted"));
    let (v, _) = access_case("HOLD");
    assert!(has_event(
        &v,
        "hold",
        "<t@spec.test>: Recipient address triggers HOLD action"
    ));
    assert_eq!(v.actions, vec![MessageAction::Hold(String::new())]);
    let (v, _) = access_case("DISCARD spam");
    assert!(has_event(
        &v,
        "discard",
        "<t@spec.test>: Recipient address spam"
    ));
    assert_eq!(v.actions, vec![MessageAction::Discard("spam".into())]);
    let (v, _) = access_case("FILTER smtp:[127.0.0.1]:10025");
    assert!(has_event(
        &v,
        "filter",
        "<t@spec.test>: Recipient address triggers FILTER smtp:[127.0.0.1]:10025"
    ));
    assert_eq!(
        v.actions,
        vec![MessageAction::Filter("smtp:[127.0.0.1]:10025".into())]
    );
    let (v, _) = access_case("REDIRECT other@spec.test");
    assert!(has_event(
        &v,
        "redirect",
        "<t@spec.test>: Recipient address triggers REDIRECT other@spec.test"
    ));
    assert_eq!(
        v.actions,
        vec![MessageAction::Redirect("other@spec.test".into())]
    );
    let (v, _) = access_case("BCC copy@spec.test");
    assert!(has_event(
        &v,
        "bcc",
        "<t@spec.test>: Recipient address triggers BCC copy@spec.test"
    ));
    assert_eq!(v.actions, vec![MessageAction::Bcc("copy@spec.test".into())]);
    let (v, _) = access_case("PREPEND X-Tag: yes");
    assert_eq!(v.actions, vec![MessageAction::Prepend("X-Tag: yes".into())]);
    let (v, _) = access_case("HANGUP");
    assert!(v.hangup);
    let (v, _) = access_case("hash:/etc/postfix/x");
    assert!(has_event(
        &v,
        LogEvent::WARNING,
        "do not specify lookup tables inside SMTPD access maps"
    ));
    let (v, _) = access_case("REDIRECT nodomain");
    assert!(v.actions.is_empty());
}

#[test]
fn routed_ok_is_downgraded() {
    // With allow_percent_hack = no the `%` stays in the local part: ROUTED.
    let extra = "allow_percent_hack = no\nlocal_recipient_maps =\nsmtpd_relay_restrictions =\n\
                 smtpd_recipient_restrictions = check_recipient_access inline:{ spec.test=OK }, reject_unauth_destination\n";
    let p = policy(extra);
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("u%far.example@spec.test"))),
        "554 5.7.1 <u%far.example@spec.test>: Relay access denied"
    );
    let p = policy(&format!("allow_untrusted_routing = yes\n{extra}"));
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("u%far.example@spec.test"))),
        "accept"
    );
}

#[test]
fn restriction_classes() {
    let p = policy(
        "smtpd_restriction_classes = myclass, okclass\n\
         myclass = reject_unauth_destination, reject\n\
         okclass = permit\n\
         smtpd_recipient_restrictions = check_recipient_access inline:{ cls@spec.test=myclass, ok@far.example=okclass }, reject_unauth_destination\n",
    );
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("cls@spec.test"))),
        "554 5.7.1 <cls@spec.test>: Recipient address rejected: Access denied"
    );
    // A permit ends only the class's list: the relay list still runs.
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("ok@far.example"))),
        "454 4.7.1 <ok@far.example>: Relay access denied"
    );
    let p = policy("smtpd_restriction_classes = c\nc = reject\nsmtpd_client_restrictions = c\n");
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("root@spec.test"))),
        "554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied"
    );
    // Recursion limit.
    let p =
        policy("smtpd_restriction_classes = loop\nloop = loop\nsmtpd_client_restrictions = loop\n");
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("root@spec.test"))),
        "451 4.3.5 Server configuration error"
    );
    let e = build("smtpd_restriction_classes = empty\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "restriction class `empty' needs a definition"
    );
}

#[test]
fn unknown_restriction() {
    let p = policy("smtpd_recipient_restrictions = bogus, reject_unauth_destination\n");
    let v = run(&p, Stage::Rcpt, &inside("root@spec.test"));
    assert_eq!(reply_text(&v), "451 4.3.5 Server configuration error");
    assert!(has_event(
        &v,
        LogEvent::WARNING,
        "unknown smtpd restriction: \"bogus\""
    ));
    let p = policy("smtpd_recipient_restrictions = { permit_mynetworks, reject_unauth_destination }\nsmtpd_relay_restrictions = reject_unauth_destination\n");
    let v = run(&p, Stage::Rcpt, &outside("root@spec.test"));
    assert_eq!(reply_text(&v), "451 4.3.5 Server configuration error");
    assert!(has_event(
        &v,
        LogEvent::WARNING,
        "unknown smtpd restriction: \"{ permit_mynetworks, reject_unauth_destination }\""
    ));
    assert!(p
        .warnings()
        .iter()
        .any(|w| w.starts_with("expected maptype:mapname instead of")));
    // Bare tables are not allowed in the data stage.
    let p = policy("smtpd_data_restrictions = inline:{ x=OK }\n");
    let v = run(
        &p,
        Stage::Data,
        &Facts {
            recipient_count: 1,
            ..outside("root@spec.test")
        },
    );
    assert_eq!(reply_text(&v), "451 4.3.5 Server configuration error");
    // check_*_access without a table.
    let p = policy("smtpd_client_restrictions = check_client_access\n");
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("root@spec.test"))),
        "451 4.3.5 Server configuration error"
    );
}

#[test]
fn pipelining_in_recipient_stage() {
    let p = policy("smtpd_recipient_restrictions = reject_unauth_pipelining, permit_mynetworks, reject_unauth_destination\n");
    let f = Facts {
        improper_pipelining: true,
        ..outside("root@spec.test")
    };
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &f)),
        "503 5.5.0 <root@spec.test>: Recipient address rejected: Improper use of SMTP command pipelining"
    );
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("root@spec.test"))),
        "accept"
    );
}

#[test]
fn soft_bounce() {
    let p = policy("soft_bounce = yes\nsmtpd_recipient_restrictions = reject_unauth_destination\nsmtpd_relay_restrictions =\n");
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("x@far.example"))),
        "454 4.7.1 <x@far.example>: Relay access denied"
    );
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("abuse@spec.test"))),
        "450 4.1.1 <abuse@spec.test>: Recipient address rejected: User unknown in local recipient table"
    );
}

#[test]
fn sender_dsn_mapping() {
    let p = policy("smtpd_sender_restrictions = check_sender_access inline:{ {a@ext.example=REJECT 5.1.1 bad sender} }\n");
    let v = run(&p, Stage::Rcpt, &outside("root@spec.test"));
    assert_eq!(
        reply_text(&v),
        "554 5.1.7 <a@ext.example>: Sender address rejected: bad sender"
    );
    assert!(has_event(
        &v,
        LogEvent::NOTE,
        "mapping DSN status 5.1.1 into Sender address status 5.1.7"
    ));
    let p = policy(
        "smtpd_client_restrictions = check_client_access inline:{ {192.0.2.9=550 5.1.1 go} }\n",
    );
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("root@spec.test"))),
        "550 5.0.0 <unknown[192.0.2.9]>: Client host rejected: go"
    );
}

#[test]
fn fatal_startup() {
    let e = build("smtpd_relay_restrictions = permit_mynetworks\nsmtpd_recipient_restrictions = permit_mynetworks, permit\n")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one working instance of: reject_unauth_destination, defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains"
    );
    assert!(build("smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination\n").is_ok());
    let mut cfg = Config::parse_main_cf(BASE, "main.cf").unwrap();
    cfg.set("unknown_address_tempfail_action", "maybe");
    let rw = Arc::new(Rewriter::from_config(&cfg).unwrap());
    let e = Policy::from_config(&cfg, rw).unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad configuration: unknown_address_tempfail_action = maybe"
    );
}

#[test]
fn dns_outcomes() {
    let p = policy(
        "smtpd_helo_restrictions = reject_unknown_helo_hostname\n\
         smtpd_sender_restrictions = reject_unknown_sender_domain\n\
         smtpd_recipient_restrictions = reject_unknown_recipient_domain, permit\n\
         smtpd_relay_restrictions = permit\n\
         smtpd_recipient_restrictions = reject_unknown_recipient_domain, reject_unauth_destination\n",
    );
    let helo = |h: &str| Facts {
        helo: Some(h.into()),
        ..inside("root@spec.test")
    };
    let snd = |s: &str| Facts {
        sender: Some(s.into()),
        ..inside("root@spec.test")
    };
    let cases: Vec<(&str, Facts, &str)> = vec![
        ("helo ok", helo("client.example"), "accept"),
        ("helo literal", helo("[127.0.0.1]"), "accept"),
        ("helo bad literal", helo("[1.2.3]"), "501 5.5.2 <[1.2.3]>: Helo command rejected: invalid ip address"),
        ("helo notfound", helo("nx.example"), "450 4.7.1 <nx.example>: Helo command rejected: Host not found"),
        ("helo retry", helo("timeout.example"), "450 4.7.1 <timeout.example>: Helo command rejected: Host not found"),
        ("helo inval", helo("malformed.example"), "450 4.7.1 <malformed.example>: Helo command rejected: Malformed DNS server reply"),
        ("sender ok", snd("a@ext.example"), "accept"),
        ("sender local class skipped", snd("a@spec.test"), "accept"),
        ("sender nullmx", snd("a@null.example"), "550 5.7.27 <a@null.example>: Sender address rejected: Domain null.example does not accept mail (nullMX)"),
        ("sender retry", snd("a@slow.example"), "450 4.1.8 <a@slow.example>: Sender address rejected: Domain not found"),
        ("sender inval", snd("a@bad.example"), "450 4.1.8 <a@bad.example>: Sender address rejected: Malformed DNS server reply"),
        ("sender policy", snd("a@filtered.example"), "accept"),
        ("recipient nullmx", inside("u@null.example"), "556 5.1.10 <u@null.example>: Recipient address rejected: Domain null.example does not accept mail (nullMX)"),
        ("recipient notfound", inside("u@nx.example"), "450 4.1.2 <u@nx.example>: Recipient address rejected: Domain not found"),
    ];
    for (what, f, want) in cases {
        assert_eq!(reply_text(&run(&p, Stage::Rcpt, &f)), want, "{what}");
    }
    let p = policy(
        "unknown_address_reject_code = 550\nunknown_address_tempfail_action = defer\n\
         smtpd_sender_restrictions = reject_unknown_sender_domain, permit\n",
    );
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &snd("a@nx.example"))),
        "550 5.1.8 <a@nx.example>: Sender address rejected: Domain not found"
    );
    // tempfail action "defer": rejected now, even though a later permit follows.
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &snd("a@slow.example"))),
        "450 4.1.8 <a@slow.example>: Sender address rejected: Domain not found"
    );
}

#[test]
fn dns_lists() {
    let mut d = dns();
    d.lists.insert(
        "9.2.0.192.bl.example".into(),
        RblAnswer::Listed {
            addrs: vec!["127.0.0.2".parse().unwrap()],
            txt: Some("see https://bl.example".into()),
        },
    );
    d.lists.insert(
        "9.2.0.192.err.example".into(),
        RblAnswer::Error("timeout".into()),
    );
    d.lists.insert(
        "spam.example.rhs.example".into(),
        RblAnswer::Listed {
            addrs: vec!["127.0.0.2".parse().unwrap()],
            txt: None,
        },
    );
    let text = format!(
        "{BASE}smtpd_client_restrictions = reject_rbl_client err.example, reject_rbl_client bl.example=127.0.0.3, reject_rbl_client bl.example\n\
         smtpd_sender_restrictions = reject_rhsbl_sender rhs.example\n"
    );
    let cfg = Config::parse_main_cf(&text, "main.cf").unwrap();
    let rw = Arc::new(Rewriter::from_config(&cfg).unwrap());
    let p = Policy::from_config(&cfg, rw).unwrap().with_dns(Arc::new(d));
    let v = run(&p, Stage::Rcpt, &outside("root@spec.test"));
    assert_eq!(
        reply_text(&v),
        "554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using bl.example; see https://bl.example"
    );
    assert!(has_event(
        &v,
        LogEvent::WARNING,
        "9.2.0.192.err.example: RBL lookup error: timeout"
    ));
    let f = Facts {
        client_addr: "192.0.2.10".parse().unwrap(),
        sender: Some("x@spam.example".into()),
        ..outside("root@spec.test")
    };
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &f)),
        "554 5.7.1 Service unavailable; Sender address [x@spam.example] blocked using rhs.example"
    );
}

#[test]
fn trace_records_every_step() {
    let p = policy(OPERATOR);
    let v = run(&p, Stage::Rcpt, &outside("root@spec.test"));
    let steps: Vec<(&str, &str, &str)> = v
        .trace
        .iter()
        .map(|s| (s.list.as_str(), s.restriction.as_str(), s.result.as_str()))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("smtpd_client_restrictions", "permit_mynetworks", "DUNNO"),
            (
                "smtpd_client_restrictions",
                "reject",
                "REJECT 554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied"
            ),
        ]
    );
    assert_eq!(v.trace[0].origin, Some(("main.cf".to_string(), 11)));
    let rendered = crate::render_trace(&v);
    assert!(rendered.contains("smtpd_client_restrictions (main.cf:11): reject => REJECT 554 5.7.1"));
    assert!(rendered.contains("<== decision"));
}

#[test]
fn multi_recipient_bounce_and_misc() {
    let p = policy("smtpd_data_restrictions = reject_multi_recipient_bounce\nsmtpd_recipient_restrictions = reject_multi_recipient_bounce, reject_unauth_destination\n");
    let f = Facts {
        sender: Some(String::new()),
        recipient_count: 1,
        ..outside("root@spec.test")
    };
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &f)),
        "550 5.5.3 <root@spec.test>: Recipient address rejected: Multi-recipient bounce"
    );
    let f0 = Facts {
        recipient_count: 0,
        ..f.clone()
    };
    assert_eq!(reply_text(&run(&p, Stage::Rcpt, &f0)), "accept");
    let fd = Facts {
        recipient_count: 2,
        recipient: None,
        ..f.clone()
    };
    assert_eq!(
        reply_text(&run(&p, Stage::Data, &fd)),
        "550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce"
    );
    let p = policy(
        "smtpd_client_restrictions = reject_unknown_client_hostname\nsmtpd_etrn_restrictions = check_etrn_access inline:{ bad.example=REJECT }\n",
    );
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("root@spec.test"))),
        "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.9]"
    );
    let e = Facts {
        etrn_domain: Some("bad.example".into()),
        recipient: None,
        sender: None,
        ..inside("")
    };
    assert_eq!(
        reply_text(&run(&p, Stage::Etrn, &e)),
        "554 5.7.1 <bad.example>: Etrn command rejected: Access denied"
    );
    let p = policy("smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n");
    let authed = Facts {
        sasl_username: Some("alice".into()),
        ..outside("x@far.example")
    };
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &authed)),
        "554 5.7.1 <x@far.example>: Relay access denied"
    );
    let p =
        policy("smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination\n");
    assert_eq!(reply_text(&run(&p, Stage::Rcpt, &authed)), "accept");
    assert_eq!(
        reply_text(&run(&p, Stage::Rcpt, &outside("x@far.example"))),
        "554 5.7.1 <x@far.example>: Relay access denied"
    );
}
