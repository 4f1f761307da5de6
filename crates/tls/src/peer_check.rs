//! Judging the SMTP server's certificate after the handshake, as Postfix's
//! TLS client does (tls_client.c, tls_verify.c): is the chain trusted by
//! the trust anchors (`smtp_tls_CAfile` / `smtp_tls_CApath`, or the
//! webpki roots when neither is set), and does the certificate carry one
//! of the names the security level asks for (`smtp_tls_verify_cert_match`,
//! `smtp_tls_secure_cert_match`: a name, or `.domain` for any name below
//! it; RFC 6125 wildcards in the leftmost label only)? The reason a
//! certificate fails is worded as Postfix logs it: `self-signed
//! certificate`, `untrusted issuer /CN=...`, `num=62:hostname mismatch`.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, TrustAnchor, UnixTime};

use crate::TlsError;

/// The certificates that make a server certificate trusted.
#[derive(Debug, Clone)]
pub struct TrustAnchors {
    anchors: Arc<Vec<TrustAnchor<'static>>>,
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn anchors_in(
    pem: &[u8],
    path: &Path,
    out: &mut Vec<TrustAnchor<'static>>,
) -> Result<(), TlsError> {
    let bad = |detail: String| TlsError::Pem {
        path: path.display().to_string(),
        detail,
    };
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        let anchor = webpki::anchor_from_trusted_cert(&cert).map_err(|e| bad(format!("{e:?}")))?;
        out.push(anchor.to_owned());
    }
    Ok(())
}

impl TrustAnchors {
    /// The webpki (Mozilla) roots.
    pub fn webpki() -> TrustAnchors {
        TrustAnchors {
            anchors: Arc::new(webpki_roots::TLS_SERVER_ROOTS.to_vec()),
        }
    }

    /// No anchors: nothing is trusted.
    pub fn none() -> TrustAnchors {
        TrustAnchors {
            anchors: Arc::new(Vec::new()),
        }
    }

    /// `CAfile` (PEM, one or more certificates) and every PEM certificate
    /// in `CApath`; the webpki roots when both are empty, or in addition
    /// when `append_default` (`tls_append_default_CA`).
    pub fn load(
        cafile: &str,
        capath: &str,
        append_default: bool,
    ) -> Result<TrustAnchors, TlsError> {
        if cafile.is_empty() && capath.is_empty() {
            return Ok(TrustAnchors::webpki());
        }
        let mut anchors = Vec::new();
        if !cafile.is_empty() {
            let path = Path::new(cafile);
            anchors_in(&read(path)?, path, &mut anchors)?;
        }
        if !capath.is_empty() {
            let dir = std::fs::read_dir(capath).map_err(|source| TlsError::Read {
                path: capath.to_string(),
                source,
            })?;
            for entry in dir.flatten() {
                let path = entry.path();
                // OpenSSL's hashed links and stray files alike: a file
                // that is no PEM certificate is skipped, as OpenSSL does.
                if let Ok(pem) = std::fs::read(&path) {
                    let mut found = Vec::new();
                    if anchors_in(&pem, &path, &mut found).is_ok() {
                        anchors.extend(found);
                    }
                }
            }
        }
        if append_default {
            anchors.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        Ok(TrustAnchors {
            anchors: Arc::new(anchors),
        })
    }
}

/// A name the certificate must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchName {
    /// This host name (a wildcard `*.rest` covers one label).
    Exact(String),
    /// Any name below this domain (Postfix's `.domain`, `dot-nexthop`).
    Below(String),
}

/// What the certificate check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCheck {
    /// The chain leads to a trust anchor.
    pub trusted: bool,
    /// Trusted, and a wanted name matched.
    pub matched: bool,
    /// Why not, as Postfix words it after `certificate verification failed
    /// for HOST[ADDR]:PORT: ` (with `server ` before `certificate` when
    /// `server_prefix`).
    pub problem: Option<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub server_prefix: bool,
    pub text: String,
}

impl Problem {
    fn plain(text: impl Into<String>) -> Problem {
        Problem {
            server_prefix: false,
            text: text.into(),
        }
    }

    fn server(text: impl Into<String>) -> Problem {
        Problem {
            server_prefix: true,
            text: text.into(),
        }
    }

    /// Postfix's log line for `namaddr` (`host[addr]:port`).
    pub fn log_line(&self, namaddr: &str) -> String {
        format!(
            "{}certificate verification failed for {namaddr}: {}",
            if self.server_prefix { "server " } else { "" },
            self.text
        )
    }
}

fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether a certificate DNS name `cert` satisfies `want`.
fn name_matches(cert: &str, want: &MatchName) -> bool {
    let cert = normal(cert);
    match want {
        MatchName::Exact(host) => {
            let host = normal(host);
            if let Some(rest) = cert.strip_prefix("*.") {
                host.split_once('.')
                    .is_some_and(|(label, tail)| !label.is_empty() && tail == rest)
            } else {
                cert == host
            }
        }
        MatchName::Below(domain) => {
            let suffix = format!(".{}", normal(domain));
            let name = cert.strip_prefix("*.").unwrap_or(&cert);
            cert.ends_with(&suffix) || (cert.starts_with("*.") && name == &suffix[1..])
        }
    }
}

/// `/C=US/O=Example/CN=Example CA` from a DER Name, as OpenSSL's
/// `X509_NAME_oneline()` writes it (the attributes Postfix users see).
fn distinguished_name(der: &[u8]) -> String {
    /// One DER element: (tag, contents, rest).
    fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (first as usize, rest)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (len, &rest[n..])
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }
    fn short_name(oid: &[u8]) -> Option<&'static str> {
        Some(match oid {
            [0x55, 0x04, 0x03] => "CN",
            [0x55, 0x04, 0x06] => "C",
            [0x55, 0x04, 0x07] => "L",
            [0x55, 0x04, 0x08] => "ST",
            [0x55, 0x04, 0x0a] => "O",
            [0x55, 0x04, 0x0b] => "OU",
            _ => return None,
        })
    }
    let mut out = String::new();
    // `der` is the Name's contents (webpki hands over the inner bytes).
    let mut sets = der;
    while let Some((_, set, rest)) = element(sets) {
        sets = rest;
        let mut atvs = set;
        while let Some((_, atv, rest)) = element(atvs) {
            atvs = rest;
            let Some((_, oid, value)) = element(atv) else {
                continue;
            };
            let Some((_, text, _)) = element(value) else {
                continue;
            };
            let name = short_name(oid)
                .map(str::to_string)
                .unwrap_or_else(|| "?".to_string());
            let text: String = String::from_utf8_lossy(text)
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            out.push_str(&format!("/{name}={text}"));
        }
    }
    out
}

/// Judge a server's certificate chain (leaf first). `names` empty: only
/// the chain is judged (the levels that do not match names).
pub fn check_peer(
    chain: &[CertificateDer<'_>],
    anchors: &TrustAnchors,
    names: &[MatchName],
) -> PeerCheck {
    let untrusted = |problem: Problem| PeerCheck {
        trusted: false,
        matched: false,
        problem: Some(problem),
    };
    let Some((leaf, intermediates)) = chain.split_first() else {
        return untrusted(Problem::server("no certificate presented"));
    };
    let ee = match webpki::EndEntityCert::try_from(leaf) {
        Ok(ee) => ee,
        Err(e) => return untrusted(Problem::server(format!("num=0:{e:?}"))),
    };
    let algs = rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all;
    let verified = ee.verify_for_usage(
        algs,
        &anchors.anchors,
        intermediates,
        UnixTime::now(),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    );
    if let Err(err) = verified {
        let problem = match err {
            webpki::Error::UnknownIssuer
                if intermediates.is_empty() && ee.issuer() == ee.subject() =>
            {
                Problem::plain("self-signed certificate")
            }
            webpki::Error::UnknownIssuer => {
                let issuer = chain
                    .last()
                    .and_then(|c| webpki::EndEntityCert::try_from(c).ok())
                    .map(|c| distinguished_name(c.issuer()))
                    .unwrap_or_else(|| "<unknown>".to_string());
                Problem::plain(format!("untrusted issuer {issuer}"))
            }
            webpki::Error::CertExpired { .. } => Problem::server("certificate has expired"),
            webpki::Error::CertNotValidYet { .. } => Problem::server("certificate not yet valid"),
            webpki::Error::RequiredEkuNotFoundContext(_) => {
                Problem::plain("not designated for use as a server certificate")
            }
            webpki::Error::InvalidSignatureForPublicKey => {
                Problem::server("num=7:certificate signature failure")
            }
            other => Problem::server(format!("num=0:{other:?}")),
        };
        return untrusted(problem);
    }
    let matched = names.is_empty()
        || ee
            .valid_dns_names()
            .any(|cert_name| names.iter().any(|want| name_matches(cert_name, want)));
    PeerCheck {
        trusted: true,
        matched,
        problem: (!matched).then(|| Problem::server("num=62:hostname mismatch")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_as_postfix_matches_them() {
        let exact = |n: &str| MatchName::Exact(n.to_string());
        let below = |n: &str| MatchName::Below(n.to_string());
        let cases = [
            ("mx.example.com", exact("MX.example.com."), true),
            ("mx.example.com", exact("example.com"), false),
            ("*.example.com", exact("mx.example.com"), true),
            ("*.example.com", exact("a.mx.example.com"), false),
            ("*.example.com", exact("example.com"), false),
            ("mx.example.com", below("example.com"), true),
            ("a.b.example.com", below("example.com"), true),
            ("example.com", below("example.com"), false),
            ("*.example.com", below("example.com"), true),
            ("mx.example.org", below("example.com"), false),
        ];
        for (cert, want, ok) in cases {
            assert_eq!(name_matches(cert, &want), ok, "{cert} {want:?}");
        }
    }

    #[test]
    fn distinguished_names_read_as_openssl_writes_them() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CountryName, "US");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Test Org");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Test CA");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let der = cert.der().clone();
        let ee = webpki::EndEntityCert::try_from(&der).unwrap();
        assert_eq!(
            distinguished_name(ee.subject()),
            "/C=US/O=Test Org/CN=Test CA"
        );
    }
}
