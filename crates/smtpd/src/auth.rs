//! The AUTH command (RFC 4954) with Postfix's replies and log lines: the
//! mechanism exchange (`334` challenges, `*` aborts), the check against
//! the `smtpd_sasl_type` backend, `235 2.7.0 Authentication successful`,
//! and on failure `535 5.7.8 Error: authentication failed: REASON` with
//! `warning: NAME[ADDR]: SASL MECH authentication failed: REASON` (the
//! line fail2ban's postfix filter matches). Failures count as errors
//! toward smtpd_hard_error_limit (docs/tls-auth.md#the-auth-command).

use base64::Engine;
use gatepost_proto::{Reply, Verb};
use gatepost_sasl::{decode_response, Exchange, Mechanism, Outcome, Step};

use crate::session::{Flow, Session};

/// Who the client logged in as.
#[derive(Debug, Clone)]
pub struct SaslLogin {
    pub method: &'static str,
    pub username: String,
}

impl Session {
    /// Mechanisms AUTH offers now: none in a stand-alone session
    /// (`sendmail -bs`) or before TLS with smtpd_tls_auth_only, else those
    /// the security options leave.
    pub(crate) fn auth_mechanisms(&self) -> Vec<Mechanism> {
        let sec = &self.ctx.security;
        if self.ctx.sasl.is_none() || self.fixed_name || !self.ctx.settings.offers("AUTH") {
            return Vec::new();
        }
        match &self.tls {
            Some(_) => sec.mechanisms_tls.clone(),
            None if sec.tls_auth_only => Vec::new(),
            None => sec.mechanisms_plain.clone(),
        }
    }

    /// `, sasl_method=PLAIN, sasl_username=alice` for the `client=` line.
    pub(crate) fn sasl_log_suffix(&self) -> String {
        match &self.login {
            Some(l) => format!(", sasl_method={}, sasl_username={}", l.method, l.username),
            None => String::new(),
        }
    }

    pub(crate) async fn auth(&mut self, args: &str) -> Flow {
        let verb = Some(Verb::Auth);
        let mechanisms = self.auth_mechanisms();
        let words: Vec<&str> = args.split_whitespace().collect();
        let refusal = if self.ctx.settings.helo_required && self.helo.is_none() {
            Some(Reply::new(503, "5.5.1", "Error: send HELO/EHLO first"))
        } else if mechanisms.is_empty() {
            Some(Reply::new(
                503,
                "5.5.1",
                "Error: authentication not enabled",
            ))
        } else if self.tx.is_some() {
            Some(Reply::new(
                503,
                "5.5.1",
                "Error: MAIL transaction in progress",
            ))
        } else if self.login.is_some() {
            Some(Reply::new(503, "5.5.1", "Error: already authenticated"))
        } else if words.is_empty() || words.len() > 2 {
            Some(Reply::new(501, "5.5.4", "Syntax: AUTH mechanism"))
        } else {
            None
        };
        if let Some(reply) = refusal.or_else(|| self.auth_rate_exceeded()) {
            return self.answer(verb, reply).await;
        }
        let name = words[0].to_ascii_uppercase();
        let Some(mechanism) = Mechanism::parse(&name).filter(|m| mechanisms.contains(m)) else {
            return self
                .auth_failed(&name, "Invalid authentication mechanism", None)
                .await;
        };
        let initial = match words.get(1) {
            Some(text) => match decode_response(text) {
                Some(bytes) => Some(bytes),
                None => {
                    return self
                        .auth_failed(&name, "Invalid base64 data in initial response", None)
                        .await
                }
            },
            None => None,
        };
        let (mut exchange, mut step) = Exchange::start(mechanism, initial.as_deref());
        let creds = loop {
            match step {
                Step::Done(creds) => break creds,
                Step::Malformed(reason) => return self.auth_failed(&name, reason, None).await,
                Step::Challenge(challenge) => {
                    let text = base64::engine::general_purpose::STANDARD.encode(challenge);
                    if self.reply(Reply::plain(334, text)).await == Flow::Close {
                        return Flow::Close;
                    }
                    let line = match self.stream.read_line().await {
                        Ok(line) => String::from_utf8_lossy(&line.bytes).into_owned(),
                        Err(e) => {
                            self.stream_failed(e).await;
                            return Flow::Close;
                        }
                    };
                    if line.trim() == "*" {
                        gatepost_log::warning(
                            "smtpd",
                            format!("{}: SASL {name} authentication aborted", self.client_label),
                        );
                        let reply = Reply::new(501, "5.7.0", "Authentication aborted");
                        return self.answer(verb, reply).await;
                    }
                    step = match decode_response(&line) {
                        Some(bytes) => exchange.respond(&bytes),
                        None => Step::Malformed("Invalid base64 data in continued response"),
                    };
                }
            }
        };
        let Some(backend) = self.ctx.sasl.clone() else {
            return Flow::Close;
        };
        let outcome = backend
            .authenticate(mechanism, &creds, self.client_addr, self.tls.is_some())
            .await;
        match outcome {
            Outcome::Ok { username } => {
                self.login = Some(SaslLogin {
                    method: mechanism.name(),
                    username,
                });
                self.answer(verb, Reply::new(235, "2.7.0", "Authentication successful"))
                    .await
            }
            Outcome::Fail { reason, username } => {
                self.auth_failed(&name, &reason, username.as_deref()).await
            }
            Outcome::Temp { reason } => {
                self.warn_auth_failed(&name, &reason, None);
                let reply = Reply::new(
                    454,
                    "4.7.0",
                    format!("Temporary authentication failure: {reason}"),
                );
                self.answer(verb, reply).await
            }
        }
    }

    fn warn_auth_failed(&self, mechanism: &str, reason: &str, username: Option<&str>) {
        gatepost_metrics::auth_failure(mechanism);
        let user = username
            .map(|u| format!(", sasl_username={u}"))
            .unwrap_or_default();
        gatepost_log::warning(
            "smtpd",
            format!(
                "{}: SASL {mechanism} authentication failed: {reason}{user}",
                self.client_label
            ),
        );
    }

    async fn auth_failed(&mut self, mechanism: &str, reason: &str, username: Option<&str>) -> Flow {
        self.warn_auth_failed(mechanism, reason, username);
        let reply = Reply::new(
            535,
            "5.7.8",
            format!("Error: authentication failed: {reason}"),
        );
        self.answer(Some(Verb::Auth), reply).await
    }
}
