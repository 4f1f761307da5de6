//! A milter application written for the tests, speaking the Sendmail 8
//! milter protocol on its own (no gatepost code): it negotiates what the
//! test says, records every packet it gets, and answers each event as the
//! test's rule says, per connection.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub const CONTINUE: u8 = b'c';
pub const ACCEPT: u8 = b'a';
pub const REJECT: u8 = b'r';
pub const TEMPFAIL: u8 = b't';
pub const DISCARD: u8 = b'd';
pub const REPLYCODE: u8 = b'y';
pub const QUARANTINE: u8 = b'q';
pub const ADDHEADER: u8 = b'h';
pub const INSHEADER: u8 = b'i';
pub const CHGHEADER: u8 = b'm';
pub const ADDRCPT: u8 = b'+';
pub const DELRCPT: u8 = b'-';
pub const CHGFROM: u8 = b'e';
pub const REPLBODY: u8 = b'b';
pub const PROGRESS: u8 = b'p';

/// One packet the milter got.
#[derive(Debug, Clone)]
pub struct Packet {
    pub cmd: u8,
    pub data: Vec<u8>,
}

impl Packet {
    /// The NUL-separated strings of the data.
    pub fn strings(&self) -> Vec<String> {
        let mut parts: Vec<String> = self
            .data
            .split(|&b| b == 0)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        if self.data.last() == Some(&0) {
            parts.pop();
        }
        parts
    }

    /// The macros of a `D` packet: (event, name → value).
    pub fn macros(&self) -> (u8, BTreeMap<String, String>) {
        let event = self.data.first().copied().unwrap_or(0);
        let rest = Packet {
            cmd: b'D',
            data: self.data.get(1..).unwrap_or_default().to_vec(),
        };
        let s = rest.strings();
        let map = s
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (c[0].clone(), c[1].clone()))
            .collect();
        (event, map)
    }
}

/// What the connection has seen so far, for the rule.
#[derive(Debug, Default, Clone)]
pub struct Conn {
    pub client_addr: String,
    pub helo: String,
    pub sender: String,
    pub recipients: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Replies to one event: `(reply code, data)` packets, in order.
pub type Replies = Vec<(u8, Vec<u8>)>;

pub type Rule = dyn Fn(u8, &Conn) -> Replies + Send + Sync;

/// What the milter negotiates.
#[derive(Clone, Copy)]
pub struct Negotiation {
    pub version: u32,
    pub actions: u32,
    pub steps: u32,
    /// Version 6 symbol list for end of message (stage 5), if any.
    pub eom_macros: Option<&'static str>,
}

impl Default for Negotiation {
    fn default() -> Self {
        Negotiation {
            version: 6,
            actions: 0x1ff,
            steps: 0,
            eom_macros: None,
        }
    }
}

pub struct TestMilter {
    pub addr: Option<SocketAddr>,
    pub socket: Option<PathBuf>,
    pub packets: Arc<Mutex<Vec<Packet>>>,
    /// The negotiation packet gatepost sent (version, actions, steps).
    pub offered: Arc<Mutex<Option<(u32, u32, u32)>>>,
}

fn nul(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// `name`, `value` for header replies.
pub fn header(name: &str, value: &str) -> Vec<u8> {
    let mut v = nul(name);
    v.extend(nul(value));
    v
}

/// An index, then `name`, `value`.
pub fn indexed_header(index: u32, name: &str, value: &str) -> Vec<u8> {
    let mut v = index.to_be_bytes().to_vec();
    v.extend(header(name, value));
    v
}

pub fn string(s: &str) -> Vec<u8> {
    nul(s)
}

pub fn simple(code: u8) -> Replies {
    vec![(code, Vec::new())]
}

impl TestMilter {
    /// On 127.0.0.1, an ephemeral port.
    pub fn start(neg: Negotiation, rule: Arc<Rule>) -> TestMilter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind milter");
        let addr = listener.local_addr().expect("addr");
        let m = TestMilter {
            addr: Some(addr),
            socket: None,
            packets: Arc::default(),
            offered: Arc::default(),
        };
        let (packets, offered) = (m.packets.clone(), m.offered.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (p, o, r) = (packets.clone(), offered.clone(), rule.clone());
                std::thread::spawn(move || serve(stream, neg, r, p, o));
            }
        });
        m
    }

    /// On a unix-domain socket at `path`.
    pub fn start_unix(path: PathBuf, neg: Negotiation, rule: Arc<Rule>) -> TestMilter {
        let listener = UnixListener::bind(&path).expect("bind milter socket");
        // Run as root, the server talks to filters as mail_owner (as
        // Postfix's smtpd does): the socket must be open to it.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))
                .expect("milter socket mode");
        }
        let m = TestMilter {
            addr: None,
            socket: Some(path),
            packets: Arc::default(),
            offered: Arc::default(),
        };
        let (packets, offered) = (m.packets.clone(), m.offered.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (p, o, r) = (packets.clone(), offered.clone(), rule.clone());
                std::thread::spawn(move || serve(stream, neg, r, p, o));
            }
        });
        m
    }

    /// `inet:127.0.0.1:PORT` or `unix:/path`.
    pub fn endpoint(&self) -> String {
        match (&self.addr, &self.socket) {
            (Some(a), _) => format!("inet:{a}"),
            (None, Some(p)) => format!("unix:{}", p.display()),
            _ => unreachable!(),
        }
    }

    pub fn packets(&self) -> Vec<Packet> {
        self.packets.lock().expect("lock").clone()
    }

    /// Commands received, as characters, in order.
    pub fn commands(&self) -> String {
        self.packets().iter().map(|p| p.cmd as char).collect()
    }
}

fn read_packet(s: &mut impl Read) -> Option<Packet> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let len = u32::from_be_bytes(len) as usize;
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).ok()?;
    let data = buf.split_off(1);
    Some(Packet { cmd: buf[0], data })
}

fn write_packet(s: &mut impl Write, cmd: u8, data: &[u8]) -> bool {
    let mut out = ((data.len() + 1) as u32).to_be_bytes().to_vec();
    out.push(cmd);
    out.extend_from_slice(data);
    s.write_all(&out).is_ok()
}

fn serve<S: Read + Write>(
    mut s: S,
    neg: Negotiation,
    rule: Arc<Rule>,
    packets: Arc<Mutex<Vec<Packet>>>,
    offered: Arc<Mutex<Option<(u32, u32, u32)>>>,
) {
    let mut conn = Conn::default();
    while let Some(p) = read_packet(&mut s) {
        packets.lock().expect("lock").push(p.clone());
        let strings = p.strings();
        let first = strings.first().cloned().unwrap_or_default();
        match p.cmd {
            b'O' => {
                let n = |i: usize| {
                    u32::from_be_bytes(p.data[i * 4..i * 4 + 4].try_into().expect("u32"))
                };
                *offered.lock().expect("lock") = Some((n(0), n(1), n(2)));
                let mut reply = Vec::new();
                for v in [neg.version, neg.actions, neg.steps] {
                    reply.extend_from_slice(&v.to_be_bytes());
                }
                if let Some(list) = neg.eom_macros {
                    reply.extend_from_slice(&5u32.to_be_bytes());
                    reply.extend(nul(list));
                }
                if !write_packet(&mut s, b'O', &reply) {
                    return;
                }
                continue;
            }
            b'D' | b'A' => continue,
            b'Q' => return,
            b'C' => {
                // hostname, family, port, address
                let family_at = first.len() + 1;
                conn.client_addr = String::from_utf8_lossy(&p.data[family_at + 3..])
                    .trim_end_matches('\0')
                    .to_string();
            }
            b'H' => conn.helo = first,
            b'M' => {
                conn.sender = first;
                conn.recipients.clear();
                conn.headers.clear();
                conn.body.clear();
            }
            b'R' => conn.recipients.push(first),
            b'L' => conn
                .headers
                .push((first, strings.get(1).cloned().unwrap_or_default())),
            b'B' | b'E' => conn.body.extend_from_slice(&p.data),
            _ => {}
        }
        // Events the filter said it would not answer.
        let no_reply = match p.cmd {
            b'L' => neg.steps & (1 << 7) != 0,
            b'B' => neg.steps & (1 << 19) != 0,
            b'N' => neg.steps & (1 << 18) != 0,
            _ => false,
        };
        if no_reply {
            continue;
        }
        let replies = rule(p.cmd, &conn);
        let replies = if replies.is_empty() {
            simple(CONTINUE)
        } else {
            replies
        };
        for (code, data) in replies {
            if !write_packet(&mut s, code, &data) {
                return;
            }
        }
    }
}
