//! ARC (RFC 8617): the chain a message arrived with, as verification found
//! it, and the set gatepost adds when it forwards the message
//! (`gatepost_arc_seal`): `ARC-Seal`, `ARC-Message-Signature` and
//! `ARC-Authentication-Results`, signed with the `gatepost_dkim_signing_keys`
//! key of `gatepost_arc_domain`.

use crate::inbound::{crlf, lf, InboundResult};
use crate::signing::{DomainKey, SigningError, SigningKeys, SIGNED_HEADERS};
use mail_auth::arc::{ArcSealer, Set};
use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::{Header, HeaderWriter};
use mail_auth::dkim::{Canonicalization, Done};
use mail_auth::{ArcOutput, AuthenticatedMessage, DkimResult};

/// At most 50 ARC sets (RFC 8617 section 4.2.1).
const MAX_SETS: usize = 50;

/// The chain as it arrived: the validation result and how many sets.
#[derive(Debug, Clone)]
pub(crate) struct ArcArrival {
    result: DkimResult,
    sets: usize,
}

impl ArcArrival {
    pub(crate) fn of(arc: &ArcOutput<'_>) -> ArcArrival {
        ArcArrival {
            result: arc.result().clone(),
            sets: arc.sets().len(),
        }
    }

    /// The result for `Authentication-Results:`: RFC 8617 section 10.1
    /// knows `none`, `pass` and `fail`.
    pub(crate) fn name(&self) -> &'static str {
        match self.result {
            DkimResult::Pass => "pass",
            DkimResult::None => "none",
            _ => "fail",
        }
    }

    /// `arc` with mail-auth's other results (neutral, permerror,
    /// temperror) written as `fail`.
    pub(crate) fn for_header<'x>(&self, arc: &ArcOutput<'x>) -> ArcOutput<'x> {
        match &self.result {
            DkimResult::Neutral(e) | DkimResult::PermError(e) | DkimResult::TempError(e) => {
                arc.clone().with_result(DkimResult::Fail(e.clone()))
            }
            _ => arc.clone(),
        }
    }
}

/// The sealer: `gatepost_arc_domain` and the key table.
#[derive(Debug, Clone)]
pub struct ArcSealing {
    keys: SigningKeys,
    domain: String,
}

impl ArcSealing {
    /// Seal as `domain`, whose entry in `keys` must exist.
    pub fn new(keys: SigningKeys, domain: &str) -> Result<ArcSealing, SigningError> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if !keys.has_entry(&domain)? {
            return Err(keys.no_key(&domain));
        }
        Ok(ArcSealing { keys, domain })
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The ARC set (LF line ends, ending in LF) to put above `message`,
    /// the content as it will be queued (below the set goes the
    /// `Authentication-Results:` header, which the set repeats). `None`
    /// when the chain must not or cannot be continued: its last seal says
    /// `cv=fail`, it has 50 sets, it is broken in a way that leaves no
    /// instance number, or a DNS failure left its validation undecided
    /// (the next hop can validate it itself).
    pub fn seal(
        &self,
        message: &[u8],
        verified: &InboundResult<'_>,
    ) -> Result<Option<String>, SigningError> {
        let Some(basis) = &verified.seal_basis else {
            return Ok(None);
        };
        if matches!(basis.arrival.result, DkimResult::TempError(_)) {
            return Ok(None);
        }
        let raw = crlf(message);
        let Some(msg) = AuthenticatedMessage::parse(&raw) else {
            return Ok(None);
        };
        let Some(chain) = chain_of(&msg, basis.arrival.sets) else {
            return Ok(None);
        };
        let chain = chain.with_result(basis.arrival.result.clone());
        if !chain.can_be_sealed() {
            return Ok(None);
        }
        let Some((selector, key)) = self.keys.key_for(&self.domain)? else {
            return Err(self.keys.no_key(&self.domain));
        };
        // RFC 8617 section 4.1.3 defines rsa-sha256 only; receivers do not
        // know ed25519-sha256 seals.
        let key = match key {
            DomainKey::Rsa(key) => key,
            DomainKey::Ed25519(_) => {
                return Err(SigningError::Sign {
                    domain: self.domain.clone(),
                    reason: "ARC seals are rsa-sha256 only (RFC 8617): the key is Ed25519".into(),
                })
            }
        };
        let sealed = sealer(key, &self.domain, &selector)
            .seal(&msg, &basis.results, &chain)
            .map(|set| set.to_header());
        match sealed {
            Ok(set) => Ok(Some(lf(&set))),
            Err(e) => Err(SigningError::Sign {
                domain: self.domain.clone(),
                reason: format!("ARC seal: {e}"),
            }),
        }
    }
}

/// The ARC sets of `msg` in instance order, when they are whole, numbered
/// 1 to N, as many as verification saw (`arrived`) and fewer than 50.
fn chain_of<'x>(msg: &'x AuthenticatedMessage<'x>, arrived: usize) -> Option<ArcOutput<'x>> {
    let n = msg.as_headers.len();
    if msg.has_arc_errors
        || n != arrived
        || n >= MAX_SETS
        || msg.ams_headers.len() != n
        || msg.aar_headers.len() != n
    {
        return None;
    }
    let mut chain = ArcOutput::default();
    let sets = msg
        .as_headers
        .iter()
        .zip(&msg.ams_headers)
        .zip(&msg.aar_headers);
    for (pos, ((seal, signature), results)) in sets.enumerate() {
        let i = pos as u32 + 1;
        if seal.header.i != i || signature.header.i != i || results.header.i != i {
            return None;
        }
        chain = chain.with_set(Set {
            signature: Header::new(signature.name, signature.value, &signature.header),
            seal: Header::new(seal.name, seal.value, &seal.header),
            results: Header::new(results.name, results.value, &results.header),
        });
    }
    Some(chain)
}

/// The sealer: the DKIM signing headers and the DKIM signatures,
/// relaxed/relaxed.
fn sealer(key: RsaKey<Sha256>, domain: &str, selector: &str) -> ArcSealer<RsaKey<Sha256>, Done> {
    ArcSealer::from_key(key)
        .domain(domain)
        .selector(selector)
        .headers(SIGNED_HEADERS.iter().copied().chain(["DKIM-Signature"]))
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
}
