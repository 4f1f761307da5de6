//! The SMTP client's STARTTLS (postconf(5) `smtp_tls_security_level`, with
//! the legacy `smtp_use_tls` / `smtp_enforce_tls` when it is empty):
//!
//! | level | STARTTLS offered | not offered | handshake fails |
//! |---|---|---|---|
//! | `none` | ignored | plaintext | - |
//! | `may` | used, certificate not verified | plaintext | deferred (next MX) |
//! | `encrypt` | used, certificate not verified | deferred: `TLS is required, but was not offered by host H[A]` (4.7.4) | deferred: `Cannot start TLS: handshake failure` (4.7.5) |
//!
//! A failed handshake also logs `warning: TLS library problem: REASON`.
//! A STARTTLS reply other than 220 continues in plaintext at `may` and
//! defers at `encrypt` (`TLS is required, but host H[A] refused to start
//! TLS: REPLY`). After the handshake EHLO is sent again. With
//! `smtp_tls_loglevel >= 1` the session is logged as Postfix logs an
//! unverified one: `Untrusted TLS connection established to H[A]:PORT:
//! TLSv1.3 with cipher X (256/256 bits)`. Levels that verify the server
//! (`verify`, `secure`, `dane` ...) are refused at start-up by the
//! fail-closed table; when accepted anyway they act as `encrypt`.

use gatepost_config::{params, Config};
use gatepost_tls::{ServerName, TlsConnector};

use crate::smtp::addr_list::Target;
use crate::smtp::conn::{Broken, Conn};
use crate::smtp::ehlo::Features;
use crate::verdict::Verdict;
use crate::DeliveryError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsLevel {
    None,
    May,
    Encrypt,
}

/// The client's TLS settings, read once.
#[derive(Clone)]
pub(crate) struct TlsPolicy {
    pub level: TlsLevel,
    pub loglevel: i64,
    /// Present unless the level is `none`.
    connector: Option<TlsConnector>,
}

impl std::fmt::Debug for TlsPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPolicy")
            .field("level", &self.level)
            .field("loglevel", &self.loglevel)
            .finish()
    }
}

impl TlsPolicy {
    pub(crate) fn from_config(cfg: &Config) -> Result<TlsPolicy, DeliveryError> {
        let level = match cfg
            .get(&params::SMTP_TLS_SECURITY_LEVEL)
            .to_ascii_lowercase()
            .as_str()
        {
            "" if cfg.get(&params::SMTP_ENFORCE_TLS) => TlsLevel::Encrypt,
            "" if cfg.get(&params::SMTP_USE_TLS) => TlsLevel::May,
            "" | "none" => TlsLevel::None,
            "may" => TlsLevel::May,
            _ => TlsLevel::Encrypt,
        };
        let connector = if level == TlsLevel::None {
            None
        } else {
            let config = gatepost_tls::unverified_client_config()
                .map_err(|e| DeliveryError::Config(format!("SMTP client TLS: {e}")))?;
            Some(TlsConnector::from(config))
        };
        Ok(TlsPolicy {
            level,
            loglevel: cfg.get(&params::SMTP_TLS_LOGLEVEL),
            connector,
        })
    }
}

/// What the STARTTLS step decided.
pub(crate) enum Step {
    /// Go on with these features (plaintext).
    Plain(Features),
    /// TLS is up: send EHLO again.
    Encrypted,
    /// Every recipient got this verdict; send QUIT.
    Stop(Verdict),
}

/// Run STARTTLS when the policy and the server's features call for it.
pub(crate) async fn starttls(
    conn: &mut Conn,
    target: &Target,
    policy: &TlsPolicy,
    timeout: std::time::Duration,
    features: Features,
) -> Result<Step, Broken> {
    let Some(connector) = policy.connector.as_ref() else {
        return Ok(Step::Plain(features));
    };
    let namaddr = target.namaddr();
    let required = policy.level == TlsLevel::Encrypt;
    if !features.starttls {
        if required {
            return Ok(Step::Stop(Verdict::deferred(
                "4.7.4",
                format!("TLS is required, but was not offered by host {namaddr}"),
            )));
        }
        return Ok(Step::Plain(features));
    }
    let reply = conn
        .command("STARTTLS", timeout, "sending the STARTTLS command")
        .await?;
    if reply.code != 220 {
        if required {
            return Ok(Step::Stop(Verdict::deferred(
                "4.7.5",
                format!(
                    "TLS is required, but host {namaddr} refused to start TLS: {}",
                    gatepost_log::sanitize(&reply.text())
                ),
            )));
        }
        return Ok(Step::Plain(features));
    }
    let name = ServerName::try_from(target.host.clone())
        .unwrap_or_else(|_| ServerName::IpAddress(target.addr.into()));
    match conn.start_tls(connector, name, timeout).await {
        Ok(summary) => {
            if policy.loglevel >= 1 {
                gatepost_log::info(
                    "smtp",
                    format!(
                        "Untrusted TLS connection established to {}: {}",
                        target.relay(),
                        summary.describe()
                    ),
                );
            }
            Ok(Step::Encrypted)
        }
        Err(problem) => {
            gatepost_log::warning("smtp", format!("TLS library problem: {problem}"));
            Err(Broken::TlsHandshake)
        }
    }
}
