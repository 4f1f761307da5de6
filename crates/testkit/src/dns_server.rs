//! A small authoritative DNS server for tests, on 127.0.0.1 and a random
//! UDP port, serving zones the test builds in code. Unlike a real server it
//! serves whatever names it is given, byte for byte (labels starting with
//! `-`, all-numeric targets, the root as PTR/CNAME/MX data), and it can be
//! told to answer SERVFAIL or REFUSED or not to answer at all (timeout).
//!
//! Unknown names get NXDOMAIN; known names without the asked type get an
//! empty NOERROR answer; both carry an SOA (minimum = [`Zones::negative_ttl`])
//! in the authority section. A CNAME is returned on its own, the client
//! follows it. Runs on its own thread with its own runtime, so both sync
//! and async tests can use it; it stops when dropped.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// TTL of every record served.
pub const TTL: u32 = 300;

/// How the server treats one name.
#[derive(Debug, Clone)]
enum Behaviour {
    Records(Vec<RData>),
    ServFail,
    Refused,
    NoAnswer,
}

/// The zones: records by owner name (lower case, no trailing dot).
#[derive(Debug, Clone)]
pub struct Zones {
    names: HashMap<String, Behaviour>,
    /// SOA minimum sent with negative answers.
    pub negative_ttl: u32,
}

impl Default for Zones {
    fn default() -> Self {
        Zones {
            names: HashMap::new(),
            negative_ttl: 60,
        }
    }
}

/// A wire name from text, label by label with no validation; `.` or ``
/// is the root.
pub fn raw_name(text: &str) -> Name {
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() {
        return Name::root();
    }
    Name::from_labels(text.split('.').map(str::as_bytes)).unwrap_or_else(|_| Name::root())
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Zones {
    pub fn new() -> Zones {
        Zones::default()
    }

    fn add(&mut self, name: &str, data: RData) -> &mut Self {
        let entry = self
            .names
            .entry(key(name))
            .or_insert_with(|| Behaviour::Records(Vec::new()));
        if let Behaviour::Records(v) = entry {
            v.push(data);
        }
        self
    }

    pub fn a(&mut self, name: &str, addr: &str) -> &mut Self {
        let ip: Ipv4Addr = addr.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
        self.add(name, RData::A(A(ip)))
    }

    pub fn aaaa(&mut self, name: &str, addr: &str) -> &mut Self {
        let ip = addr.parse().unwrap_or(std::net::Ipv6Addr::UNSPECIFIED);
        self.add(name, RData::AAAA(AAAA(ip)))
    }

    /// An MX record; `exchange` is served as given (`.` = nullMX).
    pub fn mx(&mut self, name: &str, preference: u16, exchange: &str) -> &mut Self {
        self.add(name, RData::MX(MX::new(preference, raw_name(exchange))))
    }

    /// An NS record.
    pub fn ns(&mut self, name: &str, server: &str) -> &mut Self {
        self.add(name, RData::NS(NS(raw_name(server))))
    }

    /// A TXT record; text longer than 255 bytes (a DKIM key) is split into
    /// several character-strings, as zone files publish it.
    pub fn txt(&mut self, name: &str, text: &str) -> &mut Self {
        let strings = text
            .as_bytes()
            .chunks(255)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>();
        let strings = if strings.is_empty() {
            vec![String::new()]
        } else {
            strings
        };
        self.add(name, RData::TXT(TXT::new(strings)))
    }

    pub fn cname(&mut self, name: &str, target: &str) -> &mut Self {
        self.add(name, RData::CNAME(CNAME(raw_name(target))))
    }

    /// A PTR record for `addr` (its `in-addr.arpa` / `ip6.arpa` name).
    pub fn ptr(&mut self, addr: &str, target: &str) -> &mut Self {
        let owner = match addr.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => {
                let o = v4.octets();
                format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
            }
            Ok(IpAddr::V6(v6)) => {
                let mut s = String::new();
                for b in v6.octets().iter().rev() {
                    s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
                }
                s + "ip6.arpa"
            }
            Err(_) => addr.to_string(),
        };
        self.add(&owner, RData::PTR(PTR(raw_name(target))))
    }

    /// Every question about `name` gets SERVFAIL.
    pub fn servfail(&mut self, name: &str) -> &mut Self {
        self.names.insert(key(name), Behaviour::ServFail);
        self
    }

    /// Every question about `name` gets REFUSED.
    pub fn refused(&mut self, name: &str) -> &mut Self {
        self.names.insert(key(name), Behaviour::Refused);
        self
    }

    /// Questions about `name` are never answered (client timeout).
    pub fn no_answer(&mut self, name: &str) -> &mut Self {
        self.names.insert(key(name), Behaviour::NoAnswer);
        self
    }

    /// The reply to `query`, or `None` to stay silent.
    pub fn answer(&self, query: &Message) -> Option<Message> {
        let q = query.queries().first()?;
        let mut reply = Message::new();
        reply
            .set_id(query.id())
            .set_message_type(MessageType::Response)
            .set_op_code(query.op_code())
            .set_recursion_desired(query.recursion_desired())
            .set_recursion_available(true)
            .set_authoritative(true)
            .add_query(q.clone());
        let qname = q.name().clone();
        let soa = || {
            Record::from_rdata(
                raw_name("test"),
                self.negative_ttl,
                RData::SOA(SOA::new(
                    raw_name("ns.test"),
                    raw_name("hostmaster.test"),
                    1,
                    3600,
                    600,
                    86400,
                    self.negative_ttl,
                )),
            )
        };
        let text = qname
            .iter()
            .map(|l| String::from_utf8_lossy(l).to_string())
            .collect::<Vec<_>>()
            .join(".");
        match self.names.get(&key(&text)) {
            None => {
                reply.set_response_code(ResponseCode::NXDomain);
                reply.add_name_server(soa());
            }
            Some(Behaviour::ServFail) => {
                reply.set_response_code(ResponseCode::ServFail);
            }
            Some(Behaviour::Refused) => {
                reply.set_response_code(ResponseCode::Refused);
            }
            Some(Behaviour::NoAnswer) => return None,
            Some(Behaviour::Records(records)) => {
                let wanted: Vec<&RData> = records
                    .iter()
                    .filter(|r| r.record_type() == q.query_type())
                    .collect();
                let chosen: Vec<&RData> = if wanted.is_empty() {
                    records
                        .iter()
                        .filter(|r| r.record_type() == RecordType::CNAME)
                        .collect()
                } else {
                    wanted
                };
                if chosen.is_empty() {
                    reply.add_name_server(soa());
                }
                for data in chosen {
                    reply.add_answer(Record::from_rdata(qname.clone(), TTL, data.clone()));
                }
            }
        }
        Some(reply)
    }
}

/// The running server.
pub struct DnsServer {
    pub addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DnsServer {
    /// Serve `zones` on 127.0.0.1 and a random UDP port.
    pub fn start(zones: Zones) -> Result<DnsServer> {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").context("bind DNS test server")?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))?;
        let addr = sock.local_addr()?;
        let queries = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (q, s) = (queries.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65535];
            while !s.load(Ordering::SeqCst) {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Some(Ok(query)) = buf.get(..n).map(Message::from_vec) else {
                    continue;
                };
                q.fetch_add(1, Ordering::SeqCst);
                if let Some(reply) = zones.answer(&query) {
                    if let Ok(bytes) = reply.to_vec() {
                        let _ = sock.send_to(&bytes, peer);
                    }
                }
            }
        });
        Ok(DnsServer {
            addr,
            queries,
            stop,
            thread: Some(thread),
        })
    }

    /// The `main.cf` line that points gatepost at this server.
    pub fn main_cf(&self) -> String {
        format!("dns_nameservers = {}\n", self.addr)
    }

    /// Number of questions received so far.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;

    fn ask(z: &Zones, name: &str, t: RecordType) -> Option<Message> {
        let mut m = Message::new();
        m.set_id(7).add_query(Query::query(raw_name(name), t));
        z.answer(&m)
    }

    #[test]
    fn answers() {
        let mut z = Zones::new();
        z.a("a.test", "127.0.0.10")
            .mx("null.test", 0, ".")
            .servfail("fail.test")
            .no_answer("slow.test")
            .ptr("127.0.0.2", "client.test");
        let r = ask(&z, "A.Test.", RecordType::A).unwrap();
        assert_eq!(r.answers().len(), 1);
        assert_eq!(r.id(), 7);
        let r = ask(&z, "a.test", RecordType::MX).unwrap();
        assert_eq!(
            (r.response_code(), r.answers().len()),
            (ResponseCode::NoError, 0)
        );
        assert_eq!(r.name_servers().len(), 1);
        let r = ask(&z, "nope.test", RecordType::A).unwrap();
        assert_eq!(r.response_code(), ResponseCode::NXDomain);
        let r = ask(&z, "fail.test", RecordType::A).unwrap();
        assert_eq!(r.response_code(), ResponseCode::ServFail);
        assert!(ask(&z, "slow.test", RecordType::A).is_none());
        let r = ask(&z, "2.0.0.127.in-addr.arpa", RecordType::PTR).unwrap();
        assert_eq!(r.answers().len(), 1);
        let r = ask(&z, "null.test", RecordType::MX).unwrap();
        match r.answers()[0].data() {
            RData::MX(mx) => assert!(mx.exchange().is_root()),
            other => panic!("{other:?}"),
        }
    }
}
