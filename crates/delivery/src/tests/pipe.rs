//! pipe(8) transports from master.cf: the user the command runs as, its
//! arguments (`${recipient}` ...), the flags, the exit status mapping and
//! the refusal of a missing or privileged `user=`.

use super::commands::{install_script, my_uid};
use super::*;

const ROUTE: &str = "transport_maps = inline:{ pipe.example=mypipe:NextHop.example, \
                     root.example=rootpipe:, nouser.example=nouser:, owner.example=ownerpipe: }\n\
                     mail_owner = homer2\n";

const MASTER_CF: &str = "\
mypipe unix - n n - - pipe
  flags=DROFqhu. user=homer argv={d}/bin/mb {d}/out/pipe.txt
  ${recipient} ${sender} ${nexthop} ${user} ${domain} ${mailbox} ${original_recipient} ${size} ${extension}
rootpipe unix - n n - - pipe flags=R user=root argv={d}/bin/mb {d}/out/root.txt
nouser unix - n n - - pipe argv={d}/bin/mb {d}/out/nouser.txt
ownerpipe unix - n n - - pipe user=homer2 argv={d}/bin/mb {d}/out/owner.txt
";

#[tokio::test]
async fn pipe_transport_runs_argv_as_user_with_flags() {
    let h = Harness::with_master_cf(ROUTE, "", MASTER_CF);
    install_script(&h);
    let body = b"Subject: pipe\n\n.leading dot\nFrom here\n";
    let outcomes = h
        .deliver("a b@remote.example", &["Joe+Ext@Pipe.Example"], body)
        .await;
    assert_eq!(
        summary(&outcomes[0]),
        (
            DeliveryStatus::Sent,
            "pipe",
            "mypipe",
            "2.0.0",
            "delivered via mypipe service"
        )
    );
    let text = std::fs::read_to_string(h.path("out/pipe.txt")).unwrap();
    let uid = if privs::running_as_root() {
        4242
    } else {
        println!("not root: the pipe command runs as uid {}", my_uid());
        my_uid()
    };
    assert!(text.starts_with(&format!("uid={uid} pwd=")), "{text}");
    let size = body.len();
    let args = format!(
        "args=Joe+Ext@Pipe.Example \"a b\"@remote.example nexthop.example joe pipe.example \
         Joe+Ext Joe+Ext@Pipe.Example {size} Ext"
    );
    assert!(text.lines().any(|l| l == args), "{args} in {text}");
    // No Postfix environment for pipe(8) commands.
    assert!(text.lines().any(|l| l == "RECIPIENT=unset"), "{text}");
    assert!(text.contains("\nFrom \"a b\"@remote.example  "), "{text}");
    assert!(
        text.contains(
            "\nReturn-Path: <\"a b\"@remote.example>\nX-Original-To: Joe+Ext@Pipe.Example\n\
             Delivered-To: Joe+Ext@Pipe.Example\nSubject: pipe\n\n..leading dot\nFrom here\n"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn pipe_transport_exit_status_and_refused_users() {
    let h = Harness::with_master_cf(ROUTE, "", MASTER_CF);
    install_script(&h);
    let passwd = h.path("passwd");
    let mut entries = std::fs::read_to_string(&passwd).unwrap();
    entries.push_str("homer2:x:4343:4343:Owner:/nonexistent:/bin/false\n");
    std::fs::write(&passwd, entries).unwrap();
    let outcomes = h
        .deliver(
            "alice@remote.example",
            &[
                "joe+75@pipe.example",
                "joe+67@pipe.example",
                "x@root.example",
                "x@nouser.example",
                "x@owner.example",
            ],
            BODY,
        )
        .await;
    let got: Vec<_> = outcomes.iter().map(summary).collect();
    assert_eq!(
        got,
        vec![
            (
                DeliveryStatus::Deferred,
                "pipe",
                "mypipe",
                "4.3.0",
                "temporary failure. Command output: mailbox busy"
            ),
            (
                DeliveryStatus::Bounced,
                "pipe",
                "mypipe",
                "5.1.1",
                "user unknown"
            ),
            (
                DeliveryStatus::Deferred,
                "pipe",
                "rootpipe",
                "4.3.0",
                "unknown mail transport error"
            ),
            (
                DeliveryStatus::Deferred,
                "pipe",
                "nouser",
                "4.3.0",
                "unknown mail transport error"
            ),
            (
                DeliveryStatus::Deferred,
                "pipe",
                "ownerpipe",
                "4.3.0",
                "unknown mail transport error"
            ),
        ]
    );
    assert!(!h.path("out/root.txt").exists(), "never run as root");
    assert!(!h.path("out/nouser.txt").exists());
    assert!(!h.path("out/owner.txt").exists(), "never as mail_owner");
}
