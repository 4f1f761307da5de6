//! The policy a failed DMARC check asks for, with the two tags mail-auth
//! leaves to its caller: `pct=` (RFC 7489 section 6.6.4: the policy is
//! applied to that percentage of failing mail, the rest gets the next
//! lower policy; mail-auth 0.13 follows the DMARCbis draft, which replaced
//! it by `t=y`) and `np=` (RFC 9091: the policy for a From: domain that
//! does not exist, which mail-auth learns from an NXDOMAIN answer that the
//! bridge's address cache has no way to give).

use crate::bridge::Caches;
use gatepost_dns::{DnsResult, Resolver};
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::dmarc::{Dmarc, Policy};
use mail_auth::DmarcOutput;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

/// The record that decided, as mail-auth applied it.
#[derive(Debug, Clone)]
pub(crate) struct AppliedPolicy {
    /// mail-auth's choice of `p=` or `sp=` (`t=y` applied).
    policy: Policy,
    record: Arc<Dmarc>,
    /// The record is the From: domain's own (`p=`), not its
    /// organizational domain's (`sp=`, `np=`).
    at_author: bool,
    /// `pct=`, 100 when absent or not a number from 0 to 100.
    pct: u8,
}

impl AppliedPolicy {
    /// The policy of a failed evaluation and the text of its record, which
    /// the bridge kept; `None` without a record.
    pub(crate) fn of(dmarc: &DmarcOutput, caches: &Caches) -> Option<AppliedPolicy> {
        let record = dmarc.dmarc_record_cloned()?;
        let author = format!("_dmarc.{}", dmarc.domain().trim_end_matches('.'));
        let parses_as_record =
            |text: &String| Dmarc::parse(text.as_bytes()).is_ok_and(|d| d == *record);
        let texts = caches.dmarc_texts();
        let at_author = texts
            .iter()
            .any(|(name, t)| name.eq_ignore_ascii_case(&author) && t.iter().any(parses_as_record));
        // The author's record when it has one, else the one mail-auth found
        // above it (organizational or public suffix domain).
        let text = texts
            .iter()
            .filter(|(name, _)| at_author == name.eq_ignore_ascii_case(&author))
            .flat_map(|(_, t)| t.iter())
            .find(|t| parses_as_record(t));
        Some(AppliedPolicy {
            policy: dmarc.policy(),
            record,
            at_author,
            pct: text.map_or(100, |t| pct(t)),
        })
    }
}

/// The `pct=` tag of a record's text: 0 to 100, else 100 (RFC 7489
/// section 6.3: the default, and a tag that does not parse is ignored).
fn pct(text: &str) -> u8 {
    text.split(';')
        .filter_map(|tag| tag.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("pct"))
        .and_then(|(_, v)| v.trim().parse::<u8>().ok())
        .filter(|p| *p <= 100)
        .unwrap_or(100)
}

/// One level less: reject → quarantine → none.
fn lower(policy: Policy) -> Policy {
    match policy {
        Policy::Reject => Policy::Quarantine,
        Policy::Quarantine => Policy::None,
        other => other,
    }
}

/// Whether this message is in the `pct` percent the policy applies to.
fn sampled(pct: u8) -> bool {
    match pct {
        100.. => true,
        0 => false,
        _ => {
            let draw = RandomState::new().hash_one(std::time::SystemTime::now()) % 100;
            draw < u64::from(pct)
        }
    }
}

/// What the policy asks for a message that failed DMARC: `np=` when the
/// From: domain does not exist (and its record is not its own), then
/// `pct=` sampling (not with `t=y`, which mail-auth already applied: a
/// record that says both means one thing).
pub(crate) async fn failed_policy(
    resolver: &Resolver,
    from_domain: &str,
    applied: &AppliedPolicy,
) -> Policy {
    let record = &applied.record;
    let mut policy = applied.policy;
    if !applied.at_author
        && record.np != record.sp
        && matches!(resolver.a(from_domain).await, DnsResult::NxDomain(_))
    {
        policy = if record.t {
            lower(record.np)
        } else {
            record.np
        };
    }
    if !record.t && !sampled(applied.pct) {
        policy = lower(policy);
    }
    policy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pct_tag() {
        assert_eq!(pct("v=DMARC1; p=reject"), 100);
        assert_eq!(pct("v=DMARC1; p=reject; pct=0"), 0);
        assert_eq!(pct("v=DMARC1; p=reject; PCT = 25 ;"), 25);
        assert_eq!(pct("v=DMARC1; p=reject; pct=250"), 100);
        assert_eq!(pct("v=DMARC1; p=reject; pct=x"), 100);
    }

    #[test]
    fn sampling_bounds() {
        assert!(sampled(100));
        assert!(!sampled(0));
        assert_eq!(lower(Policy::Reject), Policy::Quarantine);
        assert_eq!(lower(Policy::Quarantine), Policy::None);
        assert_eq!(lower(Policy::None), Policy::None);
    }
}
