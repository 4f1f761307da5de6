//! The per-recipient delivery log line (qmgr(8), docs/logging.md#queue-and-delivery-lines):
//! `ID: to=<R>[, orig_to=<O>], relay=RELAY, delay=D, delays=a/b/c/d,
//! dsn=X.Y.Z, status=sent|deferred|bounced (TEXT)`, logged under the
//! delivery agent's program name. Rendering is a pure function.

use gatepost_log::{format_delay, sanitize};
use gatepost_queue::{EnvelopeRecipient, QueueId};

/// The four `delays=a/b/c/d` components, in seconds: before the active
/// queue, in the active queue, connection setup, transmission.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Delays {
    pub before_active: f64,
    pub in_active: f64,
    pub conn_setup: f64,
    pub transmission: f64,
}

impl Delays {
    /// Total delay (`delay=`).
    pub fn total(&self) -> f64 {
        self.before_active + self.in_active + self.conn_setup + self.transmission
    }
}

/// One delivery log line.
#[derive(Debug, Clone)]
pub struct DeliveryLine<'a> {
    pub id: &'a QueueId,
    pub recipient: &'a EnvelopeRecipient,
    pub relay: &'a str,
    pub delays: Delays,
    pub dsn: &'a str,
    /// `sent`, `deferred`, `bounced`.
    pub status: &'a str,
    pub text: &'a str,
}

impl DeliveryLine<'_> {
    /// Render the line (without syslog prefix) exactly as Postfix does.
    pub fn render(&self) -> String {
        let r = self.recipient;
        let mut line = format!("{}: to=<{}>", self.id, sanitize(&r.address));
        // orig_to appears only when it differs from to.
        if !r.original.is_empty() && r.original != r.address {
            line.push_str(&format!(", orig_to=<{}>", sanitize(&r.original)));
        }
        let d = &self.delays;
        line.push_str(&format!(
            ", relay={}, delay={}, delays={}/{}/{}/{}, dsn={}, status={} ({})",
            sanitize(self.relay),
            format_delay(d.total()),
            format_delay(d.before_active),
            format_delay(d.in_active),
            format_delay(d.conn_setup),
            format_delay(d.transmission),
            self.dsn,
            self.status,
            sanitize(self.text)
        ));
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_match_postfix() {
        let id = QueueId("5562DBE20B".into());
        let mut aliased = EnvelopeRecipient::new("root@spec.test");
        aliased.original = "bob@valias.test".into();
        let plain = EnvelopeRecipient::new("someone@relay.test");
        let cases = [
            (
                &aliased,
                "local",
                Delays { before_active: 33.0, in_active: 0.01, conn_setup: 0.0, transmission: 0.0 },
                "2.0.0",
                "sent",
                "delivered to mailbox",
                "5562DBE20B: to=<root@spec.test>, orig_to=<bob@valias.test>, relay=local, delay=33, delays=33/0.01/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
            ),
            (
                &plain,
                "none",
                Delays { before_active: 12.0, ..Delays::default() },
                "4.4.1",
                "deferred",
                "connect to 127.0.0.1[127.0.0.1]:9: Connection refused",
                "5562DBE20B: to=<someone@relay.test>, relay=none, delay=12, delays=12/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:9: Connection refused)",
            ),
            (
                &plain,
                "mx[1.2.3.4]:25",
                Delays { before_active: 0.2, in_active: 0.01, conn_setup: 0.0, transmission: 1.5 },
                "5.1.1",
                "bounced",
                "host mx[1.2.3.4] said: 550 5.1.1 no such user (in reply to RCPT TO command)",
                "5562DBE20B: to=<someone@relay.test>, relay=mx[1.2.3.4]:25, delay=1.7, delays=0.2/0.01/0/1.5, dsn=5.1.1, status=bounced (host mx[1.2.3.4] said: 550 5.1.1 no such user (in reply to RCPT TO command))",
            ),
        ];
        for (rcpt, relay, delays, dsn, status, text, want) in cases {
            let line = DeliveryLine {
                id: &id,
                recipient: rcpt,
                relay,
                delays,
                dsn,
                status,
                text,
            };
            assert_eq!(line.render(), want);
        }
    }
}
