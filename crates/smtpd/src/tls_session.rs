//! TLS in a session: the STARTTLS command (RFC 3207) and the handshake at
//! connect for `smtpd_tls_wrappermode = yes`, with Postfix's replies and
//! log lines (`Anonymous TLS connection established from ...` at
//! `smtpd_tls_loglevel >= 1`, `SSL_accept error from ...` always), the
//! `530 5.7.0 Must issue a STARTTLS command first` of level `encrypt`,
//! and the EHLO keywords STARTTLS and AUTH (docs/tls-auth.md).

use gatepost_proto::{Reply, Verb};

use crate::security::TlsLevel;
use crate::session::{Flow, Session};
use crate::stream::StreamError;

impl Session {
    pub(crate) async fn starttls(&mut self, args: &str) -> Flow {
        let verb = Some(Verb::Starttls);
        let reply = if !args.is_empty() {
            Some(Reply::new(501, "5.5.4", "Syntax: STARTTLS"))
        } else if self.tls.is_some() {
            Some(Reply::new(554, "5.5.1", "Error: TLS already active"))
        } else if !self.starttls_offered() {
            Some(Reply::new(502, "5.5.1", "Error: command not implemented"))
        } else if self.ctx.tls.is_none() {
            Some(Reply::new(
                454,
                "4.7.0",
                "TLS not available due to local problem",
            ))
        } else {
            None
        };
        if let Some(reply) = reply.or_else(|| self.new_tls_session_rate_exceeded(false)) {
            return self.answer(verb, reply).await;
        }
        if self
            .answer(verb, Reply::new(220, "2.0.0", "Ready to start TLS"))
            .await
            == Flow::Close
        {
            return Flow::Close;
        }
        if self.tls_handshake().await == Flow::Close {
            return Flow::Close;
        }
        // RFC 3207 section 4.2: forget what the client said before.
        self.end_transaction();
        self.helo = None;
        self.login = None;
        Flow::Continue
    }

    /// The handshake of STARTTLS or wrapper mode. Input sent before it is
    /// discarded by the stream, so nothing pipelined after STARTTLS is
    /// ever read as a command inside TLS.
    pub(crate) async fn tls_handshake(&mut self) -> Flow {
        let Some(acceptor) = self.ctx.tls.clone() else {
            return Flow::Close;
        };
        let timeout = self.ctx.security.starttls_timeout;
        match self.stream.start_tls(&acceptor, timeout).await {
            Ok(summary) => {
                if self.ctx.security.tls_loglevel >= 1 {
                    gatepost_log::info(
                        "smtpd",
                        format!(
                            "Anonymous TLS connection established from {}: {}",
                            self.client_label,
                            summary.describe()
                        ),
                    );
                }
                self.tls = Some(summary);
                Flow::Continue
            }
            Err(e) => {
                // As Postfix: the SSL_accept line, then the library's reason.
                let (detail, library) = match e.kind() {
                    std::io::ErrorKind::UnexpectedEof => ("lost connection".to_string(), None),
                    std::io::ErrorKind::TimedOut => ("timeout".to_string(), None),
                    std::io::ErrorKind::InvalidData => ("-1".to_string(), Some(e.to_string())),
                    _ => (e.to_string(), None),
                };
                gatepost_log::info(
                    "smtpd",
                    format!("SSL_accept error from {}: {detail}", self.client_label),
                );
                if let Some(problem) = library {
                    gatepost_log::warning("smtpd", format!("TLS library problem: {problem}"));
                }
                self.stream_failed(StreamError::Closed).await;
                Flow::Close
            }
        }
    }

    /// Whether EHLO announces STARTTLS now.
    /// (Also when the certificate could not be loaded: STARTTLS then gets
    /// `454`, as in Postfix.) Never in stand-alone sessions.
    pub(crate) fn starttls_offered(&self) -> bool {
        !self.fixed_name
            && self.tls.is_none()
            && self.ctx.security.tls_level != TlsLevel::None
            && self.ctx.settings.offers("STARTTLS")
    }

    /// `530 5.7.0 Must issue a STARTTLS command first` for commands other
    /// than HELO, EHLO, STARTTLS, NOOP and QUIT at level `encrypt`.
    pub(crate) fn tls_required(&self, verb: Verb) -> Option<Reply> {
        let pre_tls = matches!(
            verb,
            Verb::Helo | Verb::Ehlo | Verb::Starttls | Verb::Noop | Verb::Quit
        );
        (self.ctx.security.tls_level == TlsLevel::Encrypt
            && !self.fixed_name
            && self.tls.is_none()
            && !pre_tls)
            .then(|| Reply::new(530, "5.7.0", "Must issue a STARTTLS command first"))
    }

    /// The `with` word of Received: (RFC 3848): ESMTP plus `S` for TLS
    /// and `A` for a SASL login.
    pub(crate) fn received_protocol(&self) -> String {
        let mut protocol = self.protocol.to_string();
        if self.protocol == "ESMTP" {
            if self.tls.is_some() {
                protocol.push('S');
            }
            if self.login.is_some() {
                protocol.push('A');
            }
        }
        protocol
    }

    /// The `(using ...)` text when smtpd_tls_received_header is set.
    pub(crate) fn received_tls_line(&self) -> Option<String> {
        self.tls
            .as_ref()
            .filter(|_| self.ctx.security.tls_received_header)
            .map(|t| t.describe())
    }

    /// The login name when smtpd_sasl_authenticated_header is set.
    pub(crate) fn received_login(&self) -> Option<&str> {
        self.login
            .as_ref()
            .filter(|_| self.ctx.security.authenticated_header)
            .map(|l| l.username.as_str())
    }

    /// EHLO lines for STARTTLS and AUTH, in Postfix's place (after ETRN;
    /// no AUTH for smtpd_sasl_exceptions_networks, though it is accepted):
    /// `(keyword, line)` for `smtpd_discard_ehlo_keywords`.
    pub(crate) fn ehlo_security_lines(&self) -> Vec<(&'static str, String)> {
        let mut lines = Vec::new();
        if self.starttls_offered() {
            lines.push(("STARTTLS", "STARTTLS".to_string()));
        }
        let mechs = self.auth_mechanisms();
        let excepted = matches!(
            self.ctx
                .sasl_exceptions
                .matches(&self.client_name, self.client_addr),
            Ok(true)
        );
        if !mechs.is_empty() && !excepted {
            let list: Vec<&str> = mechs.iter().map(|m| m.name()).collect();
            let list = list.join(" ");
            lines.push(("AUTH", format!("AUTH {list}")));
            if self.ctx.security.broken_auth_clients {
                lines.push(("AUTH", format!("AUTH={list}")));
            }
        }
        lines
    }
}
