//! ETRN (RFC 1985) as Postfix's smtpd and flush(8) answer it
//! (docs/smtp-session.md#etrn): the sequence and syntax checks, the
//! client, helo and `smtpd_etrn_restrictions`, then the fast flush
//! decision: a domain in `fast_flush_domains` (default `$relay_domains`)
//! gets `250 Queuing started` and its deferred mail is tried now
//! ([`gatepost_queue::Queue::flush_site`]); any other gets `459`.

use gatepost_policy::Stage;
use gatepost_proto::hostname::{valid_hostname, valid_mailhost_literal};
use gatepost_proto::{Reply, Verb};

use crate::session::{Flow, Session};

impl Session {
    pub(crate) async fn etrn(&mut self, args: &str) -> Flow {
        let verb = Some(Verb::Etrn);
        if self.ctx.settings.helo_required && self.helo.is_none() {
            return self
                .answer(verb, Reply::plain(503, "Error: send HELO/EHLO first"))
                .await;
        }
        if self.tx.is_some() {
            return self
                .answer(
                    verb,
                    Reply::plain(503, "Error: MAIL transaction in progress"),
                )
                .await;
        }
        let words: Vec<&str> = args.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
        let [word] = words.as_slice() else {
            return self
                .answer(verb, Reply::plain(500, "Syntax: ETRN domain"))
                .await;
        };
        let domain = word.strip_prefix(['@', '#']).unwrap_or(word).to_string();
        if !valid_hostname(&domain) && !valid_mailhost_literal(&domain) {
            return self
                .answer(verb, Reply::plain(501, "Error: invalid parameter syntax"))
                .await;
        }
        if self.fixed_name {
            gatepost_log::warning("smtpd", "do not use ETRN in \"sendmail -bs\" mode");
            return self
                .answer(verb, Reply::plain(458, "Unable to queue messages"))
                .await;
        }
        let mut facts = self.facts(None);
        facts.etrn_domain = Some(domain.clone());
        let verdict = self.check_with(Stage::Etrn, facts).await;
        if let Some(reply) = verdict.reply {
            return self.answer(verb, reply).await;
        }
        let reply = match self.ctx.fast_flush_domains.matches(&domain) {
            Ok(true) => match self.ctx.queue.flush_site(&domain) {
                Ok(_) => Reply::plain(250, "Queuing started"),
                Err(e) => {
                    gatepost_log::warning("smtpd", format!("ETRN {domain}: {e}"));
                    gatepost_log::warning("smtpd", "unable to talk to fast flush service");
                    Reply::plain(458, "Unable to queue messages")
                }
            },
            Ok(false) => {
                gatepost_log::warning(
                    "smtpd",
                    format!(
                        "reject: ETRN {}... from {}",
                        truncate(&domain, 100),
                        self.client_label
                    ),
                );
                Reply::plain(459, format!("<{domain}>: service unavailable"))
            }
            Err(e) => {
                gatepost_log::warning("smtpd", format!("fast_flush_domains: {e}"));
                gatepost_log::warning("smtpd", "unable to talk to fast flush service");
                Reply::plain(458, "Unable to queue messages")
            }
        };
        self.answer(verb, reply).await
    }
}

/// `%.100s`.
fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}
