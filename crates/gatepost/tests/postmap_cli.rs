//! `gatepost postmap` like Postfix's: builds `FILE.gpdb` from an access file,
//! answers `-q KEY` (exit 1 when not found), is never rebuilt behind the
//! operator's back, and the compiled table works in a restriction.

use std::process::Command;

use gatepost_testkit::{gatepost_bin, run_session, steps, ConfigDir};

fn postmap(args: &[&str]) -> (String, i32) {
    let (stdout, _, code) = postmap_full(args);
    (stdout, code)
}

fn postmap_full(args: &[&str]) -> (String, String, i32) {
    let out = Command::new(gatepost_bin!())
        .arg("postmap")
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn build_query_and_use_a_hash_table() {
    let config = ConfigDir::new().unwrap();
    let access = config
        .file(
            "sender_access",
            "# senders we refuse\nbadsender.test   REJECT\nSpammer@x.test   550 5.7.1 go away\nfriend@x.test    OK\n",
        )
        .unwrap();
    let spec = format!("hash:{}", access.display());

    // Not built yet: the source file is read as it is (a Postfix
    // configuration works without any gatepost command first).
    assert_eq!(
        postmap(&["-q", "badsender.test", &spec]),
        ("REJECT\n".into(), 0)
    );
    // Neither source nor compiled file: a fatal error (as in Postfix, exit
    // 1 with a message), not a silent "not found".
    let missing = format!("hash:{}", config.path().join("nothing").display());
    let (_, err, code) = postmap_full(&["-q", "badsender.test", &missing]);
    assert_eq!(code, 1);
    assert!(
        err.contains("nothing.db: No such file or directory"),
        "{err}"
    );

    assert_eq!(postmap(&[&spec]).1, 0);
    assert!(config.path().join("sender_access.gpdb").exists());
    assert!(!config.path().join("sender_access.db").exists());
    assert_eq!(
        postmap(&["-q", "badsender.test", &spec]),
        ("REJECT\n".into(), 0)
    );
    // Keys are case-folded, as postmap does by default.
    assert_eq!(
        postmap(&["-q", "spammer@x.test", &spec]),
        ("550 5.7.1 go away\n".into(), 0)
    );
    assert_eq!(postmap(&["-q", "nobody@x.test", &spec]).1, 1);

    // Editing the source does not change the table until postmap runs.
    std::fs::write(&access, "badsender.test OK\n").unwrap();
    assert_eq!(postmap(&["-q", "badsender.test", &spec]).0, "REJECT\n");
    std::fs::write(
        &access,
        "badsender.test   REJECT\nspammer@x.test   550 5.7.1 go away\n",
    )
    .unwrap();
    assert_eq!(postmap(&[&spec]).1, 0);

    let srv = config
        .main_cf(&format!(
            "smtpd_sender_restrictions = check_sender_access {spec}\n"
        ))
        .unwrap()
        .start(gatepost_bin!())
        .unwrap();
    run_session(
        &srv,
        "127.0.0.2",
        &steps(&[
            ("", "220 "),
            ("EHLO probe.example", "250 "),
            ("MAIL FROM:<a@badsender.test>", "250 2.1.0 Ok"),
            (
                "RCPT TO:<bob@spec.test>",
                "554 5.7.1 <a@badsender.test>: Sender address rejected: Access denied",
            ),
            ("RSET", "250 2.0.0 Ok"),
            ("MAIL FROM:<spammer@x.test>", "250 2.1.0 Ok"),
            (
                "RCPT TO:<bob@spec.test>",
                "550 5.7.1 <spammer@x.test>: Sender address rejected: go away",
            ),
            ("RSET", "250 2.0.0 Ok"),
            ("MAIL FROM:<ok@x.test>", "250 2.1.0 Ok"),
            ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
        ]),
    )
    .unwrap();
}
