//! What smtpd makes of cleanup's content verdict (header_checks,
//! body_checks, MIME errors) at the end of DATA, as Postfix's smtpd
//! answers cleanup's status: a rejection is `550 <reason>` (a `4.x.x`
//! reason `451`), a table failure `451 4.3.0 Error: queue file write
//! error`; `DISCARD` is answered `250` and nothing is queued (`HOLD`,
//! `REDIRECT`, `BCC` and `FILTER` are applied when the message is queued).

use gatepost_cleanup::ContentVerdict;
use gatepost_proto::Reply;

/// The reply that ends the transaction without queueing, if any.
pub(crate) fn refusal(verdict: &ContentVerdict) -> Option<Reply> {
    if verdict.lookup_failed {
        return Some(Reply::new(451, "4.3.0", "Error: queue file write error"));
    }
    if let Some(reason) = &verdict.reject {
        let (dsn, text) = reason.split_once(' ').unwrap_or((reason.as_str(), ""));
        let code = if dsn.starts_with('4') { 451 } else { 550 };
        return Some(Reply::new(code, dsn, text));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        let mut v = ContentVerdict::default();
        assert_eq!(refusal(&v), None);
        v.reject = Some("5.7.1 no thanks".into());
        assert_eq!(
            refusal(&v).map(|r| r.to_wire()),
            Some("550 5.7.1 no thanks\r\n".into())
        );
        v.reject = Some("4.7.0 try later".into());
        assert_eq!(
            refusal(&v).map(|r| r.to_wire()),
            Some("451 4.7.0 try later\r\n".into())
        );
    }
}
