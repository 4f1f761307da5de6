//! Name-server replies: the wire parser (hickory) and our handling of what
//! it yields (rcode, CNAME chains, nullMX, name validation, TTLs).

/// Any bytes as a reply to every record type gatepost asks for.
pub fn dns_reply(input: &[u8]) {
    let _ = gatepost_dns::classify_wire_reply(input, "example.com");
    let _ = gatepost_dns::classify_wire_reply(input, "");
}
