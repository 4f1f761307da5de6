//! What becomes of a message after cleanup's content verdict, shared by
//! smtpd and pickup: `REDIRECT` replaces every recipient's address (each
//! keeps its original address, logged as `orig_to=`), `BCC` adds
//! recipients; and, for local submissions, a rejected message is queued
//! with every recipient already bounced, so that the queue manager sends
//! the non-delivery notice as Postfix's cleanup has its bounce service do.

use std::time::SystemTime;

use gatepost_cleanup::ContentVerdict;

use crate::envelope::EnvelopeRecipient;
use crate::queue_file::{Reason, StatusRecord};

/// `REDIRECT` and `BCC` applied to the envelope recipients.
pub fn apply_content_routing(recipients: &mut Vec<EnvelopeRecipient>, verdict: &ContentVerdict) {
    if let Some(to) = &verdict.redirect {
        for rcpt in recipients.iter_mut() {
            rcpt.address = to.clone();
        }
    }
    for bcc in &verdict.bcc {
        recipients.push(EnvelopeRecipient::new(bcc));
    }
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

    #[test]
    fn redirect_keeps_the_original_recipient() {
        let mut rcpts = vec![EnvelopeRecipient::new("a@x.test")];
        let v = ContentVerdict {
            redirect: Some("r@y.test".into()),
            bcc: vec!["b@z.test".into()],
            ..ContentVerdict::default()
        };
        apply_content_routing(&mut rcpts, &v);
        let got: Vec<(&str, &str)> = rcpts
            .iter()
            .map(|r| (r.address.as_str(), r.original.as_str()))
            .collect();
        assert_eq!(got, [("r@y.test", "a@x.test"), ("b@z.test", "b@z.test")]);
    }
}
