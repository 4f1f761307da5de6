//! `gatepost check`: open-relay mistakes found with the line that opens
//! them (the real restriction engine evaluated for an outside client),
//! safe configurations passing, typos and dead configuration explained,
//! the exit status, and `serve` refusing an open relay unless overridden.

use std::process::{Command, Stdio};

use gatepost_testkit::{gatepost_bin, wait_until, ConfigDir, TestServer, OPERATOR_BLOCK};

/// Run `gatepost -c DIR check ARGS`: stdout and exit status.
fn check(config: &ConfigDir, args: &[&str]) -> (String, i32) {
    let out = Command::new(gatepost_bin!())
        .arg("-c")
        .arg(config.path())
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// `DIR/main.cf:N` of the first main.cf line that contains `needle`.
fn line_of(config: &ConfigDir, needle: &str) -> String {
    let main_cf = config.path().join("main.cf");
    let text = std::fs::read_to_string(&main_cf).unwrap();
    let n = text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in main.cf"));
    format!("{}:{}", main_cf.display(), n + 1)
}

/// One open-relay mistake: main.cf lines (`DIR` is the configuration
/// directory), table files, and the text of the line that opens the relay.
struct Mistake {
    what: &'static str,
    main_cf: &'static str,
    files: &'static [(&'static str, &'static str)],
    culprit: &'static str,
}

const MISTAKES: &[Mistake] = &[
    Mistake {
        what: "every IPv4 network trusted",
        main_cf: "mynetworks = 0.0.0.0/0",
        files: &[],
        culprit: "mynetworks = 0.0.0.0/0",
    },
    Mistake {
        what: "every IPv6 network trusted",
        main_cf: "mynetworks = 127.0.0.0/8, [::]/0",
        files: &[],
        culprit: "mynetworks = 127.0.0.0/8",
    },
    Mistake {
        what: "a /8 where a /24 was meant",
        main_cf: "mynetworks = 127.0.0.0/8, 192.0.0.0/8",
        files: &[],
        culprit: "mynetworks = 127.0.0.0/8",
    },
    Mistake {
        what: "cidr access table trusting the whole IPv4 space",
        main_cf: "smtpd_relay_restrictions = permit_mynetworks, check_client_access cidr:DIR/clients, reject_unauth_destination",
        files: &[("clients", "10.0.0.0/8 OK\n0.0.0.0/0 OK\n")],
        culprit: "smtpd_relay_restrictions =",
    },
    Mistake {
        what: "cidr access table trusting the whole IPv6 space",
        main_cf: "smtpd_relay_restrictions = permit_mynetworks,\n    check_client_access cidr:DIR/clients,\n    defer_unauth_destination",
        files: &[("clients", "::/0 OK\n")],
        culprit: "smtpd_relay_restrictions =",
    },
    Mistake {
        what: "regexp access table with a wildcard OK",
        main_cf: "smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = permit_mynetworks, check_client_access regexp:DIR/clients, reject_unauth_destination",
        files: &[("clients", "/^mail\\.partner\\.example$/ OK\n/./ OK\n")],
        culprit: "smtpd_recipient_restrictions =",
    },
    Mistake {
        what: "pcre access table matching a whole address block",
        main_cf: "smtpd_relay_restrictions = permit_mynetworks, check_client_access pcre:DIR/clients, reject_unauth_destination",
        files: &[("clients", "/^192\\./ OK\n")],
        culprit: "smtpd_relay_restrictions =",
    },
    Mistake {
        what: "access table trusting a whole /8 by its first octet",
        main_cf: "smtpd_relay_restrictions = permit_mynetworks, check_client_access texthash:DIR/clients, reject_unauth_destination",
        files: &[("clients", "192 OK\n")],
        culprit: "smtpd_relay_restrictions =",
    },
    Mistake {
        what: "static:OK copied into an access check",
        main_cf: "smtpd_relay_restrictions = permit_mynetworks, check_client_access static:OK, reject_unauth_destination",
        files: &[],
        culprit: "smtpd_relay_restrictions =",
    },
    Mistake {
        what: "a restriction class that permits unconditionally",
        main_cf: "smtpd_restriction_classes = trusted\ntrusted = permit\nsmtpd_relay_restrictions = permit_mynetworks, trusted, reject_unauth_destination",
        files: &[],
        culprit: "trusted = permit",
    },
    Mistake {
        what: "anonymous SASL logins allowed",
        main_cf: "smtpd_sasl_auth_enable = yes\nsmtpd_sasl_security_options = noplaintext",
        files: &[],
        culprit: "smtpd_sasl_security_options",
    },
    Mistake {
        what: "relay_domains matching every domain",
        main_cf: "relay_domains = regexp:DIR/relay_domains",
        files: &[("relay_domains", "/.*/ OK\n")],
        culprit: "relay_domains =",
    },
];

fn config_with(main_cf: &str, files: &[(&str, &str)]) -> ConfigDir {
    let config = ConfigDir::new().unwrap();
    for (name, text) in files {
        config.file(name, text).unwrap();
    }
    let dir = config.path().display().to_string();
    config.main_cf(&main_cf.replace("DIR", &dir)).unwrap()
}

#[test]
fn open_relay_mistakes_are_found_with_their_line() {
    for m in MISTAKES {
        let config = config_with(m.main_cf, m.files);
        let (out, code) = check(&config, &[]);
        let at = line_of(&config, m.culprit);
        let finding = out
            .lines()
            .find(|l| l.starts_with("fatal: ") && l.contains("open relay"))
            .unwrap_or_else(|| panic!("{}: no open relay found:\n{out}", m.what));
        assert!(
            finding.contains(&format!("{at}: open relay")),
            "{}: expected {at}:\n{out}",
            m.what
        );
        assert_eq!(code, 2, "{}:\n{out}", m.what);
    }
}

#[test]
fn safe_configurations_pass() {
    let safe = [
        ("Postfix defaults", String::new()),
        ("the operator's anti-relay block", OPERATOR_BLOCK.to_string()),
        (
            "submission with SASL",
            "smtpd_sasl_auth_enable = yes\n\
             smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination\n\
             smtpd_recipient_restrictions = permit_sasl_authenticated, reject_unlisted_recipient\n"
                .to_string(),
        ),
    ];
    for (what, main_cf) in safe {
        let config = config_with(&main_cf, &[]);
        let (out, code) = check(&config, &[]);
        assert!(!out.contains(": open relay: "), "{what}:\n{out}");
        assert!(out.contains(": no open relay: "), "{what}:\n{out}");
        assert!(!out.contains("fatal: "), "{what}:\n{out}");
        assert!(code < 2, "{what}: exit {code}\n{out}");
    }
    let (out, code) = check(&config_with("", &[]), &[]);
    assert_eq!(code, 0, "defaults are clean:\n{out}");
    assert!(
        out.starts_with("info: ") && out.contains(": no open relay: ") && out.lines().count() == 1,
        "{out}"
    );
}

#[test]
fn dead_relay_domains_reject_code_on_the_anti_relay_block() {
    let config = config_with(OPERATOR_BLOCK, &[]);
    let (out, code) = check(&config, &[]);
    let at = line_of(&config, "relay_domains_reject_code = 550");
    assert!(
        out.contains(&format!(
            "warning: {at}: relay_domains_reject_code = 550 never applies: smtpd_relay_restrictions (default) answers unauthorized relaying with defer_unauth_destination"
        )),
        "{out}"
    );
    assert_eq!(code, 1, "{out}");
}

#[test]
fn typos_and_broken_tables_are_named_with_their_line() {
    let config = config_with(
        "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destinaton\n\
         smtpd_sender_restrictions = check_sender_access hsh:DIR/senders, check_sender_access hash:DIR/missing, reject_unauth_pipelining\n\
         smtpd_client_restrictions = check_client_access pcre:DIR/clients, check_client_access hash:DIR/stale\n\
         smtpd_helo_restrictions = permit, reject_invalid_helo_hostname",
        &[
            ("clients", "/^(?!mail\\.)spam/ REJECT\n/ok/ OK\n"),
            ("stale", "old.example REJECT\n"),
        ],
    );
    let stale = config.path().join("stale").display().to_string();
    let built = Command::new(gatepost_bin!())
        .args(["postmap", &format!("hash:{stale}")])
        .status()
        .unwrap();
    assert!(built.success());
    // The source edited after postmap: the compiled table is stale.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    std::fs::File::options()
        .append(true)
        .open(&stale)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let spool = config.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    std::fs::set_permissions(&spool, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let (out, code) = check(&config, &[]);
    let rcpt = line_of(&config, "smtpd_recipient_restrictions");
    let queue = line_of(&config, "queue_directory");
    let sender = line_of(&config, "smtpd_sender_restrictions");
    let client = line_of(&config, "smtpd_client_restrictions");
    let helo = line_of(&config, "smtpd_helo_restrictions");
    for want in [
        format!("warning: {queue}: queue_directory {} is world-writable (mode 777)", spool.display()),
        format!("warning: {rcpt}: unknown restriction \"reject_unauth_destinaton\""),
        "did you mean \"reject_unauth_destination\"?".to_string(),
        format!("warning: {sender}: table hsh:"),
        "unsupported dictionary type: hsh; did you mean \"hash:".to_string(),
        format!("warning: {sender}: table hash:{}/missing", config.path().display()),
        format!("warning: {client}: table pcre:"),
        format!("warning: {client}: table hash:{stale} in smtpd_client_restrictions: database {stale}.db is older than source file {stale}"),
        format!("warning: {helo}: in smtpd_helo_restrictions, \"reject_invalid_helo_hostname\" after the unconditional \"permit\" is never evaluated"),
        format!("warning: {sender}: reject_unauth_pipelining in smtpd_sender_restrictions runs at RCPT time"),
        format!("warning: {helo}: smtpd_helo_restrictions are skipped for clients that never send HELO/EHLO"),
    ] {
        assert!(out.contains(&want), "missing {want:?} in:\n{out}");
    }
    assert!(
        out.lines().any(
            |l| l.starts_with(&format!("warning: {client}: table pcre:")) && l.contains("line 1")
        ),
        "the skipped pcre rule is named by its line:\n{out}"
    );
    assert_eq!(code, 1, "{out}");
}

#[test]
fn json_output() {
    let config = config_with("mynetworks = 0.0.0.0/0", &[]);
    let (out, code) = check(&config, &["--json"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let relay = doc
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["open_relay"] == true)
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(relay["severity"], "fatal");
    assert_eq!(
        relay["file"],
        config.path().join("main.cf").display().to_string()
    );
    assert_eq!(
        format!(
            "{}:{}",
            config.path().join("main.cf").display(),
            relay["line"]
        ),
        line_of(&config, "mynetworks = 0.0.0.0/0")
    );
    assert_eq!(code, 2);
}

#[test]
fn serve_refuses_an_open_relay() {
    let config = config_with("mynetworks = 0.0.0.0/0", &[]);
    let mut child = Command::new(gatepost_bin!())
        .arg("-c")
        .arg(config.path())
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut status = None;
    wait_until("serve refuses to start", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    assert_eq!(status.and_then(|s| s.code()), Some(1));
    let log = std::fs::read_to_string(config.path().join("maillog")).unwrap();
    let at = line_of(&config, "mynetworks = 0.0.0.0/0");
    assert!(
        log.contains(&format!("fatal: {at}: open relay"))
            && log.contains("gatepost_allow_open_relay"),
        "{log}"
    );
}

#[test]
fn serve_runs_an_open_relay_with_the_override_and_warns() {
    let srv = TestServer::start(
        gatepost_bin!(),
        "mynetworks = 0.0.0.0/0\ngatepost_allow_open_relay = yes\n",
    )
    .unwrap();
    assert!(
        srv.log().contains("warning: ")
            && srv
                .log()
                .contains("open relay: an outside client (192.0.2.1, no SASL login)")
            && srv
                .log()
                .contains("(running anyway: gatepost_allow_open_relay = yes)"),
        "{}",
        srv.log()
    );
}

#[test]
fn reload_into_an_open_relay_keeps_the_old_configuration() {
    let srv = TestServer::start(gatepost_bin!(), "").unwrap();
    let main_cf = srv.path().join("main.cf");
    let mut text = std::fs::read_to_string(&main_cf).unwrap();
    text.push_str("mynetworks = 0.0.0.0/0\n");
    std::fs::write(&main_cf, text).unwrap();
    let (code, stderr) =
        gatepost_testkit::server::run_gatepost(gatepost_bin!(), srv.path(), &["reload"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        srv.wait_for_log(
            "keeping the current configuration",
            gatepost_testkit::EVENT_TIMEOUT
        ),
        "{}",
        srv.log()
    );
    let log = srv.log();
    let line = log
        .lines()
        .find(|l| l.contains("keeping the current configuration"))
        .unwrap();
    assert!(line.contains("open relay"), "{line}");

    // 127.0.0.2 is still outside mynetworks: relaying stays denied.
    let mut c = gatepost_testkit::Client::connect_from("127.0.0.2", srv.addr).unwrap();
    assert_eq!(c.read_reply().unwrap().code, 220);
    assert_eq!(c.command("EHLO client.example").unwrap().code, 250);
    assert_eq!(c.command("MAIL FROM:<a@client.example>").unwrap().code, 250);
    let reply = c.command("RCPT TO:<u@far.example>").unwrap();
    assert_eq!(reply.code, 454, "{}", reply.full());
    c.command("QUIT").unwrap();
}
