//! What a finished handshake negotiated, in the names OpenSSL gives them,
//! for Postfix's log line (`Anonymous TLS connection established from
//! NAME[ADDR]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`)
//! and the `Received:` header's `(using ...)` line.

use rustls::{
    CipherSuite, ClientConnection, ProtocolVersion, ServerConnection, SupportedCipherSuite,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSummary {
    /// `TLSv1.2`, `TLSv1.3`.
    pub protocol: String,
    /// OpenSSL's cipher name.
    pub cipher: String,
    /// Secret bits used / of the algorithm (the same for AEAD ciphers).
    pub bits: u32,
}

/// OpenSSL's name and key bits for a rustls cipher suite.
fn openssl_cipher(suite: CipherSuite) -> (String, u32) {
    let known = match suite {
        CipherSuite::TLS13_AES_256_GCM_SHA384 => Some(("TLS_AES_256_GCM_SHA384", 256)),
        CipherSuite::TLS13_AES_128_GCM_SHA256 => Some(("TLS_AES_128_GCM_SHA256", 128)),
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => Some(("TLS_CHACHA20_POLY1305_SHA256", 256)),
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => {
            Some(("ECDHE-RSA-AES256-GCM-SHA384", 256))
        }
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => {
            Some(("ECDHE-RSA-AES128-GCM-SHA256", 128))
        }
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => {
            Some(("ECDHE-RSA-CHACHA20-POLY1305", 256))
        }
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => {
            Some(("ECDHE-ECDSA-AES256-GCM-SHA384", 256))
        }
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => {
            Some(("ECDHE-ECDSA-AES128-GCM-SHA256", 128))
        }
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
            Some(("ECDHE-ECDSA-CHACHA20-POLY1305", 256))
        }
        _ => None,
    };
    match known {
        Some((name, bits)) => (name.to_string(), bits),
        None => (format!("{suite:?}"), 0),
    }
}

impl TlsSummary {
    pub fn of(conn: &ServerConnection) -> TlsSummary {
        TlsSummary::from_parts(conn.protocol_version(), conn.negotiated_cipher_suite())
    }

    /// The same for the SMTP client's side of a session.
    pub fn of_client(conn: &ClientConnection) -> TlsSummary {
        TlsSummary::from_parts(conn.protocol_version(), conn.negotiated_cipher_suite())
    }

    fn from_parts(
        version: Option<ProtocolVersion>,
        suite: Option<SupportedCipherSuite>,
    ) -> TlsSummary {
        let protocol = match version {
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
            Some(ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
            Some(other) => format!("{other:?}"),
            None => "unknown".to_string(),
        };
        let (cipher, bits) = suite
            .map(|s| openssl_cipher(s.suite()))
            .unwrap_or_else(|| ("unknown".to_string(), 0));
        TlsSummary {
            protocol,
            cipher,
            bits,
        }
    }

    /// `TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`.
    pub fn describe(&self) -> String {
        format!(
            "{} with cipher {} ({}/{} bits)",
            self.protocol, self.cipher, self.bits, self.bits
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_names() {
        assert_eq!(
            openssl_cipher(CipherSuite::TLS13_AES_256_GCM_SHA384),
            ("TLS_AES_256_GCM_SHA384".to_string(), 256)
        );
        let s = TlsSummary {
            protocol: "TLSv1.3".into(),
            cipher: "TLS_AES_256_GCM_SHA384".into(),
            bits: 256,
        };
        assert_eq!(
            s.describe(),
            "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
        );
    }
}
