//! smtpd's side of the built-in mail authentication (docs/mail-auth.md):
//! which messages are DKIM-signed (`gatepost_dkim_signing_keys`; mail from
//! `$mynetworks` and authenticated clients) and which are verified
//! (`gatepost_mail_auth_verify`; all other mail), the headers that adds,
//! and what a failed DMARC check does (`gatepost_dmarc_enforce`).

use gatepost_config::{params, Config};
use gatepost_mailauth::{DmarcAction, SigningKeys, SpfCheck};
use gatepost_table::NetworkList;

use std::net::IpAddr;
use std::sync::Arc;

use crate::context::ServerContext;
use crate::session::Session;

/// What `gatepost_dmarc_enforce` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcEnforce {
    /// `no`: the header only.
    No,
    /// `quarantine`: p=reject and p=quarantine both hold the message.
    Quarantine,
    /// `yes`: p=reject rejects, p=quarantine holds.
    Yes,
}

/// The service's mail authentication settings.
#[derive(Debug, Clone)]
pub struct MailAuthSettings {
    pub verify: bool,
    pub enforce: DmarcEnforce,
    pub signing: Option<SigningKeys>,
    pub mynetworks: NetworkList,
}

impl MailAuthSettings {
    pub fn from_config(cfg: &Config) -> Result<MailAuthSettings, String> {
        let enforce = match cfg
            .get(&params::GATEPOST_DMARC_ENFORCE)
            .to_ascii_lowercase()
            .as_str()
        {
            "" | "no" => DmarcEnforce::No,
            "quarantine" => DmarcEnforce::Quarantine,
            "yes" => DmarcEnforce::Yes,
            other => {
                return Err(format!(
                    "gatepost_dmarc_enforce: bad value \"{other}\": expected no, quarantine or yes"
                ))
            }
        };
        let spec = cfg.get(&params::GATEPOST_DKIM_SIGNING_KEYS);
        let signing = if spec.trim().is_empty() {
            None
        } else {
            let table = gatepost_table::open_table(spec.trim())
                .map_err(|e| format!("gatepost_dkim_signing_keys: {e}"))?;
            Some(SigningKeys::new(table))
        };
        let mynetworks =
            NetworkList::parse(&cfg.mynetworks(), true).map_err(|e| format!("mynetworks: {e}"))?;
        Ok(MailAuthSettings {
            verify: cfg.get(&params::GATEPOST_MAIL_AUTH_VERIFY),
            enforce,
            signing,
            mynetworks,
        })
    }
}

/// What happens to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthMode {
    Off,
    /// Outbound: sign with the sender domain's key.
    Sign,
    /// Inbound: verify and add `Authentication-Results:`.
    Verify,
}

/// The headers to put above the message, and DMARC's request.
pub(crate) struct AuthOutcome {
    pub headers: String,
    pub dmarc: Option<(DmarcAction, String)>,
}

impl Session {
    /// Sign mail from trusted clients, verify the rest.
    pub(crate) fn auth_mode(&self) -> AuthMode {
        let auth = &self.ctx.mail_auth;
        let trusted = self.login.is_some()
            || auth
                .mynetworks
                .matches(&self.client_name, self.client_addr)
                .unwrap_or(false);
        match (trusted, auth.signing.is_some(), auth.verify) {
            (true, true, _) => AuthMode::Sign,
            (false, _, true) => AuthMode::Verify,
            _ => AuthMode::Off,
        }
    }

    /// What [`auth_headers`] needs of the session.
    pub(crate) fn auth_client(&self) -> AuthClient {
        AuthClient {
            ctx: self.ctx.clone(),
            addr: self.client_addr,
            helo: self.helo.clone().unwrap_or_default(),
        }
    }
}

/// The client of one message, for [`auth_headers`].
pub(crate) struct AuthClient {
    ctx: Arc<ServerContext>,
    addr: IpAddr,
    helo: String,
}

impl AuthClient {
    /// The signature or the verification header for `message` (cleanup's
    /// output, as queued).
    pub(crate) async fn auth_headers(
        &self,
        mode: AuthMode,
        sender: &str,
        message: &[u8],
    ) -> AuthOutcome {
        let myhostname = &self.ctx.settings.myhostname;
        let none = AuthOutcome {
            headers: String::new(),
            dmarc: None,
        };
        match mode {
            AuthMode::Off => none,
            AuthMode::Sign => {
                let Some(keys) = &self.ctx.mail_auth.signing else {
                    return none;
                };
                match keys.sign(sender, message) {
                    Ok(Some(sig)) => AuthOutcome {
                        headers: sig,
                        dmarc: None,
                    },
                    Ok(None) => none,
                    Err(e) => {
                        gatepost_log::warning("smtpd", format!("DKIM signing: {e}"));
                        none
                    }
                }
            }
            AuthMode::Verify => {
                let check = SpfCheck {
                    client: self.addr,
                    helo: &self.helo,
                    sender,
                    myhostname,
                };
                let spf = gatepost_mailauth::check_spf(&self.ctx.resolver, &check).await;
                let result = gatepost_mailauth::verify_inbound(
                    &self.ctx.resolver,
                    self.addr,
                    &spf,
                    message,
                    myhostname,
                )
                .await;
                let dmarc = match (result.action, self.ctx.mail_auth.enforce) {
                    (DmarcAction::None, _) | (_, DmarcEnforce::No) => None,
                    (DmarcAction::Reject, DmarcEnforce::Yes) => {
                        Some((DmarcAction::Reject, result.from_domain.clone()))
                    }
                    _ => Some((DmarcAction::Quarantine, result.from_domain.clone())),
                };
                AuthOutcome {
                    headers: result.header,
                    dmarc,
                }
            }
        }
    }
}
