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
//! | `smtp`, `relay`, a master.cf `unix` service running `smtp` | the SMTP client, grouped by next hop (default: the recipient's domain) |
//! | `lmtp`, a master.cf `unix` service running `lmtp` | the LMTP client (the SMTP client in LMTP mode), grouped by next hop (`unix:PATH`, `inet:HOST:PORT`, `[HOST]:PORT`) |
//! | a master.cf `pipe` service | the pipe(8) agent (`pipe`) |
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
use crate::pipe::PipeAgent;
use crate::smtp::{SmtpAgent, SmtpRcpt};
use crate::verdict::{dsn_split, Verdict};
use crate::virtual_mailbox::VirtualAgent;
use crate::MessageContent;

/// Where one recipient goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Local(String),
    Virtual(String),
    /// The SMTP client, to this next hop.
    Smtp(String),
    /// A pipe(8) service: (service, next hop, recipient).
    Pipe(String, String, String),
    /// The LMTP client, to this next hop.
    Lmtp(String),
    /// Decided without an agent: (verdict, agent name for the log line).
    Final(Verdict, &'static str),
}

#[derive(Debug)]
pub(crate) struct Dispatcher {
    pub local: LocalAgent,
    pub virtual_agent: VirtualAgent,
    pub pipe: PipeAgent,
    pub smtp: SmtpAgent,
    /// master.cf transports that are the SMTP client under another name.
    pub smtp_transports: Vec<String>,
    pub lmtp: SmtpAgent,
    /// master.cf transports that are the LMTP client under another name.
    pub lmtp_transports: Vec<String>,
}

impl Dispatcher {
    /// The agent of a transport (master.cf pipe services, the SMTP client
    /// under other names, then `select`).
    pub(crate) fn route(&self, transport: &str, nexthop: &str, recipient: String) -> Route {
        if self.pipe.service(transport).is_some() {
            return Route::Pipe(transport.to_string(), nexthop.to_string(), recipient);
        }
        let transport = if self.smtp_transports.iter().any(|t| t == transport) {
            "smtp"
        } else if self.lmtp_transports.iter().any(|t| t == transport) {
            "lmtp"
        } else {
            transport
        };
        select(
            transport,
            Some(nexthop).filter(|n| !n.is_empty()),
            recipient,
        )
    }

    async fn load_content(msg: &QueuedMessage) -> Result<Arc<MessageContent>, String> {
        if let Some((data, client)) = msg.preloaded.take() {
            return Ok(Arc::new(MessageContent::new(data, client)));
        }
        let msg = msg.clone();
        let read =
            move || gatepost_queue::read_content_and_client_facts(msg.file()?, msg.id.as_str());
        match tokio::task::spawn_blocking(read).await {
            Ok(Ok((data, client))) => Ok(Arc::new(MessageContent::new(data, client))),
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
        "lmtp" => {
            let domain = recipient.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
            Route::Lmtp(nexthop.unwrap_or(domain).to_string())
        }
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
                    let route = self.route(&d.transport, &d.nexthop, d.recipient.clone());
                    (r.index, route)
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
        let needs_content = routes.iter().any(|(_, r)| !matches!(r, Route::Final(..)));
        let content = if needs_content {
            Some(Self::load_content(msg).await)
        } else {
            None
        };
        let mut outcomes = Vec::with_capacity(routes.len());
        // SMTP and LMTP recipients, grouped by agent and next hop in
        // first-seen order.
        let mut smtp_groups: Vec<(&SmtpAgent, String, Vec<SmtpRcpt>)> = Vec::new();
        // Mailbox deliveries, run together.
        let mut mailboxes: Vec<Running<'_, DeliveryOutcome>> = Vec::new();
        for (index, route) in routes {
            let route_is_lmtp = matches!(route, Route::Lmtp(_));
            let outcome = match (route, &content) {
                (Route::Smtp(nexthop), _) | (Route::Lmtp(nexthop), _) => {
                    let agent = match route_is_lmtp {
                        true => &self.lmtp,
                        false => &self.smtp,
                    };
                    let address = msg
                        .envelope
                        .recipients
                        .get(index)
                        .map(|r| r.address.clone())
                        .unwrap_or_default();
                    let rcpt = SmtpRcpt { index, address };
                    let group = smtp_groups
                        .iter_mut()
                        .find(|(a, n, _)| std::ptr::eq(*a, agent) && *n == nexthop);
                    match group {
                        Some((_, _, list)) => list.push(rcpt),
                        None => smtp_groups.push((agent, nexthop, vec![rcpt])),
                    }
                    continue;
                }
                (Route::Final(v, agent), _) => v.into_outcome(index, agent, "none"),
                (Route::Local(addr), Some(Ok(c))) => {
                    let c = c.clone();
                    let nexthop = recipients
                        .iter()
                        .find(|r| r.index == index)
                        .map(|r| r.destination.nexthop.clone())
                        .unwrap_or_default();
                    mailboxes.push(Box::pin(async move {
                        let rcpt = (index, addr.as_str(), nexthop.as_str());
                        self.local.deliver(self, msg, &c, rcpt).await
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
                (Route::Pipe(service, nexthop, rcpt), Some(Ok(c))) => {
                    self.pipe
                        .deliver(msg, c, index, &service, &nexthop, &rcpt)
                        .await
                }
                (Route::Local(_) | Route::Virtual(_) | Route::Pipe(..), failed) => {
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
        for (agent, nexthop, rcpts) in smtp_groups {
            match &content {
                Some(Ok(c)) => {
                    outcomes.extend(agent.deliver(msg, &c.data, &nexthop, &rcpts).await);
                }
                failed => {
                    let why = match failed {
                        Some(Err(e)) => e.clone(),
                        _ => "content not loaded".to_string(),
                    };
                    for r in rcpts {
                        outcomes.push(
                            Verdict::deferred("4.3.0", format!("error reading message: {why}"))
                                .into_outcome(r.index, agent.agent(), "none"),
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
                Some("unix:private/dovecot-lmtp"),
                Route::Lmtp("unix:private/dovecot-lmtp".to_string()),
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
    }
}
