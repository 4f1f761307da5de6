//! Delivery verdicts: the status, enhanced status code and reason text of
//! one delivery attempt, before it is tagged with the agent and relay names
//! for the queue manager's log line (`dsn=X.Y.Z, status=sent (TEXT)`).
//!
//! Mirrors Postfix's `dsn_split()` (a reason text may start with its own
//! `X.Y.Z` code) and the class checks of `bounce_append()` /
//! `defer_append()`: a bounce always carries a 5.X.X code and a deferral a
//! 4.X.X code, whatever the text said.

use gatepost_qmgr::{DeliveryOutcome, DeliveryStatus};

/// The result of delivering to one recipient (or one alias target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub status: DeliveryStatus,
    pub dsn: String,
    pub text: String,
}

impl Verdict {
    pub fn sent(dsn: &str, text: impl Into<String>) -> Verdict {
        Verdict {
            status: DeliveryStatus::Sent,
            dsn: class_dsn(dsn, '2', "2.0.0"),
            text: text.into(),
        }
    }

    pub fn deferred(dsn: &str, text: impl Into<String>) -> Verdict {
        Verdict {
            status: DeliveryStatus::Deferred,
            dsn: class_dsn(dsn, '4', "4.0.0"),
            text: text.into(),
        }
    }

    pub fn bounced(dsn: &str, text: impl Into<String>) -> Verdict {
        Verdict {
            status: DeliveryStatus::Bounced,
            dsn: class_dsn(dsn, '5', "5.0.0"),
            text: text.into(),
        }
    }

    /// Tag the verdict for the queue manager.
    pub fn into_outcome(self, recipient: usize, agent: &str, relay: &str) -> DeliveryOutcome {
        DeliveryOutcome {
            recipient,
            status: self.status,
            agent: agent.to_string(),
            relay: relay.to_string(),
            dsn: self.dsn,
            text: self.text,
        }
    }

    /// How bad a status is when several alias targets are combined: a
    /// deferral keeps the recipient queued, so it wins over a bounce.
    pub fn severity(&self) -> u8 {
        match self.status {
            DeliveryStatus::Sent => 0,
            DeliveryStatus::Bounced => 1,
            DeliveryStatus::Deferred => 2,
        }
    }
}

/// Keep `dsn` when it is valid and of the wanted class, else use `fallback`.
fn class_dsn(dsn: &str, class: char, fallback: &str) -> String {
    if dsn_valid(dsn) && dsn.starts_with(class) {
        dsn.to_string()
    } else {
        fallback.to_string()
    }
}

/// Postfix `dsn_valid()`: `[245].[0-9]{1,3}.[0-9]{1,3}`.
pub(crate) fn dsn_valid(dsn: &str) -> bool {
    let mut parts = dsn.split('.');
    let (Some(class), Some(subject), Some(detail), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let digits = |s: &str| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    matches!(class, "2" | "4" | "5") && digits(subject) && digits(detail)
}

/// Postfix `dsn_split()`: when `text` starts with a valid `X.Y.Z` followed by
/// whitespace or the end, return that code and the rest of the text (leading
/// whitespace removed); otherwise `default_dsn` and the whole text.
pub(crate) fn dsn_split<'a>(default_dsn: &'a str, text: &'a str) -> (&'a str, &'a str) {
    let trimmed = text.trim_start();
    let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
    let (head, rest) = trimmed.split_at(end);
    if dsn_valid(head) {
        (head, rest.trim_start())
    } else {
        (default_dsn, text)
    }
}

/// Combine the verdicts of all targets one recipient expanded into (alias
/// expansion): the worst status wins; the text is the common text when all
/// worst-status targets agree, else `target: text` pairs joined by `; `.
pub(crate) fn combine(parts: Vec<(String, Verdict)>) -> Option<Verdict> {
    let worst = parts.iter().map(|(_, v)| v.severity()).max()?;
    let chosen: Vec<(String, Verdict)> = parts
        .into_iter()
        .filter(|(_, v)| v.severity() == worst)
        .collect();
    let first = chosen.first()?.1.clone();
    if chosen.iter().all(|(_, v)| v.text == first.text) {
        return Some(first);
    }
    let text = chosen
        .iter()
        .map(|(target, v)| format!("{target}: {}", v.text))
        .collect::<Vec<_>>()
        .join("; ");
    Some(Verdict { text, ..first })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_validity() {
        for (dsn, ok) in [
            ("2.0.0", true),
            ("5.1.1", true),
            ("4.123.999", true),
            ("3.0.0", false),
            ("5.1", false),
            ("5.1.1.1", false),
            ("5.1000.1", false),
            ("5..1", false),
            ("x.1.1", false),
        ] {
            assert_eq!(dsn_valid(dsn), ok, "{dsn}");
        }
    }

    #[test]
    fn dsn_split_table() {
        for (text, code, rest) in [
            (
                "5.1.1 User unknown in virtual alias table",
                "5.1.1",
                "User unknown in virtual alias table",
            ),
            ("no relay in test", "5.0.0", "no relay in test"),
            ("4.7.1   try later", "4.7.1", "try later"),
            ("5.1.1", "5.1.1", ""),
            ("5.1.1x text", "5.0.0", "5.1.1x text"),
        ] {
            assert_eq!(dsn_split("5.0.0", text), (code, rest), "{text}");
        }
    }

    #[test]
    fn class_is_enforced() {
        assert_eq!(Verdict::bounced("4.1.1", "x").dsn, "5.0.0");
        assert_eq!(Verdict::deferred("5.1.1", "x").dsn, "4.0.0");
        assert_eq!(Verdict::sent("bogus", "x").dsn, "2.0.0");
        assert_eq!(Verdict::bounced("5.4.6", "x").dsn, "5.4.6");
    }

    #[test]
    fn combine_worst_wins() {
        let sent = Verdict::sent("2.0.0", "delivered to mailbox");
        let same = combine(vec![("a".into(), sent.clone()), ("b".into(), sent.clone())]);
        assert_eq!(same, Some(sent.clone()));
        let mixed = combine(vec![
            ("a".into(), sent.clone()),
            ("b".into(), Verdict::bounced("5.1.1", "unknown user: \"b\"")),
            (
                "c".into(),
                Verdict::deferred("4.3.0", "alias database unavailable"),
            ),
        ]);
        assert_eq!(
            mixed,
            Some(Verdict::deferred("4.3.0", "alias database unavailable"))
        );
        let two = combine(vec![
            ("a".into(), Verdict::sent("2.0.0", "delivered to mailbox")),
            (
                "|cat".into(),
                Verdict::sent("2.0.0", "delivered to command: cat"),
            ),
        ]);
        assert_eq!(
            two.map(|v| v.text),
            Some("a: delivered to mailbox; |cat: delivered to command: cat".to_string())
        );
        assert_eq!(combine(Vec::new()), None);
    }
}
