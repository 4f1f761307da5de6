//! `gatepost dkim keygen DOMAIN SELECTOR`: a new signing key in a PEM file
//! and the DNS TXT record that publishes it (RFC 6376 section 3.6.1,
//! RFC 8463 for Ed25519).

use crate::pem;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::dkim::generate::DkimKeyPair;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use std::path::{Path, PathBuf};

/// The key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Rsa(usize),
    Ed25519,
}

#[derive(Debug, thiserror::Error)]
pub enum KeygenError {
    #[error("generate key: {0}")]
    Generate(String),
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: already exists; remove it first")]
    Exists { path: PathBuf },
}

/// What keygen wrote.
#[derive(Debug, Clone)]
pub struct KeygenOutput {
    pub key_file: PathBuf,
    /// `SELECTOR._domainkey.DOMAIN`
    pub record_name: String,
    /// `v=DKIM1; k=rsa; p=...`
    pub record: String,
}

impl KeygenOutput {
    /// The record as a zone-file line, its text split into 255-byte strings.
    pub fn zone_line(&self) -> String {
        let parts: Vec<String> = self
            .record
            .as_bytes()
            .chunks(255)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        format!("{}. IN TXT ( {} )", self.record_name, parts.join(" "))
    }
}

/// Generate a key for `domain`/`selector`, write it to `dir/SELECTOR.DOMAIN.key`
/// (mode 0600), and return the record to publish.
pub fn keygen(
    domain: &str,
    selector: &str,
    algorithm: KeyAlgorithm,
    dir: &Path,
) -> Result<KeygenOutput, KeygenError> {
    let gen_err = |e: mail_auth::Error| KeygenError::Generate(e.to_string());
    let (label, pair, k) = match algorithm {
        KeyAlgorithm::Rsa(bits) => (
            "RSA PRIVATE KEY",
            DkimKeyPair::generate_rsa(bits).map_err(gen_err)?,
            "rsa",
        ),
        KeyAlgorithm::Ed25519 => (
            "PRIVATE KEY",
            DkimKeyPair::generate_ed25519().map_err(gen_err)?,
            "ed25519",
        ),
    };
    let public = match algorithm {
        // The RSA record holds the SubjectPublicKeyInfo, as OpenDKIM's
        // opendkim-genkey publishes it.
        KeyAlgorithm::Rsa(_) => rsa_spki(pair.private_key())?,
        KeyAlgorithm::Ed25519 => pair.public_key().to_vec(),
    };
    let key_file = dir.join(format!("{selector}.{domain}.key"));
    if key_file.exists() {
        return Err(KeygenError::Exists { path: key_file });
    }
    write_private(&key_file, pem::encode(label, pair.private_key()).as_bytes())?;
    Ok(KeygenOutput {
        key_file,
        record_name: format!("{selector}._domainkey.{domain}"),
        record: format!("v=DKIM1; k={k}; p={}", pem::base64(&public)),
    })
}

fn rsa_spki(pkcs1_private: &[u8]) -> Result<Vec<u8>, KeygenError> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::EncodePublicKey;
    let err = |e: &dyn std::fmt::Display| KeygenError::Generate(e.to_string());
    let key = rsa::RsaPrivateKey::from_pkcs1_der(pkcs1_private).map_err(|e| err(&e))?;
    let spki = rsa::RsaPublicKey::from(&key)
        .to_public_key_der()
        .map_err(|e| err(&e))?;
    Ok(spki.as_bytes().to_vec())
}

/// RSA signing key from PKCS#1 or PKCS#8 DER.
pub(crate) fn rsa(der: PrivateKeyDer<'_>) -> Option<RsaKey<Sha256>> {
    RsaKey::<Sha256>::from_key_der(der).ok()
}

/// Parse a PEM private key file: RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8).
pub(crate) fn read_private(text: &[u8]) -> Option<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(text).ok()
}

/// Ed25519 key from PKCS#8 DER.
pub(crate) fn ed25519(der: &[u8]) -> Option<Ed25519Key> {
    Ed25519Key::from_pkcs8_maybe_unchecked_der(der).ok()
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), KeygenError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let werr = |source| KeygenError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(werr)?;
    f.write_all(data).map_err(werr)?;
    f.sync_all().map_err(werr)
}
