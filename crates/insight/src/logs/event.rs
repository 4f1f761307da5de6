//! What one log message means for the report: a connection, a message
//! received, a delivery attempt's status, a reject (with client, reason and
//! recipient), a SASL failure, or one of the DNS/EHLO warnings that are
//! grouped by domain. Messages are recognized by their Postfix wording.

use std::sync::LazyLock;

use regex::Regex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Sent,
    Deferred,
    Bounced,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `connect from HOST[ADDR]` (smtpd).
    Connect {
        client: String,
    },
    /// `QID: client=HOST[ADDR]` (smtpd) or `QID: uid=N from=<..>` (pickup).
    Received {
        qid: String,
        client: String,
    },
    /// `QID: from=<SENDER>, size=N, nrcpt=N` (qmgr).
    QueuedFrom {
        qid: String,
        sender: String,
        size: u64,
    },
    /// `QID: to=<RCPT>, ... status=...`.
    Delivery {
        qid: String,
        rcpt: String,
        status: Status,
    },
    /// `NOQUEUE: reject: RCPT from HOST[ADDR]: 554 5.7.1 <..>: REASON; from=<..> to=<..> ...`
    /// or a cleanup `QID: reject: header ...`.
    Reject {
        client: String,
        code: u16,
        reason: String,
        rcpt: String,
    },
    /// `warning: HOST[ADDR]: SASL MECH authentication failed: ...`.
    SaslFailure {
        client: String,
        user: String,
    },
    /// One of the grouped warnings, with the domain (or host) it names.
    Warning {
        kind: WarningKind,
        domain: String,
    },
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    NumericMx,
    MalformedMx,
    EmptyHostname,
    AuthOfferedTwice,
}

impl WarningKind {
    pub fn describe(self) -> &'static str {
        match self {
            WarningKind::NumericMx => "numeric domain name in resource data of MX record",
            WarningKind::MalformedMx => "malformed domain name in resource data of MX record",
            WarningKind::EmptyHostname => "valid_hostname: empty hostname",
            WarningKind::AuthOfferedTwice => "offered AUTH option multiple times",
        }
    }
}

macro_rules! re {
    ($name:ident, $pat:expr) => {
        static $name: LazyLock<Regex> =
            LazyLock::new(|| Regex::new($pat).expect("built-in pattern"));
    };
}

re!(CONNECT, r"^connect from (\S+)$");
re!(CLIENT, r"^(\w+): client=([^,\s]+)");
re!(PICKUP, r"^(\w+): (?:uid|sender)=");
re!(QMGR_FROM, r"^(\w+): from=<([^>]*)>, size=(\d+)");
re!(
    DELIVERY,
    r"^(\w+): to=<([^>]*)>,.* status=(sent|deferred|bounced)\b"
);
re!(
    REJECT,
    r"^\w+: reject: \S+ from (\S+?): (\d{3})(?: \d\.\d+\.\d+)? (.*?)(?:; from=<[^>]*>(?: to=<([^>]*)>)?.*)?$"
);
re!(
    CLEANUP_REJECT,
    r"^\w+: (?:milter-)?reject: (?:header|body|END-OF-MESSAGE) .*? from (\S+?); from=<[^>]*> to=<([^>]*)>.*?: (?:(\d{3}) )?(?:\d\.\d+\.\d+ )?(.*)$"
);
re!(
    SASL,
    r"^warning: (\S+?): SASL \S+ authentication failed:[^,]*(?:, sasl_username=(\S+))?"
);
re!(
    NUMERIC_MX,
    r"numeric domain name in resource data of MX record for ([^\s:]+)"
);
re!(
    MALFORMED_MX,
    r"malformed domain name in resource data of MX record for ([^\s:]+)"
);
re!(
    AUTH_TWICE,
    r"(\S+?)\[[^\]]*\](?::\d+)? offered AUTH option multiple times"
);

/// Classify one message from `program`.
pub fn classify(program: &str, msg: &str) -> Event {
    let cap = |re: &Regex| re.captures(msg);
    let text = |c: &regex::Captures, i: usize| c.get(i).map_or("", |m| m.as_str()).to_string();
    if let Some(c) = cap(&REJECT) {
        return Event::Reject {
            client: text(&c, 1),
            code: text(&c, 2).parse().unwrap_or(0),
            reason: reason(&text(&c, 3)),
            rcpt: text(&c, 4),
        };
    }
    if program == "cleanup" {
        if let Some(c) = cap(&CLEANUP_REJECT) {
            return Event::Reject {
                client: text(&c, 1),
                code: text(&c, 3).parse().unwrap_or(0),
                reason: reason(&text(&c, 4)),
                rcpt: text(&c, 2),
            };
        }
    }
    if let Some(c) = cap(&DELIVERY) {
        let status = match &c[3] {
            "sent" => Status::Sent,
            "deferred" => Status::Deferred,
            _ => Status::Bounced,
        };
        return Event::Delivery {
            qid: text(&c, 1),
            rcpt: text(&c, 2),
            status,
        };
    }
    match program {
        "smtpd" | "postscreen" => {
            if let Some(c) = cap(&CONNECT) {
                return Event::Connect {
                    client: text(&c, 1),
                };
            }
            if let Some(c) = cap(&CLIENT) {
                return Event::Received {
                    qid: text(&c, 1),
                    client: text(&c, 2),
                };
            }
        }
        "pickup" => {
            if let Some(c) = cap(&PICKUP) {
                return Event::Received {
                    qid: text(&c, 1),
                    client: "pickup".to_string(),
                };
            }
        }
        "qmgr" | "nqmgr" => {
            if let Some(c) = cap(&QMGR_FROM) {
                return Event::QueuedFrom {
                    qid: text(&c, 1),
                    sender: text(&c, 2),
                    size: text(&c, 3).parse().unwrap_or(0),
                };
            }
        }
        _ => {}
    }
    if !msg.starts_with("warning: ") {
        return Event::Other;
    }
    if let Some(c) = cap(&SASL) {
        return Event::SaslFailure {
            client: text(&c, 1),
            user: text(&c, 2),
        };
    }
    let warning = |kind, domain: String| Event::Warning {
        kind,
        domain: domain.trim_end_matches('.').to_ascii_lowercase(),
    };
    if let Some(c) = cap(&NUMERIC_MX) {
        return warning(WarningKind::NumericMx, text(&c, 1));
    }
    if let Some(c) = cap(&MALFORMED_MX) {
        return warning(WarningKind::MalformedMx, text(&c, 1));
    }
    if msg.contains("valid_hostname: empty hostname") {
        return warning(WarningKind::EmptyHostname, "(empty)".to_string());
    }
    if let Some(c) = cap(&AUTH_TWICE) {
        return warning(WarningKind::AuthOfferedTwice, text(&c, 1));
    }
    Event::Other
}

/// A reject's reason without the address it names:
/// `<x@y>: Recipient address rejected: User unknown` gives
/// `Recipient address rejected: User unknown`.
fn reason(text: &str) -> String {
    let text = text.trim();
    match text.strip_prefix('<').and_then(|t| t.split_once(">: ")) {
        Some((_, rest)) => rest.to_string(),
        None => text.to_string(),
    }
}

/// The domain of an address (lower case), `(local)` when it has none.
pub fn domain_of(addr: &str) -> String {
    match addr.rsplit_once('@') {
        Some((_, d)) if !d.is_empty() => d.to_ascii_lowercase(),
        _ => "(local)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_messages_are_recognized() {
        let r = classify("smtpd", "NOQUEUE: reject: RCPT from unknown[127.0.0.3]: 554 5.7.1 <victim@far.example>: Relay access denied; from=<spam@spam.example> to=<victim@far.example> proto=ESMTP helo=<client.example>");
        assert_eq!(
            r,
            Event::Reject {
                client: "unknown[127.0.0.3]".into(),
                code: 554,
                reason: "Relay access denied".into(),
                rcpt: "victim@far.example".into()
            }
        );
        let d = classify("smtp", "11C1C994152: to=<y@defer.example>, relay=127.0.0.1[127.0.0.1]:2627, delay=0.16, delays=0.02/0.08/0.01/0.05, dsn=4.2.0, status=deferred (host said: 450 busy)");
        assert!(matches!(
            d,
            Event::Delivery {
                status: Status::Deferred,
                ..
            }
        ));
        assert_eq!(
            classify("smtpd", "warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: authentication failure, sasl_username=joe@example.org"),
            Event::SaslFailure { client: "unknown[192.0.2.7]".into(), user: "joe@example.org".into() }
        );
        assert_eq!(
            classify("smtp", "warning: numeric domain name in resource data of MX record for Bad.Example.: 192.0.2.1"),
            Event::Warning { kind: WarningKind::NumericMx, domain: "bad.example".into() }
        );
        assert_eq!(
            classify(
                "smtp",
                "warning: mx.example.net[192.0.2.9]:25 offered AUTH option multiple times"
            ),
            Event::Warning {
                kind: WarningKind::AuthOfferedTwice,
                domain: "mx.example.net".into()
            }
        );
        assert_eq!(
            classify("smtpd", "D5AD1994072: client=localhost[127.0.0.1]"),
            Event::Received {
                qid: "D5AD1994072".into(),
                client: "localhost[127.0.0.1]".into()
            }
        );
        assert_eq!(domain_of("A@B.Example"), "b.example");
        assert_eq!(domain_of("root"), "(local)");
    }
}
