//! One entry point from raw reply bytes to the answer handling, for the
//! fuzz targets (crates/fuzz): the bytes are parsed as a DNS message and
//! classified as a reply to each record type gatepost asks for, exactly as
//! a real lookup would (`answer::extract`).

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::answer::{extract, Step};

/// The record types gatepost queries.
const ASKED: [RecordType; 6] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::MX,
    RecordType::PTR,
    RecordType::TXT,
    RecordType::NS,
];

/// Parse `wire` as a reply and classify it for `name` and each asked type;
/// `None` when the bytes are no DNS message. Each entry is the outcome (or
/// the alias to follow) as debug text, followed by the validation warnings.
#[doc(hidden)]
pub fn classify_wire_reply(wire: &[u8], name: &str) -> Option<Vec<String>> {
    let reply = Message::from_vec(wire).ok()?;
    let mut out = Vec::new();
    for rtype in ASKED {
        let mut warnings = Vec::new();
        let step = extract(&reply, name, rtype, &mut warnings);
        out.push(match step {
            Step::Done(result, ttl) => format!("{rtype} {result:?} ttl {ttl}"),
            Step::Alias(target, ttl) => format!("{rtype} alias {target} ttl {ttl}"),
        });
        out.extend(warnings);
    }
    Some(out)
}
