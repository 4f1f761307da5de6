//! The message envelope as stored in a queue file: sender, recipients (with
//! the original RCPT TO address and DSN NOTIFY/ORCPT), arrival time, the
//! submitting client, and DSN RET/ENVID (RFC 3461).

use std::time::SystemTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeRecipient {
    /// Address to deliver to (internal form, after cleanup rewriting).
    pub address: String,
    /// Original recipient as given in RCPT TO (for `orig_to=` and DSN).
    pub original: String,
    /// DSN NOTIFY= and ORCPT= when given.
    pub notify: Option<String>,
    pub orcpt: Option<String>,
}

impl EnvelopeRecipient {
    /// A recipient with no DSN options whose original address is the address.
    pub fn new(address: &str) -> EnvelopeRecipient {
        EnvelopeRecipient {
            address: address.to_string(),
            original: address.to_string(),
            notify: None,
            orcpt: None,
        }
    }

    /// Whether a failure of this recipient should be reported to the sender
    /// (RFC 3461 NOTIFY: absent means the default, FAILURE,DELAY).
    pub fn wants_failure_notice(&self) -> bool {
        match &self.notify {
            None => true,
            Some(n) => n
                .split(',')
                .any(|w| w.trim().eq_ignore_ascii_case("FAILURE")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Envelope sender, internal form; empty for the null sender.
    pub sender: String,
    pub recipients: Vec<EnvelopeRecipient>,
    pub arrival: SystemTime,
    /// `name[addr]` of the submitting client, or `local` for sendmail/pickup.
    pub client: String,
    /// DSN RET= and ENVID= when given.
    pub ret: Option<String>,
    pub envid: Option<String>,
    /// The after-queue content filter, `transport:nexthop`
    /// (`content_filter` or a `FILTER` action), recorded at receipt.
    pub filter: Option<String>,
}

#[cfg(test)]
impl Envelope {
    /// For the crate's tests: one recipient, no DSN options, arrived now
    /// from `local`.
    pub(crate) fn for_test(sender: &str, recipient: &str) -> Envelope {
        Envelope {
            sender: sender.into(),
            recipients: vec![EnvelopeRecipient::new(recipient)],
            arrival: SystemTime::now(),
            client: "local".into(),
            ret: None,
            envid: None,
            filter: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_failure() {
        let cases: &[(Option<&str>, bool)] = &[
            (None, true),
            (Some("NEVER"), false),
            (Some("SUCCESS,DELAY"), false),
            (Some("SUCCESS,FAILURE"), true),
            (Some("failure"), true),
        ];
        for (notify, want) in cases {
            let mut r = EnvelopeRecipient::new("a@b");
            r.notify = notify.map(str::to_string);
            assert_eq!(r.wants_failure_notice(), *want, "{notify:?}");
        }
    }
}
