//! The per-client limits smtpd(8) checks against the anvil(8) counters:
//! simultaneous connections and connection rate at connect time, and the
//! message, recipient, new TLS session and AUTH rates per command. Clients
//! in `smtpd_client_event_limit_exceptions` and stand-alone sessions are
//! neither counted nor limited. Each check logs Postfix's warning and
//! returns Postfix's reply when the limit is exceeded.

use gatepost_proto::Reply;

use crate::session::Session;

impl Session {
    /// Whether this client's events are counted (and limited) at all.
    pub(crate) fn client_events_counted(&self) -> bool {
        !self.fixed_name
            && !matches!(
                self.ctx
                    .event_limit_exceptions
                    .matches(&self.client_name, self.client_addr),
                Ok(true)
            )
    }

    /// Register the connection; the 421 reply when the client has too many
    /// connections open, or opened too many in the time unit.
    pub(crate) fn register_connection(&mut self) -> Option<Reply> {
        if !self.client_events_counted() {
            return None;
        }
        self.connection_counted = true;
        let (count, rate) = self
            .ctx
            .client_events
            .connect(&self.ctx.service, self.client_addr);
        self.connection_count = count;
        let settings = &self.ctx.settings;
        let count_limit = settings.client_connection_count_limit;
        let rate_limit = settings.client_connection_rate_limit;
        let what = if count_limit > 0 && count as usize > count_limit {
            format!("Connection concurrency limit exceeded: {count}")
        } else if rate_limit > 0 && rate > rate_limit {
            format!("Connection rate limit exceeded: {rate}")
        } else {
            return None;
        };
        self.limit_warning(&what);
        Some(Reply::new(
            421,
            "4.7.0",
            format!(
                "{} Error: too many connections from {}",
                settings.myhostname, self.client_addr
            ),
        ))
    }

    /// The end of a connection registered by [`Session::register_connection`].
    pub(crate) fn unregister_connection(&mut self) {
        if std::mem::take(&mut self.connection_counted) {
            self.ctx
                .client_events
                .disconnect(&self.ctx.service, self.client_addr);
        }
    }

    /// Count a MAIL FROM request (`smtpd_client_message_rate_limit`).
    pub(crate) fn message_rate_exceeded(&self) -> Option<Reply> {
        let limit = self.ctx.settings.client_message_rate_limit;
        if limit == 0 || !self.client_events_counted() {
            return None;
        }
        let rate = self
            .ctx
            .client_events
            .message(&self.ctx.service, self.client_addr);
        (rate > limit).then(|| {
            self.limit_warning(&format!(
                "Message delivery request rate limit exceeded: {rate}"
            ));
            Reply::new(
                450,
                "4.7.1",
                format!("Error: too much mail from {}", self.client_addr),
            )
        })
    }

    /// Count a RCPT TO request (`smtpd_client_recipient_rate_limit`).
    pub(crate) fn recipient_rate_exceeded(&self) -> Option<Reply> {
        let limit = self.ctx.settings.client_recipient_rate_limit;
        if limit == 0 || !self.client_events_counted() {
            return None;
        }
        let rate = self
            .ctx
            .client_events
            .recipient(&self.ctx.service, self.client_addr);
        (rate > limit).then(|| {
            self.limit_warning(&format!("Recipient address rate limit exceeded: {rate}"));
            Reply::new(
                450,
                "4.7.1",
                format!("Error: too many recipients from {}", self.client_addr),
            )
        })
    }

    /// Count a new TLS session (`smtpd_client_new_tls_session_rate_limit`);
    /// the reply for STARTTLS (454) or, with `wrapper_mode`, for the
    /// connection (421).
    pub(crate) fn new_tls_session_rate_exceeded(&self, wrapper_mode: bool) -> Option<Reply> {
        let limit = self.ctx.settings.client_new_tls_session_rate_limit;
        if limit == 0 || !self.client_events_counted() {
            return None;
        }
        let rate = self
            .ctx
            .client_events
            .new_tls_session(&self.ctx.service, self.client_addr);
        (rate > limit).then(|| {
            self.limit_warning(&format!("New TLS session rate limit exceeded: {rate}"));
            let text = format!("Error: too many new TLS sessions from {}", self.client_addr);
            if wrapper_mode {
                let text = format!("{} {text}", self.ctx.settings.myhostname);
                Reply::new(421, "4.7.0", text)
            } else {
                Reply::new(454, "4.7.0", text)
            }
        })
    }

    /// Count an AUTH request (`smtpd_client_auth_rate_limit`).
    pub(crate) fn auth_rate_exceeded(&self) -> Option<Reply> {
        let limit = self.ctx.settings.client_auth_rate_limit;
        if limit == 0 || !self.client_events_counted() {
            return None;
        }
        let rate = self
            .ctx
            .client_events
            .auth(&self.ctx.service, self.client_addr);
        (rate > limit).then(|| {
            self.limit_warning(&format!("AUTH command rate limit exceeded: {rate}"));
            Reply::new(
                450,
                "4.7.1",
                format!("Error: too many AUTH commands from {}", self.client_addr),
            )
        })
    }

    /// `warning: WHAT from name[addr] for service SERVICE`.
    fn limit_warning(&self, what: &str) {
        gatepost_log::warning(
            "smtpd",
            format!(
                "{what} from {} for service {}",
                self.client_label, self.ctx.service
            ),
        );
    }
}
