//! `mailbox_command` and `mailbox_command_maps`: the uid the command runs
//! as, its environment and arguments, and the exit status mapping. Run as
//! root, the command runs with the recipient's uid (root's mail as
//! `default_privs`); run as an ordinary user, with that user's.

use std::os::unix::fs::PermissionsExt;

use super::*;

/// A script that records its uid, arguments, environment and input in
/// `out/NAME`, then exits with `$MB_EXIT` (or the status in its last
/// argument when that is a number).
const SCRIPT: &str = r#"#!/bin/sh
out="$1"; shift
{
  echo "uid=$(id -u) pwd=$(pwd)"
  echo "args=$*"
  for v in HOME USER LOGNAME SHELL SENDER RECIPIENT LOCAL DOMAIN EXTENSION ORIGINAL_RECIPIENT PATH \
      CLIENT_HOSTNAME CLIENT_ADDRESS CLIENT_HELO CLIENT_PROTOCOL SASL_METHOD SASL_SENDER SASL_USERNAME; do
    eval "echo $v=\${$v-unset}"
  done
  cat
} > "$out"
for last in "$@"; do :; done
case "$last" in
  75) echo "mailbox busy"; exit 75;;
  67) exit 67;;
esac
exit 0
"#;

pub(super) fn install_script(h: &Harness) -> String {
    let bin = h.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = bin.join("mb");
    std::fs::write(&script, SCRIPT).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.display().to_string()
}

pub(super) fn my_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(0)
}

#[tokio::test]
async fn mailbox_command_runs_as_the_recipient_with_postfix_environment() {
    let h = Harness::new(
        "mailbox_command = {d}/bin/mb {d}/out/mb.txt -a ${extension} -d $user@$domain\n",
        "",
    );
    let script = install_script(&h);
    let out = h.path("out/mb.txt");
    let outcomes = h
        .deliver("alice@remote.example", &["homer+lists@example.com"], BODY)
        .await;
    let expected = format!(
        "delivered to command: {script} {} -a lists -d homer@example.com",
        out.display()
    );
    assert_eq!(
        summary(&outcomes[0]),
        (
            DeliveryStatus::Sent,
            "local",
            "local",
            "2.0.0",
            expected.as_str()
        )
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let home = h.path("home/homer").display().to_string();
    let uid = if privs::running_as_root() {
        4242
    } else {
        println!("not root: the command runs as uid {}", my_uid());
        my_uid()
    };
    assert!(text.starts_with(&format!("uid={uid} ")), "{text}");
    for line in [
        "args=-a lists -d homer@example.com".to_string(),
        format!("HOME={home}"),
        "USER=homer".to_string(),
        "LOGNAME=homer".to_string(),
        "SHELL=/bin/sh".to_string(),
        "SENDER=alice@remote.example".to_string(),
        "RECIPIENT=homer+lists@example.com".to_string(),
        "LOCAL=homer+lists".to_string(),
        "DOMAIN=example.com".to_string(),
        "EXTENSION=lists".to_string(),
        "ORIGINAL_RECIPIENT=homer+lists@example.com".to_string(),
        "PATH=/usr/bin:/bin".to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in {text}");
    }
    assert!(
        text.contains("\nFrom alice@remote.example  "),
        "From_ line first: {text}"
    );
    assert!(
        text.contains("Delivered-To: homer+lists@example.com\nSubject: test\n"),
        "{text}"
    );
    // Names without a passwd entry keep their mailbox.
    let outcomes = h
        .deliver("alice@remote.example", &["nopw@example.com"], BODY)
        .await;
    assert_eq!(outcomes[0].status, DeliveryStatus::Sent);
    assert!(h.path("mail/nopw").is_file());
}

#[tokio::test]
async fn mailbox_command_exit_status_as_sysexits() {
    let h = Harness::new(
        "mailbox_command = {d}/bin/mb {d}/out/mb.txt ${extension}\n",
        "",
    );
    install_script(&h);
    let outcomes = h
        .deliver(
            "alice@remote.example",
            &["homer+75@example.com", "homer+67@example.com"],
            BODY,
        )
        .await;
    assert_eq!(
        summary(&outcomes[0]),
        (
            DeliveryStatus::Deferred,
            "local",
            "local",
            "4.3.0",
            "temporary failure. Command output: mailbox busy"
        )
    );
    assert_eq!(
        summary(&outcomes[1]),
        (
            DeliveryStatus::Bounced,
            "local",
            "local",
            "5.1.1",
            "user unknown"
        )
    );
}

#[tokio::test]
async fn mailbox_command_maps_per_user_and_root_as_default_privs() {
    let h = Harness::new(
        "mailbox_command_maps = inline:{ {homer = {d}/bin/mb {d}/out/homer.txt}, {root = {d}/bin/mb {d}/out/root.txt} }\n\
         command_execution_directory = {d}/out\n",
        "",
    );
    install_script(&h);
    let outcomes = h
        .deliver(
            "",
            &["homer@example.com", "root@example.com", "bob@example.com"],
            BODY,
        )
        .await;
    for o in &outcomes {
        assert_eq!(o.status, DeliveryStatus::Sent, "{o:?}");
    }
    let homer = std::fs::read_to_string(h.path("out/homer.txt")).unwrap();
    let root = std::fs::read_to_string(h.path("out/root.txt")).unwrap();
    let out = h.path("out").display().to_string();
    assert!(homer.contains(&format!(" pwd={out}\n")), "{homer}");
    assert!(homer.lines().any(|l| l == "SENDER="), "{homer}");
    assert!(h.path("mail/bob").is_file(), "bob has no command");
    if privs::running_as_root() {
        assert!(homer.starts_with("uid=4242 "), "{homer}");
        assert!(root.starts_with("uid=65534 "), "root as nobody: {root}");
    } else {
        println!("not root: skipping the uid checks of the root path");
    }
}
