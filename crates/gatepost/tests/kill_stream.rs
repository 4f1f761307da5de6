//! The standing crash test: several clients send a stream of messages, each
//! with a unique token, while the real server is killed with SIGKILL at
//! random moments and restarted on the same queue. Once the queue has
//! drained, every message that got `250` must be in a mailbox (counted by
//! token: lost = 0). Duplicates are counted, not failed: a kill that falls
//! after a mailbox write and before the queue file records the delivery
//! makes the next life deliver that recipient again (at-least-once, as
//! Postfix). Messages whose `250` never reached the client may or may not
//! be delivered; they are counted too.
//!
//! Black-box: it only speaks SMTP, reads Maildirs and asks `mailq`.
//! `GATEPOST_CRASH_MESSAGES` (default 200) and `GATEPOST_CRASH_KILLS`
//! (default 4) make a larger run by hand, e.g.
//! `GATEPOST_CRASH_MESSAGES=5000 GATEPOST_CRASH_KILLS=40 cargo nextest run
//! -p gatepost --test kill_stream --no-capture`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatepost_testkit::{gatepost_bin, Client, ConfigDir};
use rand::{Rng, SeedableRng};

const CLIENTS: usize = 4;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one attempt to send a message came to.
enum Outcome {
    /// `250` after the final dot.
    Accepted,
    /// It failed before the final dot was sent: the server cannot have the
    /// message, the token is sent again.
    Refused,
    /// The final dot was sent but no `250` came back (rejected, or the
    /// connection broke): the server may or may not have the message.
    Unknown,
}

/// One session: send `token`'s message to `user`.
fn send(addr: SocketAddr, user: &str, token: &str) -> Outcome {
    let Ok(mut c) = Client::connect(addr) else {
        return Outcome::Refused;
    };
    let mut ready = || -> anyhow::Result<bool> {
        Ok(c.read_reply()?.code == 220
            && c.command("HELO client.example")?.code == 250
            && c.command("MAIL FROM:<stream@client.example>")?.code == 250
            && c.command(&format!("RCPT TO:<{user}@spec.test>"))?.code == 250
            && c.command("DATA")?.code == 354)
    };
    if !matches!(ready(), Ok(true)) {
        return Outcome::Refused;
    }
    let body = format!("Subject: {token}\r\n\r\nbody {token}\r\n.\r\n");
    if c.send_raw(body.as_bytes()).is_err() {
        return Outcome::Unknown;
    }
    match c.read_reply() {
        Ok(reply) if reply.code == 250 => {
            let _ = c.command("QUIT");
            Outcome::Accepted
        }
        _ => Outcome::Unknown,
    }
}

/// Copies of each token in every Maildir under `mail/`.
fn delivered(dir: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let Ok(users) = std::fs::read_dir(dir.join("mail")) else {
        return out;
    };
    for user in users.flatten() {
        let Ok(files) = std::fs::read_dir(user.path().join("new")) else {
            continue;
        };
        for file in files.flatten() {
            let text = std::fs::read_to_string(file.path()).unwrap_or_default();
            if let Some(token) = text
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .filter(|t| t.starts_with("tok-"))
            {
                *out.entry(token.to_string()).or_default() += 1;
            }
        }
    }
    out
}

#[test]
fn acknowledged_mail_survives_repeated_kill_9() {
    crash_stream("");
}

/// The same with no memory for new messages
/// (`gatepost_queue_memory_limit = 0`): the queue manager reads every
/// one back from the write-ahead log, whose checkpoints keep the
/// segments of messages without a queue file (docs/durability.md,
/// "Unwritten queue files"); a kill then leaves them to recovery.
#[test]
fn acknowledged_mail_read_back_from_the_log_survives_repeated_kill_9() {
    crash_stream("gatepost_queue_memory_limit = 0");
}

/// Stream messages from [`CLIENTS`] clients while the server, with
/// `main_cf` added to its configuration, is killed and restarted; then
/// check that every acknowledged message was delivered.
fn crash_stream(main_cf: &str) {
    let messages = env_or("GATEPOST_CRASH_MESSAGES", 200);
    let kills = env_or("GATEPOST_CRASH_KILLS", 4);
    // A fixed port, so that clients find every life of the server.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = ConfigDir::new().unwrap().main_cf(main_cf).unwrap();
    dir.file(
        "master.cf",
        &format!("127.0.0.1:{port} inet n - n - - smtpd\n"),
    )
    .unwrap();
    let mut srv = dir.start(gatepost_bin!()).unwrap();
    let addr = srv.addr;

    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(Mutex::new(BTreeSet::new()));
    let unknown = Arc::new(Mutex::new(BTreeSet::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (next, done, accepted, unknown) = (
                next.clone(),
                done.clone(),
                accepted.clone(),
                unknown.clone(),
            );
            std::thread::spawn(move || {
                let user = format!("box{i}");
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= messages {
                        break;
                    }
                    let token = format!("tok-{n}");
                    let since = Instant::now();
                    loop {
                        match send(addr, &user, &token) {
                            Outcome::Accepted => accepted.lock().unwrap().insert(token),
                            Outcome::Unknown => unknown.lock().unwrap().insert(token),
                            Outcome::Refused => {
                                assert!(
                                    since.elapsed() < Duration::from_secs(60),
                                    "the server did not come back"
                                );
                                // The server is down: wait for its next life.
                                std::thread::sleep(Duration::from_millis(20));
                                continue;
                            }
                        };
                        break;
                    }
                }
                done.store(true, Ordering::SeqCst);
            })
        })
        .collect();

    // Kills spread over the stream, each at a random moment near its share.
    let mut rng = rand::rngs::StdRng::from_entropy();
    for k in 0..kills {
        let share = messages * (k + 1) / (kills + 1);
        let at = share.saturating_sub(rng.gen_range(0..=messages / (kills + 1)));
        let waited = Instant::now();
        while next.load(Ordering::SeqCst) < at && waited.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..150)));
        srv = srv.restart().expect("restart after kill -9");
    }
    for c in clients {
        c.join().unwrap();
    }
    assert!(done.load(Ordering::SeqCst));

    // Wait for the queue to drain (mailq run against the live server).
    let accepted = accepted.lock().unwrap().clone();
    let unknown = unknown.lock().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = std::process::Command::new(gatepost_bin!())
            .arg("-c")
            .arg(srv.path())
            .arg("mailq")
            .output()
            .unwrap();
        let all_in = {
            let got = delivered(srv.path());
            accepted.iter().all(|t| got.contains_key(t))
        };
        if String::from_utf8_lossy(&out.stdout).contains("Mail queue is empty") && all_in {
            break;
        }
        if Instant::now() > deadline {
            panic!(
                "queue did not drain: {}\nlog:\n{}",
                String::from_utf8_lossy(&out.stdout),
                srv.log()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    let got = delivered(srv.path());
    let lost: Vec<&String> = accepted.iter().filter(|t| !got.contains_key(*t)).collect();
    let duplicates: usize = got.values().filter(|&&n| n > 1).map(|n| n - 1).sum();
    let unacked_delivered = unknown.iter().filter(|t| got.contains_key(*t)).count();
    println!(
        "crash test: {messages} messages, {kills} kills, {} acknowledged, {} lost, \
         {duplicates} duplicates, {} unacknowledged ({unacked_delivered} of them delivered)",
        accepted.len(),
        lost.len(),
        unknown.len(),
    );
    assert!(lost.is_empty(), "lost acknowledged messages: {lost:?}");
    assert!(
        got.keys()
            .all(|t| accepted.contains(t) || unknown.contains(t)),
        "a delivered token nobody sent"
    );
}
