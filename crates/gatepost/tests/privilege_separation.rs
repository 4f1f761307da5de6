//! Privilege separation, as root (skipped, saying so, otherwise): the
//! process that listens and talks SMTP runs as `mail_owner` (or `nobody`
//! where that account does not exist); mailbox and Maildir deliveries are
//! written with the recipient's uid; a symbolic link planted at the
//! recipient's mailbox leaves its target untouched and the message
//! deferred with Postfix's text and a warning; one store process serves
//! the stores of one owner, is replaced when killed, closed after
//! `max_idle`, and hands each job's warnings to the log.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use gatepost_testkit::{gatepost_bin, submit, wait_until, ConfigDir, TestServer, EVENT_TIMEOUT};

/// The recipient: an existing unprivileged system account (no useradd).
const USER: &str = "daemon";

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// uid of a passwd account.
fn uid_of(name: &str) -> Option<u32> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() > 3 && f[0] == name).then(|| f[2].parse().ok())?
    })
}

/// The four uids (real, effective, saved, filesystem) of a process.
fn process_uids(pid: u32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .expect("Uid line");
    line.split_whitespace()
        .skip(1)
        .map(|n| n.parse().expect("uid"))
        .collect()
}

/// The inode of the socket listening on `port` (IPv4), from /proc/net/tcp.
fn listening_inode(port: u16) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let local_port = f.get(1)?.rsplit_once(':')?.1;
        (u16::from_str_radix(local_port, 16).ok()? == port && f.get(3)? == &"0A")
            .then(|| f.get(9).map(|s| s.to_string()))?
    })
}

/// Whether process `pid` holds the socket with `inode`.
fn holds_socket(pid: u32, inode: &str) -> bool {
    let want = format!("socket:[{inode}]");
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == want))
        })
        .unwrap_or(false)
}

fn skip_unless_root(test: &str) -> bool {
    if running_as_root() {
        return false;
    }
    eprintln!("{test}: skipped: privilege separation needs the tests to run as root");
    true
}

/// A server delivering local mail into mailboxes under `mbox/` of its
/// configuration directory.
fn server_with_mbox_spool() -> (TestServer, std::path::PathBuf) {
    let config = ConfigDir::new().unwrap();
    let spool = config.path().join("mbox");
    let srv = config
        .main_cf(&format!("mail_spool_directory = {}", spool.display()))
        .unwrap()
        .start(gatepost_bin!())
        .unwrap();
    (srv, spool)
}

/// Wait until message `id` is done, delivered to a mailbox.
fn expect_delivered_to_mailbox(srv: &TestServer, id: &str) {
    srv.expect_removed(id);
    assert!(
        srv.log().contains("status=sent (delivered to mailbox)"),
        "{}",
        srv.log()
    );
}

/// Wait until `USER` has `n` messages (failing with the log otherwise).
fn expect_mail(srv: &TestServer, n: usize) {
    assert_eq!(
        srv.wait_for_mail(USER, n, EVENT_TIMEOUT).len(),
        n,
        "{}",
        srv.log()
    );
}

fn message(srv: &TestServer, subject: &str) -> String {
    submit(
        srv,
        "client.example",
        "alice@spec.test",
        &[&format!("{USER}@spec.test")],
        &format!("Subject: {subject}\n\nbody\n"),
    )
}

#[test]
fn smtp_runs_as_mail_owner() {
    if skip_unless_root("smtp_runs_as_mail_owner") {
        return;
    }
    let srv = TestServer::start(gatepost_bin!(), "").unwrap();
    let pid = srv.pid().unwrap();
    let inode = listening_inode(srv.addr.port()).expect("listening socket in /proc/net/tcp");
    assert!(
        holds_socket(pid, &inode),
        "process {pid} holds the listener"
    );
    let expected = uid_of("postfix").or_else(|| uid_of("nobody")).unwrap();
    assert_eq!(
        process_uids(pid),
        vec![expected; 4],
        "uids of the SMTP process"
    );
    assert!(
        srv.log().contains("privilege separation: running as "),
        "{}",
        srv.log()
    );
    // The queue belongs to the unprivileged account now.
    let spool = srv.path().join("spool");
    assert_eq!(std::fs::metadata(&spool).unwrap().uid(), expected);
    let id = message(&srv, "as mail_owner");
    srv.expect_removed(&id);
}

#[test]
fn missing_mail_owner_falls_back_to_nobody() {
    if skip_unless_root("missing_mail_owner_falls_back_to_nobody") {
        return;
    }
    let srv = TestServer::start(gatepost_bin!(), "mail_owner = gatepost-no-such-user").unwrap();
    let nobody = uid_of("nobody").expect("nobody account");
    assert_eq!(process_uids(srv.pid().unwrap()), vec![nobody; 4]);
    let line = format!(
        "warning: mail_owner account gatepost-no-such-user does not exist: running as nobody (uid {nobody})"
    );
    assert!(srv.log().contains(&line), "{}", srv.log());
    // Mail still lands in the spool.
    message(&srv, "as nobody");
    expect_mail(&srv, 1);
}

#[test]
fn maildir_and_mbox_are_written_as_the_recipient() {
    if skip_unless_root("maildir_and_mbox_are_written_as_the_recipient") {
        return;
    }
    let uid = uid_of(USER).expect("daemon account");
    // Maildir (the test configuration's spool ends in /).
    let srv = TestServer::start(gatepost_bin!(), "").unwrap();
    message(&srv, "maildir");
    let msgs = srv.wait_for_mail(USER, 1, EVENT_TIMEOUT);
    assert_eq!(msgs.len(), 1, "{}", srv.log());
    let new = srv.path().join("mail").join(USER).join("new");
    let file = std::fs::read_dir(&new)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(std::fs::metadata(&file).unwrap().uid(), uid);
    assert_eq!(std::fs::metadata(&new).unwrap().uid(), uid);
    drop(srv);

    // mbox: a spool without the trailing slash.
    let (srv, spool) = server_with_mbox_spool();
    let id = message(&srv, "mbox");
    expect_delivered_to_mailbox(&srv, &id);
    let mailbox = spool.join(USER);
    let meta = std::fs::metadata(&mailbox).unwrap();
    assert_eq!(meta.uid(), uid);
    assert!(std::fs::read_to_string(&mailbox)
        .unwrap()
        .contains("Subject: mbox"));
}

#[test]
fn symlink_at_the_mailbox_is_refused() {
    if skip_unless_root("symlink_at_the_mailbox_is_refused") {
        return;
    }
    let (srv, spool) = server_with_mbox_spool();
    // A root-owned file, and a link to it where the mailbox would be.
    let victim = srv.path().join("victim");
    std::fs::write(&victim, "root's file\n").unwrap();
    assert!(spool.is_dir(), "the server made the spool");
    let mailbox = spool.join(USER);
    std::os::unix::fs::symlink(&victim, &mailbox).unwrap();
    let id = message(&srv, "symlink");
    let text = format!(
        "cannot update mailbox {} for user {USER}. file is a symbolic link",
        mailbox.display()
    );
    let deferred = format!("{id}: to=<{USER}@spec.test>");
    wait_until("the deferral", || {
        srv.log()
            .lines()
            .any(|l| l.contains(&deferred) && l.contains("status=deferred") && l.contains(&text))
    });
    let log = srv.log();
    assert!(
        log.lines()
            .any(|l| l.contains("warning: ") && l.contains(&text)),
        "{log}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root's file\n");
    assert_eq!(std::fs::metadata(&victim).unwrap().uid(), 0);
    assert!(!Path::new(&format!("{}.lock", victim.display())).exists());
}

/// A script that writes its uid and arguments to its first argument.
const RECORDER: &str =
    "#!/bin/sh\nout=\"$1\"; shift\n{ echo \"uid=$(id -u)\"; echo \"args=$*\"; cat; } > \"$out\"\n";

#[test]
fn pipe_transport_and_mailbox_command_run_as_their_users() {
    if skip_unless_root("pipe_transport_and_mailbox_command_run_as_their_users") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let uid = uid_of(USER).expect("daemon account");
    let config = ConfigDir::new().unwrap();
    let d = config.path().display().to_string();
    let script = config.file("recorder", RECORDER).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = config.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
    let master = std::fs::read_to_string(config.path().join("master.cf")).unwrap();
    config
        .file(
            "master.cf",
            &format!(
                "{master}mypipe unix - n n - - pipe flags=R user={USER} \
                 argv={d}/recorder {d}/out/pipe.txt ${{recipient}} ${{nexthop}}\n"
            ),
        )
        .unwrap();
    let srv = config
        .main_cf(&format!(
            "mailbox_command = {d}/recorder {d}/out/mbcmd.txt $user\n\
             transport_maps = inline:{{ pipe.example=mypipe:hop.example }}"
        ))
        .unwrap()
        .start(gatepost_bin!())
        .unwrap();
    let id = submit(
        &srv,
        "client.example",
        "alice@spec.test",
        &[&format!("{USER}@spec.test"), "bob@pipe.example"],
        "Subject: pipe\n\nbody\n",
    );
    srv.expect_removed(&id);
    let log = srv.log();
    assert!(
        log.contains("relay=mypipe") && log.contains("status=sent (delivered via mypipe service)"),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "status=sent (delivered to command: {d}/recorder {d}/out/mbcmd.txt {USER})"
        )),
        "{log}"
    );
    let piped = std::fs::read_to_string(out.join("pipe.txt")).unwrap();
    assert!(
        piped.starts_with(&format!(
            "uid={uid}\nargs=bob@pipe.example hop.example\nReturn-Path: <alice@spec.test>\n"
        )),
        "{piped}"
    );
    let mbcmd = std::fs::read_to_string(out.join("mbcmd.txt")).unwrap();
    assert!(
        mbcmd.starts_with(&format!("uid={uid}\nargs={USER}\nFrom alice@spec.test ")),
        "{mbcmd}"
    );
}

/// `(pid, state)` of the children of `parent`, from /proc/*/stat
/// (zombies included: state `Z`).
fn children(parent: u32) -> Vec<(u32, char)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // pid (comm) state ppid ...: the comm may hold spaces.
            let mut rest = stat.rsplit_once(')')?.1.split_whitespace();
            let state = rest.next()?.chars().next()?;
            let ppid: u32 = rest.next()?.parse().ok()?;
            (ppid == parent).then_some((pid, state))
        })
        .collect()
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// The children of the server's delivery helpers (`privsep-local`): here,
/// with Maildir deliveries only, its store processes, zombies included.
fn helper_children(srv: &TestServer) -> Vec<(u32, char)> {
    children(srv.pid().unwrap())
        .into_iter()
        .filter(|(pid, _)| cmdline(*pid).contains("privsep-local"))
        .flat_map(|(helper, _)| children(helper))
        .collect()
}

/// The running store processes of the server's helpers.
fn store_processes(srv: &TestServer) -> Vec<u32> {
    let mut pids: Vec<u32> = helper_children(srv)
        .into_iter()
        .filter(|(pid, state)| *state != 'Z' && cmdline(*pid).contains("privsep-store"))
        .map(|(pid, _)| pid)
        .collect();
    pids.sort_unstable();
    pids
}

#[test]
fn one_store_process_serves_an_owner() {
    if skip_unless_root("one_store_process_serves_an_owner") {
        return;
    }
    let uid = uid_of(USER).expect("daemon account");
    let srv = TestServer::start(gatepost_bin!(), "").unwrap();
    // Each delivery is waited for to the end: the file is in the Maildir
    // before the store process answers and goes back to the pool, and a
    // delivery that starts meanwhile rightly takes a second process.
    let id = message(&srv, "first");
    expect_mail(&srv, 1);
    srv.expect_removed(&id);
    let first = store_processes(&srv);
    assert_eq!(first.len(), 1, "one store process: {first:?}");
    assert_eq!(process_uids(first[0]), vec![uid; 4], "it runs as {USER}");
    for n in 2..=4 {
        let id = message(&srv, &format!("message {n}"));
        expect_mail(&srv, n);
        srv.expect_removed(&id);
        assert_eq!(
            store_processes(&srv),
            first,
            "the same process stored message {n}"
        );
    }
}

#[test]
fn killed_store_process_is_replaced() {
    if skip_unless_root("killed_store_process_is_replaced") {
        return;
    }
    let srv = TestServer::start(gatepost_bin!(), "").unwrap();
    let first = message(&srv, "before");
    expect_mail(&srv, 1);
    // The file is in the Maildir before the store process answers; a kill
    // in between rightly defers the message, so wait for the whole delivery.
    srv.expect_removed(&first);
    let old = store_processes(&srv);
    assert_eq!(old.len(), 1, "{old:?}");
    let status = std::process::Command::new("kill")
        .args(["-KILL", &old[0].to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_until("the store process to die", || {
        helper_children(&srv)
            .iter()
            .all(|(pid, state)| *pid != old[0] || *state == 'Z')
    });
    message(&srv, "after");
    expect_mail(&srv, 2);
    let new = store_processes(&srv);
    assert_eq!(new.len(), 1, "{new:?}");
    assert_ne!(new, old, "a new store process");
    // The dead one was reaped before its replacement started.
    assert!(
        !helper_children(&srv).iter().any(|(pid, _)| *pid == old[0]),
        "{:?}",
        helper_children(&srv)
    );
    assert!(!srv.log().contains("status=deferred"), "{}", srv.log());
}

#[test]
fn idle_store_processes_are_closed_after_max_idle() {
    if skip_unless_root("idle_store_processes_are_closed_after_max_idle") {
        return;
    }
    let srv = TestServer::start(gatepost_bin!(), "max_idle = 1s").unwrap();
    message(&srv, "idle");
    expect_mail(&srv, 1);
    // Closed and reaped: no child left, not even a zombie.
    wait_until("the idle store process to be closed", || {
        helper_children(&srv).is_empty()
    });
    message(&srv, "again");
    expect_mail(&srv, 2);
}

#[test]
fn store_warnings_reach_the_log_with_their_job() {
    if skip_unless_root("store_warnings_reach_the_log_with_their_job") {
        return;
    }
    let (srv, spool) = server_with_mbox_spool();
    // A mailbox the user may write but root owns: deferred, with
    // Postfix's hint.
    use std::os::unix::fs::PermissionsExt;
    let mailbox = spool.join(USER);
    std::fs::write(&mailbox, "").unwrap();
    std::fs::set_permissions(&mailbox, std::fs::Permissions::from_mode(0o666)).unwrap();
    let id = message(&srv, "not owned");
    let hint =
        "warning: specify \"strict_mailbox_ownership = no\" to ignore mailbox ownership mismatch";
    wait_until("the deferral", || {
        srv.log().lines().any(|l| {
            l.contains(&format!("{id}: to=<{USER}@spec.test>")) && l.contains("status=deferred")
        })
    });
    assert_eq!(srv.log().matches(hint).count(), 1, "{}", srv.log());
    // Fixed: the next job of the same store process logs no warning.
    let uid = uid_of(USER).expect("daemon account");
    std::os::unix::fs::chown(&mailbox, Some(uid), None).unwrap();
    let id = message(&srv, "owned");
    expect_delivered_to_mailbox(&srv, &id);
    assert_eq!(srv.log().matches(hint).count(), 1, "{}", srv.log());
    assert!(std::fs::read_to_string(&mailbox)
        .unwrap()
        .contains("Subject: owned"));
}

#[test]
fn virtual_deliveries_of_one_batch_are_stored_each_as_its_owner() {
    if skip_unless_root("virtual_deliveries_of_one_batch_are_stored_each_as_its_owner") {
        return;
    }
    let (daemon, bin) = (
        uid_of("daemon").expect("daemon"),
        uid_of("bin").expect("bin"),
    );
    let config = ConfigDir::new().unwrap();
    let base = config.path().join("vmail");
    std::fs::create_dir(&base).unwrap();
    // Every store process walks through the test directory and creates
    // its Maildir below the base.
    for dir in [config.path(), base.as_path()] {
        let mode = if dir == base { 0o1777 } else { 0o755 };
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }
    // c@ gets a Maildir below a plain file: its store fails, the others not.
    std::fs::write(base.join("blocker"), b"").unwrap();
    let srv = config
        .main_cf(&format!(
            "virtual_mailbox_domains = virt.test\n\
             virtual_mailbox_base = {}\n\
             virtual_mailbox_maps = inline:{{ a@virt.test=a/, b@virt.test=b/, c@virt.test=blocker/c/, d@virt.test=a2/ }}\n\
             virtual_uid_maps = inline:{{ a@virt.test={daemon}, b@virt.test={bin}, c@virt.test={daemon}, d@virt.test={daemon} }}\n\
             virtual_gid_maps = inline:{{ a@virt.test={daemon}, b@virt.test={bin}, c@virt.test={daemon}, d@virt.test={daemon} }}",
            base.display()
        ))
        .unwrap()
        .start(gatepost_bin!())
        .unwrap();
    let rcpts = ["a@virt.test", "b@virt.test", "c@virt.test", "d@virt.test"];
    let id = submit(
        &srv,
        "client.example",
        "alice@spec.test",
        &rcpts,
        "Subject: batch\n\nbody\n",
    );
    let log = || srv.log();
    for r in ["a", "b", "d"] {
        let line = format!("{id}: to=<{r}@virt.test>, relay=virtual");
        wait_until(&line, || {
            log()
                .lines()
                .any(|l| l.contains(&line) && l.contains("status=sent (delivered to maildir)"))
        });
    }
    let line = format!("{id}: to=<c@virt.test>, relay=virtual");
    wait_until(&line, || {
        log().lines().any(|l| {
            l.contains(&line)
                && l.contains("status=deferred (maildir delivery failed: create maildir")
        })
    });
    for (dir, uid) in [("a", daemon), ("b", bin), ("a2", daemon)] {
        let new = base.join(dir).join("new");
        let files: Vec<_> = std::fs::read_dir(&new).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "{}", new.display());
        let meta = std::fs::metadata(files[0].path()).unwrap();
        assert_eq!(meta.uid(), uid, "{}", new.display());
        let text = std::fs::read_to_string(files[0].path()).unwrap();
        assert!(text.contains("Subject: batch"), "{text}");
        assert_eq!(
            std::fs::read_dir(base.join(dir).join("tmp"))
                .unwrap()
                .count(),
            0
        );
    }
}
