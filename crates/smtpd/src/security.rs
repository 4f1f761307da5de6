//! The STARTTLS and SMTP AUTH parameters of one smtpd service (postconf(5)):
//! smtpd_tls_security_level (or the legacy smtpd_use_tls /
//! smtpd_enforce_tls), smtpd_tls_wrappermode, smtpd_starttls_timeout,
//! smtpd_tls_loglevel, smtpd_tls_received_header, smtpd_tls_auth_only,
//! smtpd_sasl_auth_enable, smtpd_sasl_security_options,
//! smtpd_sasl_tls_security_options, broken_sasl_auth_clients,
//! smtpd_sasl_authenticated_header (smtpd_sasl_exceptions_networks is in
//! the server context); and building the TLS acceptor from
//! the certificate parameters (gatepost_tls_self_signed: make one).

use std::path::Path;
use std::time::Duration;

use gatepost_config::{params, Config};
use gatepost_sasl::Mechanism;
use gatepost_tls::{CertFiles, TlsAcceptor, TlsError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsLevel {
    None,
    May,
    Encrypt,
}

#[derive(Debug, Clone)]
pub struct SecuritySettings {
    pub tls_level: TlsLevel,
    pub wrapper_mode: bool,
    pub starttls_timeout: Duration,
    pub tls_loglevel: i64,
    pub tls_received_header: bool,
    pub tls_auth_only: bool,
    pub sasl_enable: bool,
    /// Mechanisms allowed before / in TLS, after the security options.
    pub mechanisms_plain: Vec<Mechanism>,
    pub mechanisms_tls: Vec<Mechanism>,
    pub broken_auth_clients: bool,
    pub authenticated_header: bool,
}

/// PLAIN and LOGIN, unless the options say `noplaintext`.
fn mechanisms(options: &[String]) -> Vec<Mechanism> {
    if options
        .iter()
        .any(|o| o.eq_ignore_ascii_case("noplaintext"))
    {
        Vec::new()
    } else {
        vec![Mechanism::Plain, Mechanism::Login]
    }
}

impl SecuritySettings {
    pub fn from_config(cfg: &Config) -> SecuritySettings {
        let tls_level = match cfg.get(&params::SMTPD_TLS_SECURITY_LEVEL).as_str() {
            "encrypt" => TlsLevel::Encrypt,
            "may" => TlsLevel::May,
            "none" => TlsLevel::None,
            _ if cfg.get(&params::SMTPD_ENFORCE_TLS) => TlsLevel::Encrypt,
            _ if cfg.get(&params::SMTPD_USE_TLS) => TlsLevel::May,
            _ => TlsLevel::None,
        };
        SecuritySettings {
            tls_level,
            wrapper_mode: cfg.get(&params::SMTPD_TLS_WRAPPERMODE),
            starttls_timeout: cfg.get(&params::SMTPD_STARTTLS_TIMEOUT),
            tls_loglevel: cfg.get(&params::SMTPD_TLS_LOGLEVEL),
            tls_received_header: cfg.get(&params::SMTPD_TLS_RECEIVED_HEADER),
            // As Postfix: mandatory TLS (encrypt, wrapper mode) implies
            // AUTH only inside TLS.
            tls_auth_only: cfg.get(&params::SMTPD_TLS_AUTH_ONLY)
                || tls_level == TlsLevel::Encrypt
                || cfg.get(&params::SMTPD_TLS_WRAPPERMODE),
            sasl_enable: cfg.get(&params::SMTPD_SASL_AUTH_ENABLE),
            mechanisms_plain: mechanisms(&cfg.get(&params::SMTPD_SASL_SECURITY_OPTIONS)),
            mechanisms_tls: mechanisms(&cfg.get(&params::SMTPD_SASL_TLS_SECURITY_OPTIONS)),
            broken_auth_clients: cfg.get(&params::BROKEN_SASL_AUTH_CLIENTS),
            authenticated_header: cfg.get(&params::SMTPD_SASL_AUTHENTICATED_HEADER),
        }
    }

    /// Whether the service uses TLS at all (STARTTLS or wrapper mode).
    pub fn wants_tls(&self) -> bool {
        self.wrapper_mode || self.tls_level != TlsLevel::None
    }
}

/// The TLS acceptor for a service that [wants TLS](SecuritySettings::wants_tls).
/// With `gatepost_tls_self_signed = yes` a missing certificate is made
/// first (logged).
pub fn build_acceptor(cfg: &Config) -> Result<TlsAcceptor, TlsError> {
    let chain = cfg.get(&params::SMTPD_TLS_CHAIN_FILES);
    let files = if chain.is_empty() {
        let cert = cfg.get(&params::SMTPD_TLS_CERT_FILE);
        let key = cfg.get(&params::SMTPD_TLS_KEY_FILE);
        if cfg.get(&params::GATEPOST_TLS_SELF_SIGNED) && !Path::new(&cert).is_file() {
            let dir = Path::new(&cert).parent().unwrap_or(Path::new("."));
            let (made_cert, made_key, new) =
                gatepost_tls::ensure_self_signed(dir, &cfg.get(&params::MYHOSTNAME))?;
            if new {
                gatepost_log::info(
                    "smtpd",
                    format!(
                        "generated a self-signed TLS certificate {} and key {}",
                        made_cert.display(),
                        made_key.display()
                    ),
                );
            }
            CertFiles::Pair {
                cert: made_cert.display().to_string(),
                key: made_key.display().to_string(),
            }
        } else {
            CertFiles::Pair { cert, key }
        }
    } else {
        CertFiles::Chain(chain)
    };
    // Mandatory TLS (encrypt) uses the mandatory list, opportunistic the other.
    let param = if SecuritySettings::from_config(cfg).tls_level == TlsLevel::Encrypt {
        &params::SMTPD_TLS_MANDATORY_PROTOCOLS
    } else {
        &params::SMTPD_TLS_PROTOCOLS
    };
    let protocols = gatepost_tls::parse_protocols(&cfg.get(param).join(" "), param.name())?;
    let config = gatepost_tls::server_config(&files, protocols)?;
    Ok(TlsAcceptor::from(config))
}
