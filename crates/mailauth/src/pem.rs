//! PEM armour for the key files `gatepost dkim keygen` writes (RFC 7468).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// `der` as a PEM block with the given label, 64 columns a line.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Base64 of `der` on one line (the `p=` tag of a DKIM key record).
pub(crate) fn base64(der: &[u8]) -> String {
    STANDARD.encode(der)
}
