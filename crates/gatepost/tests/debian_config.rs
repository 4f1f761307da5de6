//! A copy of a stock Debian Postfix 3.7 `/etc/postfix` serves mail with no
//! gatepost command run first: `main.cf` and `master.cf` as the Debian
//! package installs them, Debian's `/etc/aliases`, and an access table
//! compiled by Postfix's own `postmap` into `access.db` (fixtures in
//! `tests/fixtures/debian-postfix/`). The test changes only what it must:
//! paths (queue, data, mail spool, log, aliases, access table), the smtp
//! service's listening address, and no real DNS. Afterwards Postfix's
//! `postmap -q` still reads the table (when Postfix is installed).

use std::path::Path;

use gatepost_testkit::{gatepost_bin, submit, Client, ConfigDir};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/debian-postfix");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(name)).expect("fixture")
}

#[test]
fn stock_debian_configuration_serves_mail() {
    let config = ConfigDir::with_main_cf("").unwrap();
    let d = config.path().to_path_buf();
    for name in ["access", "access.db", "aliases"] {
        std::fs::copy(Path::new(FIXTURES).join(name), d.join(name)).unwrap();
    }
    let main_cf = format!(
        "{}\n# The test's paths, the access table, no real DNS.\n\
         queue_directory = {d}/spool\n\
         data_directory = {d}/data\n\
         mail_spool_directory = {d}/mail\n\
         maillog_file = {d}/maillog\n\
         smtpd_client_restrictions = check_client_access hash:{d}/access\n\
         dns_nameservers = 127.0.0.1:1\n\
         smtpd_peername_lookup = no\n",
        fixture("main.cf").replace("/etc/aliases", &format!("{}/aliases", d.display())),
        d = d.display()
    );
    std::fs::write(d.join("main.cf"), main_cf).unwrap();
    let master = fixture("master.cf");
    let smtp_line = "smtp      inet  n       -       y       -       -       smtpd";
    assert!(master.contains(smtp_line));
    let master = master.replacen(
        smtp_line,
        "127.0.0.1:0 inet  n       -       y       -       -       smtpd",
        1,
    );
    std::fs::write(d.join("master.cf"), master).unwrap();
    let access_db = std::fs::read(d.join("access.db")).unwrap();

    let srv = config.start(gatepost_bin!()).unwrap();
    // The access table, read without any gatepost postmap run.
    let mut c = Client::connect_from("127.0.0.3", srv.addr).unwrap();
    let greeting = c.read_reply().unwrap();
    assert!(
        greeting.last_line().contains("ESMTP Postfix (Debian/GNU)"),
        "{greeting:?}"
    );
    c.command("EHLO client.example").unwrap();
    c.command("MAIL FROM:<someone@example.org>").unwrap();
    let r = c.command("RCPT TO:<daemon@localhost>").unwrap();
    assert_eq!(r.code, 554, "{r:?}");
    assert!(
        r.last_line()
            .contains("Client host rejected: not welcome here"),
        "{r:?}"
    );
    c.command("QUIT").unwrap();
    assert!(
        srv.log()
            .contains("NOQUEUE: reject: RCPT from unknown[127.0.0.3]: 554 5.7.1"),
        "{}",
        srv.log()
    );

    // Mail from the local network is delivered into the mbox spool.
    let id = submit(
        &srv,
        "localhost",
        "root@localhost",
        &["daemon@localhost"],
        "Subject: debian\n\nhello\n",
    );
    srv.expect_removed(&id);
    assert!(
        srv.log().contains("status=sent (delivered to mailbox)"),
        "{}",
        srv.log()
    );
    let mbox = std::fs::read_to_string(d.join("mail/daemon")).unwrap();
    assert!(mbox.contains("Subject: debian"), "{mbox}");

    // Postfix's files are as they were, and Postfix's postmap still reads them.
    assert_eq!(std::fs::read(d.join("access.db")).unwrap(), access_db);
    assert!(!d.join("access.gpdb").exists());
    match std::process::Command::new("postmap")
        .args(["-q", "127.0.0.3"])
        .arg(format!("hash:{}/access", d.display()))
        .output()
    {
        Ok(out) => assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "REJECT not welcome here"
        ),
        Err(_) => {
            eprintln!("postmap (Debian's postfix) is not installed: not checking access.db with it")
        }
    }
}
