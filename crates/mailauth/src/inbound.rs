//! DKIM verification, ARC chain validation and DMARC evaluation of a
//! received message (RFC 6376, RFC 8617, RFC 7489) and its
//! `Authentication-Results:` header (RFC 8601), with the SPF result of the
//! same transaction; what a sealer needs of them (`arc`).

use crate::arc::ArcArrival;
use crate::bridge::{authenticator, evaluate};
use crate::dmarc_policy::{failed_policy, AppliedPolicy};
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

/// The outcome of [`verify_inbound`]; `'h` is the authserv-id's
/// (`$myhostname`) lifetime, kept for an ARC seal of the same results.
#[derive(Debug, Clone)]
pub struct InboundResult<'h> {
    /// `Authentication-Results: ...` with LF line ends, ending in LF.
    pub header: String,
    /// The From: domain (RFC 5322), "" when the message has none.
    pub from_domain: String,
    /// `pass`, `fail`, `none`, `temperror`, `permerror`.
    pub dmarc: &'static str,
    /// `pass`, `fail`, `none`, ... of the first DKIM signature.
    pub dkim: &'static str,
    /// `pass`, `fail` or `none`: the ARC chain the message arrived with.
    pub arc: &'static str,
    pub action: DmarcAction,
    /// The results and chain state an ARC seal records (`None` when the
    /// message could not be parsed).
    pub(crate) seal_basis: Option<SealBasis<'h>>,
}

/// What [`crate::ArcSealing::seal`] needs of the verification.
#[derive(Debug, Clone)]
pub(crate) struct SealBasis<'h> {
    pub results: AuthenticationResults<'h>,
    pub arrival: ArcArrival,
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

/// Verify the DKIM signatures and the ARC chain of `message`, evaluate
/// DMARC for its From: domain with them and `spf`, and write the header
/// for `myhostname`.
pub async fn verify_inbound<'h>(
    resolver: &Resolver,
    client: IpAddr,
    spf: &SpfVerdict,
    message: &[u8],
    myhostname: &'h str,
) -> InboundResult<'h> {
    let raw = crlf(message);
    let Some(auth) = authenticator() else {
        return unparsable(spf, myhostname);
    };
    let mail_from_domain = spf
        .identity()
        .rsplit_once('@')
        .map(|(_, d)| d.to_string())
        .unwrap_or_default();
    let evaluated = evaluate(resolver, client, |caches| {
        let (raw, mail_from_domain) = (&raw, mail_from_domain.clone());
        async move {
            let msg = AuthenticatedMessage::parse(raw)?;
            let dkim = auth.verify_dkim(caches.params(&msg)).await;
            let arc = auth.verify_arc(caches.params(&msg)).await;
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
            let arrival = ArcArrival::of(&arc);
            let results = spf
                .add_to(AuthenticationResults::new(myhostname).with_dkim_results(&dkim, msg.from()))
                .with_arc_result(&arrival.for_header(&arc), client)
                .with_dmarc_result(&dmarc);
            let dmarc_result = dmarc.result();
            let applied = match dmarc_result {
                DmarcResult::Fail(_) => AppliedPolicy::of(&dmarc, &caches),
                _ => None,
            };
            Some((
                InboundResult {
                    header: lf(&results.to_header()),
                    from_domain,
                    dmarc: dmarc_name(&dmarc_result),
                    dkim: dkim.first().map_or("none", |d| dkim_name(d.result())),
                    arc: arrival.name(),
                    action: DmarcAction::None,
                    seal_basis: Some(SealBasis { results, arrival }),
                },
                applied,
            ))
        }
    })
    .await;
    let Some((mut result, applied)) = evaluated else {
        return unparsable(spf, myhostname);
    };
    if let Some(applied) = applied {
        result.action = match failed_policy(resolver, &result.from_domain, &applied).await {
            Policy::Reject => DmarcAction::Reject,
            Policy::Quarantine => DmarcAction::Quarantine,
            Policy::None | Policy::Unspecified => DmarcAction::None,
        };
    }
    result
}

/// A message mail-auth cannot parse: SPF alone.
fn unparsable<'h>(spf: &SpfVerdict, myhostname: &'h str) -> InboundResult<'h> {
    InboundResult {
        header: spf.header(myhostname),
        from_domain: String::new(),
        dmarc: "none",
        dkim: "none",
        arc: "none",
        action: DmarcAction::None,
        seal_basis: None,
    }
}
