//! Server-side TLS for smtpd: the rustls server configuration built from
//! Postfix's `smtpd_tls_*` certificate and protocol parameters, a
//! self-signed certificate for the embedded defaults, and the session
//! summary in OpenSSL's names as Postfix logs them (postconf(5),
//! TLS_README), and the SMTP client's configuration and the check of the
//! server's certificate after the handshake (trust anchors, name matching).
#![forbid(unsafe_code)]

mod client;
mod config;
mod peer_check;
mod protocols;
mod self_signed;
mod summary;

pub use client::client_config;
pub use config::{server_config, CertFiles};
pub use peer_check::{check_peer, MatchName, PeerCheck, Problem, TrustAnchors};
pub use protocols::{parse_protocols, ProtocolFloor};
pub use rustls::pki_types::{CertificateDer, ServerName};
pub use self_signed::ensure_self_signed;
pub use summary::TlsSummary;
pub use tokio_rustls::server::TlsStream;
pub use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: no certificate found")]
    NoCertificate { path: String },
    #[error("{path}: no private key found")]
    NoKey { path: String },
    #[error("{path}: {detail}")]
    Pem { path: String, detail: String },
    #[error("{name}: {detail}")]
    Protocols { name: String, detail: String },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
}
