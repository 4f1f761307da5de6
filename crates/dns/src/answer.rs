//! Turning one name-server reply into an outcome, exactly as Postfix's
//! `dns_query()` + `dns_get_answer()` do (global/dns_lookup.c,
//! docs/dns.md#outcomes, #names-in-dns-replies): the rcode decides NXDOMAIN / no data /
//! SERVFAIL (temporary) / other errors (permanent); every owner name and
//! every name in CNAME/MX/PTR/NS data is checked with `valid_rr_name()`;
//! an MX with the root as exchange is a nullMX; a CNAME without records of
//! the requested type asks the caller to follow it.
//!
//! Also computes how long the outcome may be cached: the smallest TTL of
//! the records used, or for negative answers the SOA minimum from the
//! authority section (RFC 2308), capped by the caller.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, RecordType};

use crate::name::{name_to_text, valid_rr_name, Location};
use crate::outcome::{DnsResult, Mx};

/// Negative-cache time when a negative reply carries no SOA.
pub const DEFAULT_NEGATIVE_TTL: u32 = 60;

/// The data of one accepted record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Mx(Mx),
    /// PTR or NS target.
    Name(String),
    /// First character-string of a TXT record, non-printables as spaces.
    /// The character-strings of one TXT record, in order.
    Txt(Vec<String>),
}

/// What one reply tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A final outcome and its cache lifetime in seconds.
    Done(DnsResult<Vec<Data>>, u32),
    /// The name is an alias: query this name next.
    Alias(String, u32),
}

fn reason_not_found(name: &str, rtype: RecordType, what: &str) -> String {
    format!(
        "Host or domain name not found. Name service error for name={name} type={rtype}: {what}"
    )
}

/// The reason text of a reply that failed validation.
pub fn reason_malformed(name: &str, rtype: RecordType) -> String {
    format!("Name service error for name={name} type={rtype}: Malformed or unexpected name server reply")
}

/// The reason text of a transport failure (timeout, network error).
pub fn reason_retry(name: &str, rtype: RecordType) -> String {
    reason_not_found(name, rtype, "Host not found, try again")
}

fn negative_ttl(reply: &Message) -> u32 {
    reply
        .name_servers()
        .iter()
        .find_map(|r| match r.data() {
            RData::SOA(soa) => Some(r.ttl().min(soa.minimum())),
            _ => None,
        })
        .unwrap_or(DEFAULT_NEGATIVE_TTL)
}

fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                ' '
            }
        })
        .collect()
}

/// Classify `reply` to the question (`name`, `rtype`); validation warnings
/// (without `warning: `) are appended to `warnings`.
pub fn extract(reply: &Message, name: &str, rtype: RecordType, warnings: &mut Vec<String>) -> Step {
    match reply.response_code() {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => {
            return Step::Done(
                DnsResult::NxDomain(reason_not_found(name, rtype, "Host not found")),
                negative_ttl(reply),
            )
        }
        ResponseCode::ServFail => {
            return Step::Done(DnsResult::TempFail(reason_retry(name, rtype)), 0)
        }
        _ => {
            return Step::Done(
                DnsResult::Fail(reason_not_found(name, rtype, "Non-recoverable error")),
                0,
            )
        }
    }
    let no_data = || {
        DnsResult::NoData(reason_not_found(
            name,
            rtype,
            "Host found but no data record of requested type",
        ))
    };
    if reply.answers().is_empty() {
        return Step::Done(no_data(), negative_ttl(reply));
    }
    let qname = reply
        .queries()
        .first()
        .map(|q| name_to_text(q.name()))
        .unwrap_or_else(|| "*unparsable*".to_string());
    let mut found: Vec<Data> = Vec::new();
    let mut ttl = u32::MAX;
    let mut cname: Option<String> = None;
    let mut inval = false;
    for rr in reply.answers() {
        let rr_type = rr.record_type();
        let owner = name_to_text(rr.name());
        if rr.dns_class() != DNSClass::IN {
            return Step::Done(DnsResult::TempFail(reason_retry(name, rtype)), 0);
        }
        if !valid_rr_name(
            &owner,
            Location::ResourceName,
            &rr_type.to_string(),
            &qname,
            warnings,
        ) {
            return Step::Done(DnsResult::Malformed(reason_malformed(name, rtype)), 0);
        }
        let check_data = |target: String, warnings: &mut Vec<String>| -> Option<String> {
            valid_rr_name(
                &target,
                Location::ResourceData,
                &rr_type.to_string(),
                &qname,
                warnings,
            )
            .then_some(target)
        };
        if rr_type == rtype {
            let data = match rr.data() {
                RData::A(a) => Some(Data::A(a.0)),
                RData::AAAA(a) => Some(Data::Aaaa(a.0)),
                RData::MX(mx) => {
                    let exchange = name_to_text(mx.exchange());
                    if exchange.is_empty() {
                        return Step::Done(
                            DnsResult::NullMx(format!(
                                "Domain {name} does not accept mail (nullMX)"
                            )),
                            rr.ttl(),
                        );
                    }
                    check_data(exchange, warnings).map(|exchange| {
                        Data::Mx(Mx {
                            preference: mx.preference(),
                            exchange,
                        })
                    })
                }
                // PTR data is not checked here: Postfix looks client names
                // up with getnameinfo(), which hands names back as they
                // are (the root as "."), and smtpd checks the result with
                // valid_hostname() itself.
                RData::PTR(p) => {
                    let target = name_to_text(&p.0);
                    Some(Data::Name(if target.is_empty() {
                        ".".to_string()
                    } else {
                        target
                    }))
                }
                RData::NS(n) => check_data(name_to_text(&n.0), warnings).map(Data::Name),
                RData::TXT(t) => Some(Data::Txt(
                    t.txt_data().iter().map(|s| printable(s)).collect(),
                )),
                _ => None,
            };
            match data {
                Some(d) => {
                    found.push(d);
                    ttl = ttl.min(rr.ttl());
                }
                None => inval = true,
            }
        } else if let RData::CNAME(c) = rr.data() {
            match check_data(name_to_text(&c.0), warnings) {
                Some(target) => {
                    ttl = ttl.min(rr.ttl());
                    cname = Some(target);
                }
                None => return Step::Done(DnsResult::Malformed(reason_malformed(name, rtype)), 0),
            }
        }
    }
    if !found.is_empty() {
        Step::Done(DnsResult::Found(found), ttl)
    } else if let Some(target) = cname {
        Step::Alias(target, ttl)
    } else if inval {
        Step::Done(
            DnsResult::Malformed(reason_malformed(name, rtype)),
            ttl.min(DEFAULT_NEGATIVE_TTL),
        )
    } else {
        Step::Done(no_data(), negative_ttl(reply))
    }
}
