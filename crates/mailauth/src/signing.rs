//! DKIM signing with the operator's keys (`gatepost_dkim_signing_keys`):
//! a table maps the sender's domain to `selector:/path/to/key.pem`; RSA
//! (rsa-sha256) and Ed25519 (ed25519-sha256, RFC 8463) keys.

use crate::inbound::{crlf, lf};
use crate::keygen::{ed25519, read_private, rsa};
use gatepost_table::Table;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner};
use mail_auth::AuthenticatedMessage;
use rustls_pki_types::PrivateKeyDer;
use std::path::PathBuf;
use std::sync::Arc;

/// The headers signed (RFC 6376 section 5.4.1's recommendations).
const SIGNED_HEADERS: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "To",
    "Cc",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "In-Reply-To",
    "References",
];

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("{table}: lookup of {domain}: {reason}")]
    Lookup {
        table: String,
        domain: String,
        reason: String,
    },
    #[error("{table}: {domain}: bad value \"{value}\": expected selector:/path/to/key")]
    BadValue {
        table: String,
        domain: String,
        value: String,
    },
    #[error("{path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("sign for {domain}: {reason}")]
    Sign { domain: String, reason: String },
}

/// The signing key table.
#[derive(Debug, Clone)]
pub struct SigningKeys {
    table: Arc<dyn Table>,
}

impl SigningKeys {
    pub fn new(table: Arc<dyn Table>) -> SigningKeys {
        SigningKeys { table }
    }

    /// `DKIM-Signature: ...` (LF line ends, ending in LF) for `message`,
    /// signed for the domain of its From: address (as OpenDKIM chooses,
    /// so that DMARC finds the signature aligned), or of the envelope
    /// sender when From: has none; `None` when the table has no key.
    pub fn sign(
        &self,
        envelope_sender: &str,
        message: &[u8],
    ) -> Result<Option<String>, SigningError> {
        let raw = crlf(message);
        let from = AuthenticatedMessage::parse(&raw)
            .map(|m| m.from().to_string())
            .filter(|f| f.contains('@'))
            .unwrap_or_else(|| envelope_sender.to_string());
        let domain = from
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase())
            .unwrap_or_default();
        if domain.is_empty() {
            return Ok(None);
        }
        let value = match self.table.lookup(&domain) {
            Ok(Some(v)) => v,
            Ok(None) => return Ok(None),
            Err(e) => {
                return Err(SigningError::Lookup {
                    table: self.table.name().to_string(),
                    domain,
                    reason: e.to_string(),
                })
            }
        };
        let Some((selector, path)) = value.trim().split_once(':') else {
            return Err(SigningError::BadValue {
                table: self.table.name().to_string(),
                domain,
                value,
            });
        };
        let path = PathBuf::from(path.trim());
        let key_err = |reason: &str| SigningError::Key {
            path: path.clone(),
            reason: reason.to_string(),
        };
        let text = std::fs::read(&path).map_err(|e| key_err(&e.to_string()))?;
        let der = read_private(&text).ok_or_else(|| key_err("no PEM private key"))?;
        let sign_err = |e: mail_auth::Error| SigningError::Sign {
            domain: domain.clone(),
            reason: e.to_string(),
        };
        let signature = match &der {
            PrivateKeyDer::Pkcs8(p) if ed25519(p.secret_pkcs8_der()).is_some() => {
                let key =
                    ed25519(p.secret_pkcs8_der()).ok_or_else(|| key_err("bad Ed25519 key"))?;
                signer(DkimSigner::from_key(key), &domain, selector.trim())
                    .sign(&raw)
                    .map_err(sign_err)?
                    .to_header()
            }
            _ => {
                let key =
                    rsa(der.clone_key()).ok_or_else(|| key_err("not an RSA or Ed25519 key"))?;
                signer(DkimSigner::from_key(key), &domain, selector.trim())
                    .sign(&raw)
                    .map_err(sign_err)?
                    .to_header()
            }
        };
        Ok(Some(lf(&signature)))
    }
}

fn signer<T: mail_auth::common::crypto::SigningKey>(
    s: DkimSigner<T>,
    domain: &str,
    selector: &str,
) -> DkimSigner<T, mail_auth::dkim::Done> {
    s.domain(domain)
        .selector(selector)
        .headers(SIGNED_HEADERS.iter().copied())
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
}
