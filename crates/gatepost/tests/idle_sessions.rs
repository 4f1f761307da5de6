//! Many idle sessions: as many SMTP connections as the open-files limits of
//! this machine allow (up to 10,000) are opened and left idle, and a normal
//! client is still greeted and gets a whole message accepted and delivered.
//! The test raises its own soft `RLIMIT_NOFILE` to the hard limit; the
//! server raises its own at start. How many sessions were held is printed.
//! No timing assertion: the timeouts only keep a broken run from hanging.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use gatepost_testkit::{gatepost_bin, Client, ConfigDir};
use nix::sys::resource::{getrlimit, setrlimit, Resource};

const WANTED: u64 = 10_000;
/// Descriptors this test process keeps for everything else.
const RESERVE: u64 = 200;

/// One connection from `source`, left idle.
fn open_idle(source: &str, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    let source: SocketAddr = format!("{source}:0").parse().expect("source address");
    socket.bind(&source.into())?;
    socket.connect_timeout(&server.into(), Duration::from_secs(10))?;
    Ok(socket.into())
}

#[test]
fn a_normal_client_is_served_while_many_idle_sessions_are_held() {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if hard > soft {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    }
    let target = WANTED.min(hard.saturating_sub(RESERVE)) as usize;
    let srv = ConfigDir::new()
        .unwrap()
        .main_cf(&format!(
            "default_process_limit = {}\nsmtpd_client_connection_count_limit = 0",
            target + 10
        ))
        .unwrap()
        .start(gatepost_bin!())
        .unwrap();

    // Idle sessions from several source addresses (each has its own
    // ports), opened by a few threads at once.
    const OPENERS: usize = 4;
    let addr = srv.addr;
    let started = std::time::Instant::now();
    let openers: Vec<_> = (0..OPENERS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for i in (t..target).step_by(OPENERS) {
                    match open_idle(&format!("127.0.1.{}", 1 + i % 200), addr) {
                        Ok(stream) => held.push(stream),
                        Err(e) => {
                            println!("stopped opening idle sessions at {i}: {e}");
                            break;
                        }
                    }
                }
                held
            })
        })
        .collect();
    let mut idle: Vec<TcpStream> = openers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    println!(
        "holding {} idle sessions (open files limit {hard}, wanted {WANTED}), opened in {:.1?}",
        idle.len(),
        started.elapsed()
    );
    assert!(
        idle.len() >= target.min(1000),
        "only {} sessions",
        idle.len()
    );

    let mut c = Client::connect(srv.addr).unwrap();
    assert_eq!(c.read_reply().unwrap().code, 220);
    assert_eq!(c.command("EHLO client.example").unwrap().code, 250);
    assert_eq!(c.command("MAIL FROM:<a@client.example>").unwrap().code, 250);
    assert_eq!(c.command("RCPT TO:<bob@spec.test>").unwrap().code, 250);
    let reply = c
        .send_message("Subject: among the idle\n\nhello\n")
        .unwrap();
    assert_eq!(reply.code, 250, "{}", reply.full());
    assert_eq!(c.command("QUIT").unwrap().code, 221);
    let mail = srv.wait_for_mail("bob", 1, Duration::from_secs(30));
    assert_eq!(mail.len(), 1, "log:\n{}", srv.log());

    // The idle sessions are still there: the server has not dropped them.
    let mut first = idle.swap_remove(0);
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut greeting = [0u8; 3];
    std::io::Read::read_exact(&mut first, &mut greeting).unwrap();
    assert_eq!(&greeting, b"220");
}

/// Started under a hard open-files limit below what `default_process_limit`
/// needs, the server raises its soft limit to the hard one and says that
/// the limit is too low (run through util-linux's prlimit).
#[test]
fn a_low_open_files_limit_is_raised_and_reported() {
    if std::process::Command::new("prlimit")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: prlimit (util-linux) is not installed");
        return;
    }
    let dir = ConfigDir::new()
        .unwrap()
        .main_cf("default_process_limit = 1000")
        .unwrap();
    let mut child = std::process::Command::new("prlimit")
        .arg("--nofile=300:500")
        .arg(gatepost_bin!())
        .arg("-c")
        .arg(dir.path())
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let log = dir.path().join("maillog");
    let wanted = [
        "master[",
        "open files limit raised from 300 to 500",
        "warning: open files limit 500 is below the 1256 that the smtpd process limits need",
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if wanted[1..].iter().all(|w| text.contains(w)) || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.kill();
    let _ = child.wait();
    for w in wanted {
        assert!(text.contains(w), "{w:?} not in log:\n{text}");
    }
}
