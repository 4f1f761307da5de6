//! A local delivery handed to another transport, as Postfix's local(8)
//! does with deliver_pass() for `mailbox_transport(_maps)` and
//! `fallback_transport(_maps)`: the value is `transport[:nexthop]`; without
//! a next hop (or with an empty one) the local transport's own next hop is
//! used (`$myhostname` with the default `local_transport`). local logs
//! `ID: passing <ADDR> to transport=NAME`, and the recipient is delivered by
//! that transport's agent as if the queue manager had routed it there
//! (`lmtp:unix:private/dovecot-lmtp`, a master.cf pipe(8) service such as
//! `dovecot`, `smtp:[host]`, `virtual`, `error:...`, `discard:`), whose
//! outcome is the recipient's. `local` itself would loop and is refused
//! as a configuration error.

use std::sync::Arc;

use gatepost_qmgr::{DeliveryOutcome, QueuedMessage};

use crate::dispatch::{Dispatcher, Route};
use crate::smtp::{SmtpAgent, SmtpRcpt};
use crate::verdict::Verdict;
use crate::MessageContent;

/// One address whose delivery goes to `service` (`transport[:nexthop]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pass {
    pub service: String,
    pub address: String,
}

impl Pass {
    /// Transport and next hop; `default_nexthop` when none is given.
    pub fn split<'a>(&'a self, default_nexthop: &'a str) -> (&'a str, &'a str) {
        match self.service.split_once(':') {
            Some((transport, nexthop)) if !nexthop.is_empty() => (transport, nexthop),
            Some((transport, _)) => (transport, default_nexthop),
            None => (self.service.as_str(), default_nexthop),
        }
    }
}

impl Dispatcher {
    /// Deliver `pass` for recipient `index` of `msg` with the agent of its
    /// transport; `local_nexthop` is the local transport's next hop.
    pub(crate) async fn pass(
        &self,
        msg: &QueuedMessage,
        content: &Arc<MessageContent>,
        index: usize,
        pass: &Pass,
        local_nexthop: &str,
    ) -> DeliveryOutcome {
        let (transport, nexthop) = pass.split(local_nexthop);
        if transport.is_empty() {
            gatepost_log::warning(
                crate::local::AGENT,
                format!("missing transport name in \"{}\"", pass.service),
            );
            return Verdict::deferred("4.3.5", "mail system configuration error").into_outcome(
                index,
                crate::local::AGENT,
                "none",
            );
        }
        gatepost_log::info(
            crate::local::AGENT,
            format!(
                "{}: passing <{}> to transport={transport}",
                msg.id, pass.address
            ),
        );
        let rcpt = SmtpRcpt {
            index,
            address: pass.address.clone(),
        };
        match self.route(transport, nexthop, pass.address.clone()) {
            Route::Smtp(hop) => self.pass_smtp(&self.smtp, msg, content, &hop, rcpt).await,
            Route::Lmtp(hop) => self.pass_smtp(&self.lmtp, msg, content, &hop, rcpt).await,
            Route::Pipe(service, hop, rcpt) => {
                self.pipe
                    .deliver(msg, content, index, &service, &hop, &rcpt)
                    .await
            }
            Route::Virtual(rcpt) => self.virtual_agent.deliver(msg, content, index, &rcpt).await,
            Route::Final(v, agent) => v.into_outcome(index, agent, "none"),
            Route::Local(_) => {
                gatepost_log::warning(
                    crate::local::AGENT,
                    format!(
                        "{}: transport {transport} would deliver <{}> back to local: \
                         mail system configuration error",
                        msg.id, pass.address
                    ),
                );
                Verdict::deferred("4.3.5", "mail system configuration error").into_outcome(
                    index,
                    crate::local::AGENT,
                    "none",
                )
            }
        }
    }
}

impl Dispatcher {
    /// One recipient through the SMTP or LMTP client.
    async fn pass_smtp(
        &self,
        agent: &SmtpAgent,
        msg: &QueuedMessage,
        content: &Arc<MessageContent>,
        hop: &str,
        rcpt: SmtpRcpt,
    ) -> DeliveryOutcome {
        let index = rcpt.index;
        let outcomes = agent.deliver(msg, &content.data, hop, &[rcpt]).await;
        outcomes.into_iter().next().unwrap_or_else(|| {
            Verdict::deferred("4.3.0", "unknown mail transport error").into_outcome(
                index,
                agent.agent(),
                "none",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_and_nexthop() {
        let pass = |s: &str| Pass {
            service: s.to_string(),
            address: "bob@example.com".to_string(),
        };
        for (service, want) in [
            (
                "lmtp:unix:private/dovecot-lmtp",
                ("lmtp", "unix:private/dovecot-lmtp"),
            ),
            ("dovecot", ("dovecot", "mx.example.com")),
            ("smtp:", ("smtp", "mx.example.com")),
            ("relay:[10.0.0.1]:25", ("relay", "[10.0.0.1]:25")),
        ] {
            assert_eq!(pass(service).split("mx.example.com"), want, "{service}");
        }
    }
}
