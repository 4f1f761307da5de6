//! Test SMTP servers that receive what gatepost's SMTP client sends: a
//! recording sink on a chosen 127.0.0.x address, one that answers RCPT
//! with 4xx for the first N transactions and then accepts, one that
//! rejects every recipient with 5xx, and one whose EHLO reply lists AUTH
//! twice with different mechanisms, and one that closes the connection
//! after each message. Each runs on its own threads with
//! blocking sockets; lines are cut at 64 KiB, and the server stops when
//! the [`Sink`] is dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// How the sink answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkMode {
    /// Accept everything.
    Accept,
    /// `451 4.3.0` to every RCPT in the first N transactions, then accept.
    TempFailFirst(usize),
    /// `550 5.1.1` to every RCPT.
    Reject,
    /// Accept, with an EHLO reply listing `AUTH PLAIN LOGIN` and
    /// `AUTH=CRAM-MD5`; any `AUTH` command is answered `235`.
    AuthTwice,
    /// Accept, and close the connection right after the reply to each
    /// message (a server that drops a connection the client keeps open).
    DropAfterMessage,
}

/// One message as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkMessage {
    pub helo: String,
    /// The MAIL FROM command line as sent (e.g. `MAIL FROM:<a@b> SIZE=120`).
    pub mail_from: String,
    /// RCPT TO addresses that were accepted (without brackets).
    pub rcpt_to: Vec<String>,
    /// The content with dot-stuffing removed, CRLF line ends kept.
    pub data: String,
}

struct Shared {
    mode: SinkMode,
    messages: Mutex<Vec<SinkMessage>>,
    transactions: AtomicUsize,
    sessions: AtomicUsize,
    stop: AtomicBool,
}

/// A running test server.
pub struct Sink {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

const MAX_LINE: u64 = 64 * 1024;

impl Sink {
    /// Start on `ip` (e.g. `127.0.0.2`), port 0 (any free port).
    pub fn start(ip: &str, mode: SinkMode) -> Result<Sink> {
        Sink::start_on(ip, 0, mode)
    }

    /// Start on `ip:port`.
    pub fn start_on(ip: &str, port: u16, mode: SinkMode) -> Result<Sink> {
        let listener =
            TcpListener::bind((ip, port)).with_context(|| format!("bind {ip}:{port}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            mode,
            messages: Mutex::new(Vec::new()),
            transactions: AtomicUsize::new(0),
            sessions: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        std::thread::spawn(move || {
            while !s.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        s.sessions.fetch_add(1, Ordering::SeqCst);
                        let s2 = Arc::clone(&s);
                        std::thread::spawn(move || {
                            let _ = session(stream, &s2);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Ok(Sink { addr, shared })
    }

    /// Two sinks on the same port of two addresses (e.g. a best and a
    /// backup MX host that only the preference tells apart). Ports are
    /// tried until one is free on both addresses.
    pub fn start_pair(ip_a: &str, ip_b: &str, mode: SinkMode) -> Result<(Sink, Sink)> {
        let mut last_error = None;
        for _ in 0..100 {
            let a = Sink::start(ip_a, mode)?;
            match Sink::start_on(ip_b, a.port(), mode) {
                Ok(b) => return Ok((a, b)),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error
            .unwrap_or_else(|| anyhow::anyhow!("no common port"))
            .context(format!("no port free on both {ip_a} and {ip_b}")))
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Messages received so far.
    pub fn messages(&self) -> Vec<SinkMessage> {
        self.shared
            .messages
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// Wait until at least `n` messages arrived.
    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<SinkMessage> {
        let start = Instant::now();
        loop {
            let msgs = self.messages();
            if msgs.len() >= n || start.elapsed() > timeout {
                return msgs;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Connections accepted so far.
    pub fn sessions(&self) -> usize {
        self.shared.sessions.load(Ordering::SeqCst)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

fn read_line(r: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r.take(MAX_LINE).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn session(stream: TcpStream, s: &Shared) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    w.write_all(b"220 sink.test ESMTP gatepost-testkit\r\n")?;
    let mut helo = String::new();
    let mut mail_from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    while let Some(line) = read_line(&mut r)? {
        let upper = line.to_ascii_uppercase();
        let verb = upper.split([' ', ':']).next().unwrap_or("").to_string();
        let reply: String = match verb.as_str() {
            "EHLO" => {
                helo = line[4..].trim().to_string();
                let auth = if s.mode == SinkMode::AuthTwice {
                    "250-AUTH PLAIN LOGIN\r\n250-AUTH=CRAM-MD5\r\n"
                } else {
                    ""
                };
                format!("250-sink.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n{auth}250-8BITMIME\r\n250 ENHANCEDSTATUSCODES")
            }
            "HELO" => {
                helo = line[4..].trim().to_string();
                "250 sink.test".to_string()
            }
            "MAIL" => {
                mail_from = Some(line.clone());
                rcpts.clear();
                s.transactions.fetch_add(1, Ordering::SeqCst);
                "250 2.1.0 Ok".to_string()
            }
            "RCPT" => {
                let addr = line
                    .find('<')
                    .and_then(|a| {
                        line[a + 1..]
                            .find('>')
                            .map(|b| line[a + 1..a + 1 + b].to_string())
                    })
                    .unwrap_or_default();
                let nth = s.transactions.load(Ordering::SeqCst);
                match s.mode {
                    _ if mail_from.is_none() => "503 5.5.1 Error: need MAIL command".to_string(),
                    SinkMode::Reject => format!(
                        "550 5.1.1 <{addr}>: Recipient address rejected: User unknown in local recipient table"
                    ),
                    SinkMode::TempFailFirst(n) if nth <= n => {
                        format!("451 4.3.0 <{addr}>: Temporary lookup failure")
                    }
                    _ => {
                        rcpts.push(addr);
                        "250 2.1.5 Ok".to_string()
                    }
                }
            }
            "DATA" => {
                if rcpts.is_empty() {
                    "554 5.5.1 Error: no valid recipients".to_string()
                } else {
                    w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                    let mut data = String::new();
                    loop {
                        let Some(l) = read_line(&mut r)? else {
                            return Ok(());
                        };
                        if l == "." {
                            break;
                        }
                        data.push_str(l.strip_prefix('.').unwrap_or(&l));
                        data.push_str("\r\n");
                    }
                    let n = s.messages.lock().map(|m| m.len()).unwrap_or(0) + 1;
                    if let Ok(mut m) = s.messages.lock() {
                        m.push(SinkMessage {
                            helo: helo.clone(),
                            mail_from: mail_from.take().unwrap_or_default(),
                            rcpt_to: std::mem::take(&mut rcpts),
                            data,
                        });
                    }
                    let queued = format!("250 2.0.0 Ok: queued as SINK{n:04}");
                    if s.mode == SinkMode::DropAfterMessage {
                        w.write_all(format!("{queued}\r\n").as_bytes())?;
                        return Ok(());
                    }
                    queued
                }
            }
            "RSET" => {
                mail_from = None;
                rcpts.clear();
                "250 2.0.0 Ok".to_string()
            }
            "AUTH" if s.mode == SinkMode::AuthTwice => {
                "235 2.7.0 Authentication successful".to_string()
            }
            "NOOP" => "250 2.0.0 Ok".to_string(),
            "QUIT" => {
                w.write_all(b"221 2.0.0 Bye\r\n")?;
                return Ok(());
            }
            _ => "502 5.5.2 Error: command not recognized".to_string(),
        };
        w.write_all(format!("{reply}\r\n").as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Client;

    #[test]
    fn records_a_message() {
        let sink = Sink::start("127.0.0.1", SinkMode::Accept).unwrap();
        let mut c = Client::connect(sink.addr).unwrap();
        assert_eq!(c.read_reply().unwrap().code, 220);
        assert_eq!(c.command("EHLO me.test").unwrap().code, 250);
        assert_eq!(c.command("MAIL FROM:<a@b.test>").unwrap().code, 250);
        assert_eq!(c.command("RCPT TO:<c@d.test>").unwrap().code, 250);
        let r = c.send_message("Subject: x\n\n.hidden dot").unwrap();
        assert_eq!(r.last_line(), "250 2.0.0 Ok: queued as SINK0001");
        let m = sink.wait_for_messages(1, Duration::from_secs(5));
        assert_eq!(m[0].rcpt_to, vec!["c@d.test"]);
        assert_eq!(m[0].data, "Subject: x\r\n\r\n.hidden dot\r\n");
        assert_eq!(m[0].helo, "me.test");
    }

    #[test]
    fn modes() {
        let cases = [
            (SinkMode::Reject, 550),
            (SinkMode::TempFailFirst(1), 451),
            (SinkMode::AuthTwice, 250),
        ];
        for (mode, code) in cases {
            let sink = Sink::start("127.0.0.1", mode).unwrap();
            let mut c = Client::connect(sink.addr).unwrap();
            c.read_reply().unwrap();
            let ehlo = c.command("EHLO me.test").unwrap();
            assert_eq!(
                ehlo.full().contains("AUTH=CRAM-MD5"),
                mode == SinkMode::AuthTwice
            );
            c.command("MAIL FROM:<a@b.test>").unwrap();
            assert_eq!(
                c.command("RCPT TO:<c@d.test>").unwrap().code,
                code,
                "{mode:?}"
            );
        }
    }
}
