//! smtpd's side of the built-in mail authentication (docs/mail-auth.md):
//! which messages are DKIM-signed (`gatepost_dkim_signing_keys`; mail from
//! `$mynetworks` and authenticated clients) and which are verified
//! (`gatepost_mail_auth_verify`; all other mail), the headers that adds,
//! what a failed DMARC check does (`gatepost_dmarc_enforce`), and which
//! verified messages get an ARC seal (`gatepost_arc_seal`).

use gatepost_config::{params, Config};
use gatepost_mailauth::{ArcSealing, DmarcAction, InboundResult, SigningKeys, SpfCheck};
use gatepost_queue::EnvelopeRecipient;
use gatepost_rewrite::AddressClass;
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

/// What `gatepost_arc_seal` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArcSealWhen {
    /// `no`: never.
    Never,
    /// `forwarded`: a verified message with a recipient in another domain
    /// (address class relay or default) after `virtual_alias_maps`.
    Forwarded,
    /// `all`: every verified message (forwarding by aliases and
    /// `.forward` happens at delivery, after the seal).
    All,
}

/// The service's mail authentication settings.
#[derive(Debug, Clone)]
pub struct MailAuthSettings {
    pub verify: bool,
    pub enforce: DmarcEnforce,
    pub signing: Option<SigningKeys>,
    pub mynetworks: NetworkList,
    pub arc_seal: ArcSealWhen,
    /// The sealer, when `arc_seal` is not `Never`.
    pub arc_sealing: Option<ArcSealing>,
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
        let verify = cfg.get(&params::GATEPOST_MAIL_AUTH_VERIFY);
        let (arc_seal, arc_sealing) = arc_settings(cfg, verify, signing.as_ref())?;
        Ok(MailAuthSettings {
            verify,
            enforce,
            signing,
            mynetworks,
            arc_seal,
            arc_sealing,
        })
    }
}

/// `gatepost_arc_seal` and its sealer: the verification results it
/// records need `gatepost_mail_auth_verify = yes`, and the key is the
/// `gatepost_dkim_signing_keys` entry of `gatepost_arc_domain`.
fn arc_settings(
    cfg: &Config,
    verify: bool,
    signing: Option<&SigningKeys>,
) -> Result<(ArcSealWhen, Option<ArcSealing>), String> {
    let when = match cfg
        .get(&params::GATEPOST_ARC_SEAL)
        .to_ascii_lowercase()
        .as_str()
    {
        "" | "no" => return Ok((ArcSealWhen::Never, None)),
        "forwarded" => ArcSealWhen::Forwarded,
        "all" => ArcSealWhen::All,
        other => {
            return Err(format!(
                "gatepost_arc_seal: bad value \"{other}\": expected no, forwarded or all"
            ))
        }
    };
    if !verify {
        return Err("gatepost_arc_seal needs gatepost_mail_auth_verify = yes".into());
    }
    let Some(keys) = signing else {
        return Err(
            "gatepost_arc_seal needs gatepost_dkim_signing_keys with a key for gatepost_arc_domain"
                .into(),
        );
    };
    let domain = cfg.get(&params::GATEPOST_ARC_DOMAIN);
    let sealing = ArcSealing::new(keys.clone(), &domain)
        .map_err(|e| format!("gatepost_arc_domain = {domain}: {e}"))?;
    Ok((when, Some(sealing)))
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

/// The headers to put above the message, DMARC's request, and the
/// verification an ARC seal records.
pub(crate) struct AuthOutcome<'h> {
    pub headers: String,
    pub dmarc: Option<(DmarcAction, String)>,
    pub verified: Option<InboundResult<'h>>,
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
    ) -> AuthOutcome<'_> {
        let myhostname = &self.ctx.settings.myhostname;
        let none = AuthOutcome {
            headers: String::new(),
            dmarc: None,
            verified: None,
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
                        verified: None,
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
                    headers: result.header.clone(),
                    dmarc,
                    verified: Some(result),
                }
            }
        }
    }

    /// The ARC set for `message` (the content as it will be queued) when
    /// `gatepost_arc_seal` asks for one; "" otherwise. A key that cannot be
    /// read is logged and the message goes on unsealed.
    pub(crate) fn arc_seal(
        &self,
        verified: &InboundResult<'_>,
        recipients: &[EnvelopeRecipient],
        message: &[u8],
    ) -> String {
        let auth = &self.ctx.mail_auth;
        let Some(sealing) = &auth.arc_sealing else {
            return String::new();
        };
        if auth.arc_seal == ArcSealWhen::Forwarded && !self.forwards_any(recipients) {
            return String::new();
        }
        match sealing.seal(message, verified) {
            Ok(set) => set.unwrap_or_default(),
            Err(e) => {
                gatepost_log::warning("smtpd", format!("ARC sealing: {e}"));
                String::new()
            }
        }
    }

    /// Whether a recipient, after `virtual_alias_maps`, is in another
    /// domain: the message leaves for another server.
    fn forwards_any(&self, recipients: &[EnvelopeRecipient]) -> bool {
        let rewriter = &self.ctx.rewriter;
        let given = recipients
            .iter()
            .map(|r| (r.address.as_str(), r.original.as_str()));
        let expanded = if self.ctx.no_address_mappings {
            recipients.iter().map(|r| r.address.clone()).collect()
        } else {
            match gatepost_cleanup::clean_recipients(&**rewriter, given) {
                Ok(list) => list.into_iter().map(|c| c.address).collect(),
                Err(_) => Vec::new(),
            }
        };
        expanded.iter().any(|address| {
            rewriter
                .resolve(address)
                .is_ok_and(|r| matches!(r.class, AddressClass::Relay | AddressClass::Default))
        })
    }
}
