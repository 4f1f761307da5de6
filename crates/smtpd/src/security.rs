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

use gatepost_config::Config;
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
        let tls_level = match cfg.get("smtpd_tls_security_level").as_str() {
            "encrypt" => TlsLevel::Encrypt,
            "may" => TlsLevel::May,
            "none" => TlsLevel::None,
            _ if cfg.get_bool("smtpd_enforce_tls") => TlsLevel::Encrypt,
            _ if cfg.get_bool("smtpd_use_tls") => TlsLevel::May,
            _ => TlsLevel::None,
        };
        SecuritySettings {
            tls_level,
            wrapper_mode: cfg.get_bool("smtpd_tls_wrappermode"),
            starttls_timeout: cfg.get_time("smtpd_starttls_timeout"),
            tls_loglevel: cfg.get_int("smtpd_tls_loglevel"),
            tls_received_header: cfg.get_bool("smtpd_tls_received_header"),
            // As Postfix: mandatory TLS (encrypt, wrapper mode) implies
            // AUTH only inside TLS.
            tls_auth_only: cfg.get_bool("smtpd_tls_auth_only")
                || tls_level == TlsLevel::Encrypt
                || cfg.get_bool("smtpd_tls_wrappermode"),
            sasl_enable: cfg.get_bool("smtpd_sasl_auth_enable"),
            mechanisms_plain: mechanisms(&cfg.get_list("smtpd_sasl_security_options")),
            mechanisms_tls: mechanisms(&cfg.get_list("smtpd_sasl_tls_security_options")),
            broken_auth_clients: cfg.get_bool("broken_sasl_auth_clients"),
            authenticated_header: cfg.get_bool("smtpd_sasl_authenticated_header"),
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
    let chain = cfg.get_list("smtpd_tls_chain_files");
    let files = if chain.is_empty() {
        let cert = cfg.get("smtpd_tls_cert_file");
        let key = cfg.get("smtpd_tls_key_file");
        if cfg.get_bool("gatepost_tls_self_signed") && !Path::new(&cert).is_file() {
            let dir = Path::new(&cert).parent().unwrap_or(Path::new("."));
            let (made_cert, made_key, new) =
                gatepost_tls::ensure_self_signed(dir, &cfg.get("myhostname"))?;
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
    let name = if SecuritySettings::from_config(cfg).tls_level == TlsLevel::Encrypt {
        "smtpd_tls_mandatory_protocols"
    } else {
        "smtpd_tls_protocols"
    };
    let protocols = gatepost_tls::parse_protocols(&cfg.get(name), name)?;
    let config = gatepost_tls::server_config(&files, protocols)?;
    Ok(TlsAcceptor::from(config))
}
