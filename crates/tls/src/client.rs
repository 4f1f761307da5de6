//! Client-side TLS for the SMTP client: the rustls client configuration.
//! The handshake never fails on the server's certificate: as with Postfix
//! (postconf(5) `smtp_tls_security_level`), the session is set up first
//! and the certificate judged afterwards against the level's policy
//! (`peer_check.rs`), so that an unverified server can be logged and sent
//! `QUIT`. The handshake signature is still checked, so the peer must hold
//! the key it presents. No SNI is sent (Postfix's empty
//! `smtp_tls_servername`).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::{ProtocolFloor, TlsError};

/// Accepts any certificate chain; verifies the handshake signatures with
/// the provider's algorithms.
#[derive(Debug)]
struct UnverifiedServer {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for UnverifiedServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The client configuration for the protocol versions `protocols` allows
/// (`smtp_tls_protocols` / `smtp_tls_mandatory_protocols`); the certificate
/// is checked after the handshake with [`crate::check_peer`].
pub fn client_config(protocols: ProtocolFloor) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&protocols.versions())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(UnverifiedServer { provider }))
        .with_no_client_auth();
    config.enable_sni = false;
    Ok(Arc::new(config))
}
