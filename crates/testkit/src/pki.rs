//! A test PKI made with rcgen: a CA (its certificate in `ca.pem` of a
//! temporary directory) and server certificates it signs, written as the
//! files gatepost reads (`cert.pem`: the leaf, then the CA, as
//! `smtpd_tls_cert_file` wants a chain; `key.pem`).

use std::path::{Path, PathBuf};

/// A server certificate's files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A CA in a temporary directory (removed when dropped).
pub struct TestPki {
    dir: tempfile::TempDir,
    ca: rcgen::Certificate,
    ca_key: rcgen::KeyPair,
}

impl TestPki {
    /// A CA named `CN=Spec Test CA`.
    pub fn new() -> TestPki {
        TestPki::named("Spec Test CA")
    }

    /// A CA whose subject is `CN=common_name`.
    pub fn named(common_name: &str) -> TestPki {
        let dir = tempfile::tempdir().expect("PKI directory");
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let ca = params.self_signed(&ca_key).expect("CA certificate");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("write ca.pem");
        TestPki { dir, ca, ca_key }
    }

    /// The directory holding `ca.pem` and the certificates issued.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The CA certificate (PEM), for `smtp_tls_CAfile`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The CA certificate (DER), for a TLS client's trust anchors.
    pub fn ca_der(&self) -> Vec<u8> {
        self.ca.der().to_vec()
    }

    /// A certificate for `names` signed by the CA, with its key, in a new
    /// subdirectory.
    pub fn issue(&self, names: &[&str]) -> CertFiles {
        let sub = tempfile::tempdir_in(self.dir.path())
            .expect("certificate directory")
            .keep();
        self.issue_into(&sub, names)
    }

    /// Like [`issue`](Self::issue), into `cert.pem` and `key.pem` of `dir`.
    pub fn issue_into(&self, dir: &Path, names: &[&str]) -> CertFiles {
        let key = rcgen::KeyPair::generate().expect("server key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let leaf = rcgen::CertificateParams::new(names)
            .expect("server certificate parameters")
            .signed_by(&key, &self.ca, &self.ca_key)
            .expect("server certificate");
        let files = CertFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.cert, leaf.pem() + &self.ca.pem()).expect("write cert.pem");
        std::fs::write(&files.key, key.serialize_pem()).expect("write key.pem");
        files
    }
}

impl Default for TestPki {
    fn default() -> Self {
        TestPki::new()
    }
}
