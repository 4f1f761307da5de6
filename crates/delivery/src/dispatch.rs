//! The dispatcher the queue manager calls (Postfix qmgr's choice of
//! delivery agent): each recipient arrives with the destination the queue
//! manager resolved (trivial-rewrite(8) with `transport_maps`), and the
//! transport name picks the agent:
//!
//! | transport | result |
//! |---|---|
//! | `local` | local agent (mailbox, aliases) |
//! | `virtual` | virtual mailbox agent |
//! | `discard` | sent, `relay=none`, text = next hop or `discarded` |
//! | `error` | bounced, `relay=none`, DSN from the text (default 5.0.0) |
//! | `retry` | deferred, DSN from the text (default 4.0.0) |
//! | `smtp`, `relay` | the SMTP client, grouped by next hop (default: the recipient's domain) |
//! | `lmtp` | deferred 4.3.0: LMTP is not available yet |
//! | other | deferred 4.3.0 `mail transport unavailable` |
//!
//! The message content is read once per call and shared by all local and
//! virtual deliveries, which run at the same time so that their fsyncs
//! share group-commit rounds (docs/durability.md).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use gatepost_qmgr::{DeliveryAgent, DeliveryOutcome, QueuedMessage, RoutedRecipient};

use crate::local::LocalAgent;
use crate::smtp::{SmtpAgent, SmtpRcpt};
use crate::verdict::{dsn_split, Verdict};
use crate::virtual_mailbox::VirtualAgent;
use crate::MessageContent;

/// The text for recipients that need the (future) LMTP client.
pub(crate) const LMTP_UNAVAILABLE: &str =
    "delivery temporarily suspended: LMTP is not available yet";

/// Where one recipient goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Local(String),
    Virtual(String),
    /// The SMTP client, to this next hop.
    Smtp(String),
    /// Decided without an agent: (verdict, agent name for the log line).
    Final(Verdict, &'static str),
}

#[derive(Debug)]
pub(crate) struct Dispatcher {
    pub local: LocalAgent,
    pub virtual_agent: VirtualAgent,
    pub smtp: SmtpAgent,
}

impl Dispatcher {
    async fn load_content(msg: &QueuedMessage) -> Result<Arc<MessageContent>, String> {
        let msg = msg.clone();
        match tokio::task::spawn_blocking(move || msg.read_content()).await {
            Ok(Ok(data)) => Ok(Arc::new(MessageContent::new(data))),
            Ok(Err(err)) => Err(err.to_string()),
            Err(err) => Err(err.to_string()),
        }
    }
}

/// Pick the agent for a transport name.
pub(crate) fn select(transport: &str, nexthop: Option<&str>, recipient: String) -> Route {
    match transport {
        "local" => Route::Local(recipient),
        "virtual" => Route::Virtual(recipient),
        "discard" => {
            let (dsn, text) = dsn_split("2.0.0", nexthop.unwrap_or("discarded"));
            let text = if text.is_empty() { "discarded" } else { text };
            Route::Final(Verdict::sent(dsn, text), "discard")
        }
        "error" => {
            let (dsn, text) = dsn_split("5.0.0", nexthop.unwrap_or(""));
            let text = if text.is_empty() {
                "delivery failed"
            } else {
                text
            };
            Route::Final(Verdict::bounced(dsn, text), "error")
        }
        "retry" => {
            let (dsn, text) = dsn_split("4.0.0", nexthop.unwrap_or(""));
            let text = if text.is_empty() {
                "delivery temporarily suspended"
            } else {
                text
            };
            Route::Final(Verdict::deferred(dsn, text), "retry")
        }
        "smtp" | "relay" => {
            let domain = recipient.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
            Route::Smtp(nexthop.unwrap_or(domain).to_string())
        }
        "lmtp" => Route::Final(Verdict::deferred("4.3.0", LMTP_UNAVAILABLE), "lmtp"),
        _ => Route::Final(
            Verdict::deferred("4.3.0", "mail transport unavailable"),
            "qmgr",
        ),
    }
}

#[async_trait::async_trait]
impl DeliveryAgent for Dispatcher {
    async fn deliver(
        &self,
        msg: &QueuedMessage,
        recipients: &[RoutedRecipient],
    ) -> Vec<DeliveryOutcome> {
        let routes: Vec<(usize, Route)> = recipients
            .iter()
            .map(|r| match msg.envelope.recipients.get(r.index) {
                Some(_) => {
                    let d = &r.destination;
                    let nexthop = Some(d.nexthop.as_str()).filter(|n| !n.is_empty());
                    (r.index, select(&d.transport, nexthop, d.recipient.clone()))
                }
                None => (
                    r.index,
                    Route::Final(
                        Verdict::deferred("4.3.0", "no such recipient in queue file"),
                        "qmgr",
                    ),
                ),
            })
            .collect();
        let needs_content = routes
            .iter()
            .any(|(_, r)| matches!(r, Route::Local(_) | Route::Virtual(_) | Route::Smtp(_)));
        let content = if needs_content {
            Some(Self::load_content(msg).await)
        } else {
            None
        };
        let mut outcomes = Vec::with_capacity(routes.len());
        // SMTP recipients, grouped by next hop in first-seen order.
        let mut smtp_groups: Vec<(String, Vec<SmtpRcpt>)> = Vec::new();
        // Mailbox deliveries, run together.
        let mut mailboxes: Vec<Running<'_, DeliveryOutcome>> = Vec::new();
        for (index, route) in routes {
            let outcome = match (route, &content) {
                (Route::Smtp(nexthop), _) => {
                    let address = msg
                        .envelope
                        .recipients
                        .get(index)
                        .map(|r| r.address.clone())
                        .unwrap_or_default();
                    let rcpt = SmtpRcpt { index, address };
                    match smtp_groups.iter_mut().find(|(n, _)| *n == nexthop) {
                        Some((_, list)) => list.push(rcpt),
                        None => smtp_groups.push((nexthop, vec![rcpt])),
                    }
                    continue;
                }
                (Route::Final(v, agent), _) => v.into_outcome(index, agent, "none"),
                (Route::Local(addr), Some(Ok(c))) => {
                    let c = c.clone();
                    mailboxes.push(Box::pin(async move {
                        self.local.deliver(msg, &c, index, &addr).await
                    }));
                    continue;
                }
                (Route::Virtual(addr), Some(Ok(c))) => {
                    let c = c.clone();
                    mailboxes.push(Box::pin(async move {
                        self.virtual_agent.deliver(msg, &c, index, &addr).await
                    }));
                    continue;
                }
                (Route::Local(_), failed) | (Route::Virtual(_), failed) => {
                    let why = match failed {
                        Some(Err(e)) => e.clone(),
                        _ => "content not loaded".to_string(),
                    };
                    Verdict::deferred("4.3.0", format!("error reading message: {why}"))
                        .into_outcome(index, crate::local::AGENT, "none")
                }
            };
            outcomes.push(outcome);
        }
        outcomes.extend(join_all(mailboxes).await);
        for (nexthop, rcpts) in smtp_groups {
            match &content {
                Some(Ok(c)) => {
                    outcomes.extend(self.smtp.deliver(msg, &c.data, &nexthop, &rcpts).await);
                }
                failed => {
                    let why = match failed {
                        Some(Err(e)) => e.clone(),
                        _ => "content not loaded".to_string(),
                    };
                    for r in rcpts {
                        outcomes.push(
                            Verdict::deferred("4.3.0", format!("error reading message: {why}"))
                                .into_outcome(r.index, crate::smtp::AGENT, "none"),
                        );
                    }
                }
            }
        }
        // One outcome per requested index, in request order.
        outcomes.sort_by_key(|o| recipients.iter().position(|r| r.index == o.recipient));
        outcomes
    }
}

/// A delivery in progress.
type Running<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Run `futures` together; their outputs in any order.
async fn join_all<T>(futures: Vec<Running<'_, T>>) -> Vec<T> {
    let mut running: Vec<Option<Running<'_, T>>> = futures.into_iter().map(Some).collect();
    let mut done = Vec::with_capacity(running.len());
    std::future::poll_fn(|cx| {
        for slot in running.iter_mut() {
            if let Some(fut) = slot {
                if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                    done.push(out);
                    *slot = None;
                }
            }
        }
        if running.iter().all(Option::is_none) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatepost_qmgr::DeliveryStatus;

    #[test]
    fn transport_selection() {
        let r = || "u@example.com".to_string();
        let cases: Vec<(&str, Option<&str>, Route)> = vec![
            ("local", None, Route::Local(r())),
            ("virtual", None, Route::Virtual(r())),
            (
                "discard",
                None,
                Route::Final(Verdict::sent("2.0.0", "discarded"), "discard"),
            ),
            (
                "discard",
                Some("spam trap"),
                Route::Final(Verdict::sent("2.0.0", "spam trap"), "discard"),
            ),
            (
                "error",
                Some("5.1.1 User unknown in virtual alias table"),
                Route::Final(
                    Verdict::bounced("5.1.1", "User unknown in virtual alias table"),
                    "error",
                ),
            ),
            (
                "error",
                Some("no relay in test"),
                Route::Final(Verdict::bounced("5.0.0", "no relay in test"), "error"),
            ),
            (
                "retry",
                Some("4.7.1 later"),
                Route::Final(Verdict::deferred("4.7.1", "later"), "retry"),
            ),
            (
                "smtp",
                Some("[127.0.0.2]:2525"),
                Route::Smtp("[127.0.0.2]:2525".to_string()),
            ),
            ("relay", None, Route::Smtp("example.com".to_string())),
            (
                "lmtp",
                None,
                Route::Final(Verdict::deferred("4.3.0", LMTP_UNAVAILABLE), "lmtp"),
            ),
            (
                "dovecot",
                None,
                Route::Final(
                    Verdict::deferred("4.3.0", "mail transport unavailable"),
                    "qmgr",
                ),
            ),
        ];
        for (name, nexthop, want) in cases {
            assert_eq!(select(name, nexthop, r()), want, "{name} {nexthop:?}");
        }
        let Route::Final(v, _) = select("lmtp", None, r()) else {
            panic!()
        };
        assert_eq!(v.status, DeliveryStatus::Deferred);
    }
}
