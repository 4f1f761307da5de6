//! The rustls server configuration: certificate chain and private key from
//! `smtpd_tls_chain_files` (key and certificates in one or more PEM files)
//! or `smtpd_tls_cert_file` + `smtpd_tls_key_file` (RSA or ECDSA), with the
//! protocol versions the service allows.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::protocols::ProtocolFloor;
use crate::TlsError;

/// Where the server's key and certificates are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertFiles {
    /// `smtpd_tls_chain_files`: each file holds PEM keys and/or certificates.
    Chain(Vec<String>),
    /// `smtpd_tls_cert_file` (leaf first, then intermediates) and
    /// `smtpd_tls_key_file`.
    Pair { cert: String, key: String },
}

fn read(path: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(Path::new(path)).map_err(|source| TlsError::Read {
        path: path.to_string(),
        source,
    })
}

fn certs_in(path: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_string(),
            detail: e.to_string(),
        })
}

fn key_in(path: &str, pem: &[u8]) -> Result<Option<PrivateKeyDer<'static>>, TlsError> {
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(key) => Ok(Some(key)),
        Err(rustls::pki_types::pem::Error::NoItemsFound) => Ok(None),
        Err(e) => Err(TlsError::Pem {
            path: path.to_string(),
            detail: e.to_string(),
        }),
    }
}

/// Build the server configuration for one smtpd service.
pub fn server_config(
    files: &CertFiles,
    protocols: ProtocolFloor,
) -> Result<Arc<ServerConfig>, TlsError> {
    let (certs, key) = match files {
        CertFiles::Chain(paths) => {
            let mut certs = Vec::new();
            let mut key = None;
            for path in paths {
                let pem = read(path)?;
                if key.is_none() {
                    key = key_in(path, &pem)?;
                }
                certs.extend(certs_in(path, &pem)?);
            }
            let first = paths.first().cloned().unwrap_or_default();
            let key = key.ok_or(TlsError::NoKey { path: first })?;
            (certs, key)
        }
        CertFiles::Pair { cert, key } => {
            let certs = certs_in(cert, &read(cert)?)?;
            let key = key_in(key, &read(key)?)?.ok_or(TlsError::NoKey { path: key.clone() })?;
            (certs, key)
        }
    };
    if certs.is_empty() {
        let path = match files {
            CertFiles::Chain(p) => p.join(", "),
            CertFiles::Pair { cert, .. } => cert.clone(),
        };
        return Err(TlsError::NoCertificate { path });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&protocols.versions())?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}
