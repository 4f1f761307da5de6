//! A self-signed certificate for the embedded defaults: generated once into
//! a directory (the queue's `tls/`), reused on later starts.

use std::path::{Path, PathBuf};

use crate::TlsError;

fn write(path: &Path, text: &str, private: bool) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| TlsError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if private {
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(err)?;
    file.write_all(text.as_bytes()).map_err(err)
}

/// Paths of `DIR/cert.pem` and `DIR/key.pem` for `hostname`, generating
/// them (ECDSA P-256) when missing. The flag says whether they were made now.
pub fn ensure_self_signed(
    dir: &Path,
    hostname: &str,
) -> Result<(PathBuf, PathBuf, bool), TlsError> {
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if cert_path.is_file() && key_path.is_file() {
        return Ok((cert_path, key_path, false));
    }
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let mut params =
        rcgen::CertificateParams::new(vec![hostname.to_string(), "localhost".to_string()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, hostname);
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    write(&key_path, &key.serialize_pem(), true)?;
    write(&cert_path, &cert.pem(), false)?;
    Ok((cert_path, key_path, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_reused_and_loadable() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        let (cert, key, new) = ensure_self_signed(&tls, "mx.example.test").unwrap();
        assert!(new);
        let (_, _, again) = ensure_self_signed(&tls, "mx.example.test").unwrap();
        assert!(!again);
        let files = crate::CertFiles::Pair {
            cert: cert.display().to_string(),
            key: key.display().to_string(),
        };
        let floor = crate::parse_protocols(">=TLSv1.2", "p").unwrap();
        assert!(crate::server_config(&files, floor).is_ok());
        assert!(matches!(
            crate::server_config(
                &crate::CertFiles::Chain(vec![cert.display().to_string()]),
                floor
            ),
            Err(crate::TlsError::NoKey { .. })
        ));
    }
}
