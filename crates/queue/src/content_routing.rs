//! What becomes of a message after cleanup's content verdict, shared by
//! smtpd and pickup: `BCC` adds recipients, `REDIRECT` sends the message
//! once to its address instead (keeping one original recipient, logged as
//! `orig_to=`), and [`content_filter`] decides the after-queue filter the
//! message is recorded with; and, for local submissions, a rejected
//! message is queued with every recipient already bounced, so that the
//! queue manager sends the non-delivery notice as Postfix's cleanup has
//! its bounce service do.

use std::time::SystemTime;

use gatepost_cleanup::ContentVerdict;

use crate::envelope::EnvelopeRecipient;
use crate::queue_file::{Reason, StatusRecord};

/// `BCC` and `REDIRECT` applied to the envelope recipients. A redirect
/// (`access_redirect`, an access table's, unless the header/body checks
/// name one: the last wins) overrides all else, as in qmgr(8): the message
/// goes once to that address, in the place of the recipient qmgr(8) sorts
/// first (by domain, then address), whose original address is kept; every
/// other recipient, `BCC` ones included, is dropped.
pub fn apply_content_routing(
    recipients: &mut Vec<EnvelopeRecipient>,
    access_redirect: Option<&str>,
    verdict: &ContentVerdict,
) {
    for bcc in &verdict.bcc {
        recipients.push(EnvelopeRecipient::new(bcc));
    }
    let Some(to) = verdict.redirect.as_deref().or(access_redirect) else {
        return;
    };
    let domain = |r: &EnvelopeRecipient| r.address.rsplit_once('@').map(|(_, d)| d.to_lowercase());
    // Postfix sorts addresses without a domain last.
    let first = recipients
        .iter()
        .min_by(|a, b| {
            (domain(a).is_none(), domain(a), &a.address).cmp(&(
                domain(b).is_none(),
                domain(b),
                &b.address,
            ))
        })
        .cloned();
    *recipients = first
        .map(|rcpt| EnvelopeRecipient {
            address: to.to_string(),
            ..rcpt
        })
        .into_iter()
        .collect();
}

/// The after-queue filter (`transport:destination`) a message is recorded
/// with. Postfix writes one filter record per source and qmgr(8) keeps the
/// last it reads: `content_filter` (`recorded`, already replaced by an
/// access table's `FILTER` in smtpd), then a header/body check's `FILTER`.
/// A `REDIRECT` (of an access table, `redirected`, or of a header/body
/// check) overrides them all: qmgr(8) resolves the redirect address as any
/// other and ignores the filter.
pub fn content_filter(
    recorded: Option<String>,
    redirected: bool,
    verdict: &ContentVerdict,
) -> Option<String> {
    if redirected || verdict.redirect.is_some() {
        return None;
    }
    verdict.filter.clone().or(recorded)
}

/// The status records of a rejected local submission, each recipient's
/// bounce logged as Postfix's cleanup logs it
/// (`ID: to=<..>, relay=none, delay=.., delays=../0/0/0, dsn=5.7.1, status=bounced (text)`).
pub(crate) fn bounce_all(
    queue_id: &str,
    recipients: &[EnvelopeRecipient],
    reason: &str,
    arrival: SystemTime,
) -> Vec<StatusRecord> {
    let (dsn, text) = reason.split_once(' ').unwrap_or((reason, ""));
    let delay = SystemTime::now()
        .duration_since(arrival)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let delay = gatepost_log::format_delay(delay);
    recipients
        .iter()
        .enumerate()
        .map(|(i, rcpt)| {
            let orig = if rcpt.original != rcpt.address {
                format!(", orig_to=<{}>", rcpt.original)
            } else {
                String::new()
            };
            gatepost_log::info(
                "cleanup",
                gatepost_log::sanitize(&format!(
                    "{queue_id}: to=<{}>{orig}, relay=none, delay={delay}, delays={delay}/0/0/0, dsn={dsn}, status=bounced ({text})",
                    rcpt.address
                )),
            );
            StatusRecord::Bounced(Reason {
                recipient: i,
                dsn: dsn.to_string(),
                agent: "cleanup".into(),
                relay: "none".into(),
                text: text.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(rcpts: &[EnvelopeRecipient]) -> Vec<(&str, &str)> {
        rcpts
            .iter()
            .map(|r| (r.address.as_str(), r.original.as_str()))
            .collect()
    }

    #[test]
    fn bcc_adds_a_recipient() {
        let mut rcpts = vec![EnvelopeRecipient::new("a@x.test")];
        let v = ContentVerdict {
            bcc: vec!["b@z.test".into()],
            ..ContentVerdict::default()
        };
        apply_content_routing(&mut rcpts, None, &v);
        assert_eq!(
            addresses(&rcpts),
            [("a@x.test", "a@x.test"), ("b@z.test", "b@z.test")]
        );
    }

    /// As Postfix 3.7 delivers it: `to=<r@y.test>, orig_to=<bcc@b.test>`
    /// for recipients u1@far.test and u2@far.test and `BCC bcc@b.test`.
    #[test]
    fn redirect_goes_once_in_the_place_of_the_first_sorted_recipient() {
        let rcpts = || {
            vec![
                EnvelopeRecipient::new("u2@far.test"),
                EnvelopeRecipient::new("u1@far.test"),
            ]
        };
        let mut v = ContentVerdict {
            redirect: Some("r@y.test".into()),
            ..ContentVerdict::default()
        };
        let mut got = rcpts();
        apply_content_routing(&mut got, None, &v);
        assert_eq!(addresses(&got), [("r@y.test", "u1@far.test")]);
        v.bcc = vec!["bcc@b.test".into()];
        let mut got = rcpts();
        apply_content_routing(&mut got, None, &v);
        assert_eq!(addresses(&got), [("r@y.test", "bcc@b.test")]);
        // An access table's redirect, unless the content names another.
        let mut got = rcpts();
        apply_content_routing(&mut got, Some("a@y.test"), &ContentVerdict::default());
        assert_eq!(addresses(&got), [("a@y.test", "u1@far.test")]);
        let mut got = rcpts();
        apply_content_routing(&mut got, Some("a@y.test"), &v);
        assert_eq!(addresses(&got), [("r@y.test", "bcc@b.test")]);
    }

    #[test]
    fn the_last_filter_wins_and_a_redirect_overrides_it() {
        let main_cf = || Some("smtp:[127.0.0.1]:10024".to_string());
        let mut v = ContentVerdict::default();
        assert_eq!(content_filter(main_cf(), false, &v), main_cf());
        v.filter = Some("amavis:[127.0.0.1]:10026".into());
        assert_eq!(
            content_filter(main_cf(), false, &v).as_deref(),
            Some("amavis:[127.0.0.1]:10026")
        );
        assert_eq!(content_filter(main_cf(), true, &v), None);
        v.redirect = Some("r@y.test".into());
        assert_eq!(content_filter(main_cf(), false, &v), None);
    }
}
