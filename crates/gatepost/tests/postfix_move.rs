//! Moving from Postfix: `gatepost serve` refuses a queue directory laid out
//! as Postfix's (naming what gave it away, before writing anything there),
//! and `gatepost queue import-postfix DIR` moves a stopped Postfix's mail
//! (queue files written by Postfix 3.7) into gatepost's queue, where
//! `mailq` shows it.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use gatepost_testkit::{gatepost_bin, ConfigDir};

fn cli(config: &ConfigDir, args: &[&str]) -> Output {
    Command::new(gatepost_bin!())
        .arg("-c")
        .arg(config.path())
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A stopped Postfix's queue directory: its queue files, `private/`,
/// `public/`, a stale `pid/master.pid`.
fn postfix_queue(dir: &Path) {
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../queue/tests/fixtures/postfix-3.7");
    copy_tree(&fixtures, dir);
    for sub in ["incoming", "active", "private", "public", "pid"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    fs::write(dir.join("public/pickup"), "").unwrap();
    fs::write(dir.join("pid/master.pid"), "          4242\n").unwrap();
}

#[test]
fn refuse_postfix_queue_then_import_it() {
    let config = ConfigDir::new().unwrap();
    let spool = config.path().join("spool");
    postfix_queue(&spool);

    let out = cli(&config, &["serve"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{} is a Postfix queue directory ({} exists)",
            spool.display(),
            spool.join("public/pickup").display()
        )),
        "{err}"
    );
    assert!(err.contains("gatepost queue import-postfix"), "{err}");
    assert_eq!(
        fs::read_to_string(spool.join("pid/master.pid")).unwrap(),
        "          4242\n",
        "Postfix's pid file untouched"
    );
    assert!(!spool.join("tmp").exists() && !spool.join("gatepost-queue").exists());

    // The operator points queue_directory elsewhere (here: moves Postfix's
    // tree away) and imports.
    let postfix = config.path().join("postfix-spool");
    fs::rename(&spool, &postfix).unwrap();
    let out = cli(
        &config,
        &["queue", "import-postfix", postfix.to_str().unwrap()],
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    for old in ["54C8D98C7EB", "695FD98C7EF", "5D8BE98C7E7", "BB1CB98C2A9"] {
        assert!(
            err.contains(&format!("import: {old} -> ")),
            "{old} in {err}"
        );
    }
    let log = fs::read_to_string(config.path().join("maillog")).unwrap();
    assert!(log.contains(": 54C8D98C7EB -> "), "{log}");
    assert!(err.contains("import: 4 messages moved from"), "{err}");
    assert!(!postfix.join("hold/5D8BE98C7E7").exists());

    let out = cli(&config, &["mailq"]);
    let list = text(&out.stdout);
    for want in [
        "     403 Wed Dec  2 00:21:23  alice@sender.example\n",
        "!     353 Wed Dec  2 00:21:23  hold@sender.example\n",
        "  MAILER-DAEMON\n",
        "                                         carol@remote.example\n",
    ] {
        assert!(list.contains(want), "{want:?} in\n{list}");
    }
}
