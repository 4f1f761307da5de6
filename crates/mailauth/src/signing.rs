//! DKIM signing with the operator's keys (`gatepost_dkim_signing_keys`):
//! a table maps the sender's domain to `selector:/path/to/key.pem`; RSA
//! (rsa-sha256) and Ed25519 (ed25519-sha256, RFC 8463) keys.

use crate::inbound::{crlf, lf};
use crate::keygen::{ed25519, read_private, rsa};
use gatepost_table::Table;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner};
use mail_auth::AuthenticatedMessage;
use rustls_pki_types::PrivateKeyDer;
use std::path::PathBuf;
use std::sync::Arc;

/// The headers signed (RFC 6376 section 5.4.1's recommendations).
pub(crate) const SIGNED_HEADERS: &[&str] = &[
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
    #[error("{table}: no key for {domain}")]
    NoKey { table: String, domain: String },
    #[error("{path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("sign for {domain}: {reason}")]
    Sign { domain: String, reason: String },
}

/// A private key of the table: RSA (rsa-sha256) or Ed25519 (ed25519-sha256).
pub(crate) enum DomainKey {
    Rsa(RsaKey<Sha256>),
    Ed25519(Ed25519Key),
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
        let Some((selector, key)) = self.key_for(&domain)? else {
            return Ok(None);
        };
        let sign_err = |e: mail_auth::Error| SigningError::Sign {
            domain: domain.clone(),
            reason: e.to_string(),
        };
        let signature = match key {
            DomainKey::Ed25519(key) => signer(DkimSigner::from_key(key), &domain, &selector)
                .sign(&raw)
                .map_err(sign_err)?
                .to_header(),
            DomainKey::Rsa(key) => signer(DkimSigner::from_key(key), &domain, &selector)
                .sign(&raw)
                .map_err(sign_err)?
                .to_header(),
        };
        Ok(Some(lf(&signature)))
    }

    /// The selector and private key the table gives `domain` (read from
    /// its file now, so that a replaced key is used at once); `None` when
    /// the table has no entry.
    pub(crate) fn key_for(
        &self,
        domain: &str,
    ) -> Result<Option<(String, DomainKey)>, SigningError> {
        let value = match self.table.lookup(domain) {
            Ok(Some(v)) => v,
            Ok(None) => return Ok(None),
            Err(e) => {
                return Err(SigningError::Lookup {
                    table: self.table.name().to_string(),
                    domain: domain.to_string(),
                    reason: e.to_string(),
                })
            }
        };
        let Some((selector, path)) = value.trim().split_once(':') else {
            return Err(SigningError::BadValue {
                table: self.table.name().to_string(),
                domain: domain.to_string(),
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
        let key = match &der {
            PrivateKeyDer::Pkcs8(p) if ed25519(p.secret_pkcs8_der()).is_some() => {
                DomainKey::Ed25519(
                    ed25519(p.secret_pkcs8_der()).ok_or_else(|| key_err("bad Ed25519 key"))?,
                )
            }
            _ => DomainKey::Rsa(
                rsa(der.clone_key()).ok_or_else(|| key_err("not an RSA or Ed25519 key"))?,
            ),
        };
        Ok(Some((selector.trim().to_string(), key)))
    }

    pub(crate) fn no_key(&self, domain: &str) -> SigningError {
        SigningError::NoKey {
            table: self.table.name().to_string(),
            domain: domain.to_string(),
        }
    }

    /// Whether the table has an entry for `domain` (the key is not read).
    pub(crate) fn has_entry(&self, domain: &str) -> Result<bool, SigningError> {
        self.table
            .lookup(domain)
            .map(|v| v.is_some())
            .map_err(|e| SigningError::Lookup {
                table: self.table.name().to_string(),
                domain: domain.to_string(),
                reason: e.to_string(),
            })
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
