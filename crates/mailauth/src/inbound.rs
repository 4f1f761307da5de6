//! DKIM verification and DMARC evaluation of a received message (RFC 6376,
//! RFC 7489) and its `Authentication-Results:` header (RFC 8601), with the
//! SPF result of the same transaction.

use crate::bridge::{authenticator, evaluate};
use crate::spf::SpfVerdict;
use gatepost_dns::Resolver;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::dmarc::Policy;
use mail_auth::AuthenticationResults;
use mail_auth::{AuthenticatedMessage, DkimResult, DmarcResult};
use std::net::IpAddr;

/// What the From: domain's DMARC policy asks for this message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcAction {
    /// DMARC passed, or there is no policy, or the policy is `p=none`.
    None,
    Quarantine,
    Reject,
}

/// The outcome of [`verify_inbound`].
#[derive(Debug, Clone)]
pub struct InboundResult {
    /// `Authentication-Results: ...` with LF line ends, ending in LF.
    pub header: String,
    /// The From: domain (RFC 5322), "" when the message has none.
    pub from_domain: String,
    /// `pass`, `fail`, `none`, `temperror`, `permerror`.
    pub dmarc: &'static str,
    /// `pass`, `fail`, `none`, ... of the first DKIM signature.
    pub dkim: &'static str,
    pub action: DmarcAction,
}

/// A header as mail-auth writes it (CRLF) in the queue's LF form.
pub(crate) fn lf(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// The message with CRLF line ends, as RFC 5322 and DKIM see it.
pub(crate) fn crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 30);
    let mut prev = 0u8;
    for &b in message {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

fn dmarc_name(r: &DmarcResult) -> &'static str {
    match r {
        DmarcResult::Pass => "pass",
        DmarcResult::Fail(_) => "fail",
        DmarcResult::TempError(_) => "temperror",
        DmarcResult::PermError(_) => "permerror",
        DmarcResult::None => "none",
    }
}

fn dkim_name(r: &DkimResult) -> &'static str {
    match r {
        DkimResult::Pass => "pass",
        DkimResult::Neutral(_) => "neutral",
        DkimResult::Fail(_) => "fail",
        DkimResult::PermError(_) => "permerror",
        DkimResult::TempError(_) => "temperror",
        DkimResult::None => "none",
    }
}

/// Verify the DKIM signatures of `message`, evaluate DMARC for its From:
/// domain with them and `spf`, and write the header for `myhostname`.
pub async fn verify_inbound(
    resolver: &Resolver,
    client: IpAddr,
    spf: &SpfVerdict,
    message: &[u8],
    myhostname: &str,
) -> InboundResult {
    let raw = crlf(message);
    let Some(auth) = authenticator() else {
        return unparsable(spf, myhostname);
    };
    let mail_from_domain = spf
        .identity()
        .rsplit_once('@')
        .map(|(_, d)| d.to_string())
        .unwrap_or_default();
    let result = evaluate(resolver, client, |caches| {
        let (raw, mail_from_domain) = (&raw, mail_from_domain.clone());
        async move {
            let msg = AuthenticatedMessage::parse(raw)?;
            let dkim = auth.verify_dkim(caches.params(&msg)).await;
            let dmarc = auth
                .verify_dmarc(caches.params(DmarcParameters::new(
                    &msg,
                    &dkim,
                    &mail_from_domain,
                    spf.output(),
                )))
                .await;
            let from_domain = msg
                .from()
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase())
                .unwrap_or_default();
            let header = spf
                .add_to(AuthenticationResults::new(myhostname).with_dkim_results(&dkim, msg.from()))
                .with_dmarc_result(&dmarc)
                .to_header();
            let dmarc_result = dmarc.result();
            let action = match (&dmarc_result, dmarc.policy()) {
                (DmarcResult::Fail(_), Policy::Reject) => DmarcAction::Reject,
                (DmarcResult::Fail(_), Policy::Quarantine) => DmarcAction::Quarantine,
                _ => DmarcAction::None,
            };
            Some(InboundResult {
                header: lf(&header),
                from_domain,
                dmarc: dmarc_name(&dmarc_result),
                dkim: dkim.first().map_or("none", |d| dkim_name(d.result())),
                action,
            })
        }
    })
    .await;
    result.unwrap_or_else(|| unparsable(spf, myhostname))
}

/// A message mail-auth cannot parse: SPF alone.
fn unparsable(spf: &SpfVerdict, myhostname: &str) -> InboundResult {
    InboundResult {
        header: spf.header(myhostname),
        from_domain: String::new(),
        dmarc: "none",
        dkim: "none",
        action: DmarcAction::None,
    }
}
