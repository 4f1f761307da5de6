//! Command handlers other than DATA: each one checks its preconditions
//! (sequence, syntax, limits), asks the restriction engine, and answers
//! with Postfix's reply texts (docs/smtp-session.md#replies-by-command).

use gatepost_policy::Stage;
use gatepost_proto::{parse_path, Command, PathError, Reply, Verb};
use gatepost_queue::EnvelopeRecipient;
use gatepost_rewrite::RewriteError;

use crate::bdat::BdatState;
use crate::session::{Flow, Session};
use crate::storage::{FreeSpace, SPACE_FACTOR};
use crate::transaction::Transaction;

impl Session {
    /// Postfix's order: bad syntax, `smtpd_noop_commands`, non-SMTP
    /// commands, then (after a CONNECT reject) `503` for all but QUIT,
    /// then unknown commands and the command handlers.
    pub(crate) async fn dispatch(&mut self, cmd: Command) -> Flow {
        // A blank line is an error but no command (not counted).
        if cmd.is_empty() {
            let flow = self
                .reply(Reply::new(500, "5.5.2", "Error: bad syntax"))
                .await;
            self.errors += 1;
            return flow;
        }
        let settings = &self.ctx.settings;
        if settings
            .noop_commands
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&cmd.word))
        {
            let flow = self.reply(Reply::new(250, "2.0.0", "Ok")).await;
            self.count_junk();
            return flow;
        }
        if cmd.looks_non_smtp(&settings.forbidden_commands) {
            gatepost_log::warning(
                "smtpd",
                format!(
                    "non-SMTP command from {}: {}",
                    self.client_label,
                    gatepost_log::sanitize(&cmd.line)
                ),
            );
            self.counters.record(None, false);
            let _ = self
                .reply(Reply::new(
                    221,
                    "2.7.0",
                    "Error: I can break rules, too. Goodbye.",
                ))
                .await;
            return Flow::Close;
        }
        if self.access_denied && cmd.verb != Some(Verb::Quit) {
            let reply = Reply::new(
                503,
                "5.7.0",
                format!("Error: access denied for {}", self.client_label),
            );
            return self.answer(cmd.verb, reply).await;
        }
        let verb = match cmd.verb {
            Some(v) => v,
            None => {
                let reply = match self.milter_unknown(&cmd.word).await {
                    Some(reply) => reply,
                    None => Reply::new(500, "5.5.2", "Error: command not recognized"),
                };
                return self.answer(None, reply).await;
            }
        };
        if let Some(reply) = self.tls_required(verb) {
            return self.answer(Some(verb), reply).await;
        }
        match verb {
            Verb::Helo | Verb::Ehlo => self.helo(verb, &cmd.args).await,
            Verb::Mail => self.mail(&cmd.args).await,
            Verb::Rcpt => self.rcpt(&cmd.args).await,
            Verb::Data => self.data(&cmd.args).await,
            Verb::Rset => self.rset(&cmd.args).await,
            Verb::Noop => {
                self.answer(Some(verb), Reply::new(250, "2.0.0", "Ok"))
                    .await
            }
            Verb::Quit => {
                self.counters.record(Some(verb), true);
                let _ = self.reply(Reply::new(221, "2.0.0", "Bye")).await;
                Flow::Close
            }
            Verb::Vrfy => self.vrfy(&cmd.args).await,
            Verb::Etrn => self.etrn(&cmd.args).await,
            Verb::Starttls => self.starttls(&cmd.args).await,
            Verb::Auth => self.auth(&cmd.args).await,
            // Boxed: a BDAT message reads the commands between its chunks.
            Verb::Bdat => Box::pin(self.bdat(&cmd)).await,
            Verb::Xclient | Verb::Xforward => {
                self.answer(
                    Some(verb),
                    Reply::new(550, "5.7.0", "Error: insufficient authorization"),
                )
                .await
            }
        }
    }

    async fn helo(&mut self, verb: Verb, args: &str) -> Flow {
        if args.is_empty() {
            let text = if verb == Verb::Ehlo {
                "Syntax: EHLO hostname"
            } else {
                "Syntax: HELO hostname"
            };
            return self.answer(Some(verb), Reply::plain(501, text)).await;
        }
        let had_transaction = self.tx.is_some();
        self.end_transaction();
        if had_transaction {
            self.milter_abort().await;
        }
        let name: String = args
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        let previous = self.helo.clone();
        self.helo = Some(name);
        // As Postfix's: the new protocol only once the name is accepted
        // (a reject logs the previous one, `proto=SMTP helo=<name>`).
        let stage = if verb == Verb::Ehlo {
            Stage::Ehlo
        } else {
            Stage::Helo
        };
        let verdict = self.check(stage, None).await;
        if let Some(reply) = verdict.reply {
            self.helo = previous;
            return self.answer(Some(verb), reply).await;
        }
        let protocol_before = self.protocol;
        // HELO after EHLO keeps ESMTP, as in Postfix (downgrading would
        // defeat the pipelining test).
        if verb == Verb::Ehlo {
            self.protocol = "ESMTP";
        } else if self.protocol != "ESMTP" {
            self.protocol = "SMTP";
        }
        let helo_name = self.helo.clone().unwrap_or_default();
        if let Some(reply) = self.milter_helo(&helo_name, verb, protocol_before).await {
            return self.answer(Some(verb), reply).await;
        }
        if verb == Verb::Ehlo {
            log_discarded_keywords(&self.ctx.settings);
        }
        let security_lines = self.ehlo_security_lines();
        let s = &self.ctx.settings;
        let reply = if verb == Verb::Helo {
            Reply::plain(250, s.myhostname.clone())
        } else {
            let mut lines = vec![s.myhostname.clone()];
            let mut offer = |kw: &str, line: String| {
                if s.offers(kw) {
                    lines.push(line);
                }
            };
            offer("PIPELINING", "PIPELINING".into());
            offer(
                "SIZE",
                if s.message_size_limit > 0 {
                    format!("SIZE {}", s.message_size_limit)
                } else {
                    "SIZE".into()
                },
            );
            if !s.disable_vrfy {
                offer("VRFY", "VRFY".into());
            }
            offer("ETRN", "ETRN".into());
            for (keyword, line) in security_lines {
                offer(keyword, line);
            }
            offer("ENHANCEDSTATUSCODES", "ENHANCEDSTATUSCODES".into());
            offer("8BITMIME", "8BITMIME".into());
            offer("DSN", "DSN".into());
            if s.smtputf8 {
                offer("SMTPUTF8", "SMTPUTF8".into());
            }
            offer("CHUNKING", "CHUNKING".into());
            Reply::multiline(250, lines)
        };
        self.answer(Some(verb), reply).await
    }

    async fn mail(&mut self, args: &str) -> Flow {
        let verb = Some(Verb::Mail);
        if self.ctx.settings.helo_required && self.helo.is_none() {
            return self
                .answer(
                    verb,
                    Reply::new(503, "5.5.1", "Error: send HELO/EHLO first"),
                )
                .await;
        }
        if self.tx.is_some() {
            return self
                .answer(verb, Reply::new(503, "5.5.1", "Error: nested MAIL command"))
                .await;
        }
        if self.bdat != BdatState::None {
            return self
                .answer(verb, Reply::new(503, "5.5.1", "Error: MAIL after BDAT"))
                .await;
        }
        let parsed = parse_path(args, "FROM:", self.ctx.settings.strict_rfc821);
        if !matches!(parsed, Err(PathError::Syntax)) {
            if let Some(reply) = self.message_rate_exceeded() {
                return self.answer(verb, reply).await;
            }
        }
        let path = match parsed {
            Ok(p) => p,
            Err(PathError::Syntax) => {
                return self
                    .answer(
                        verb,
                        Reply::new(501, "5.5.4", "Syntax: MAIL FROM:<address>"),
                    )
                    .await
            }
            Err(PathError::BadAddress) => {
                self.warn_illegal_syntax("MAIL", raw_path(args, "FROM:"));
                return self
                    .answer(verb, Reply::new(501, "5.1.7", "Bad sender address syntax"))
                    .await;
            }
        };
        // A route-only path (`<@domain>`) is accepted as `@domain` unless
        // strict_rfc821_envelopes, as in Postfix.
        if self.ctx.settings.strict_rfc821 && path.address.starts_with('@') {
            self.warn_illegal_syntax("MAIL", raw_path(args, "FROM:"));
            return self
                .answer(verb, Reply::new(501, "5.1.7", "Bad sender address syntax"))
                .await;
        }
        let mut tx = Transaction::new(path.address.clone());
        // None: no AUTH=; Some(None): AUTH=<>.
        let mut auth_param: Option<Option<String>> = None;
        for (name, value) in &path.params {
            let value_str = value.as_deref().unwrap_or("");
            match name.as_str() {
                "SIZE" => match value_str.parse::<u64>() {
                    Ok(n) => tx.declared_size = n,
                    Err(_)
                        if !value_str.is_empty()
                            && value_str.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        let reply = Reply::new(
                            552,
                            "5.3.4",
                            "Message size exceeds file system imposed limit",
                        );
                        return self.answer(verb, reply).await;
                    }
                    Err(_) => {
                        return self
                            .answer(verb, Reply::new(501, "5.5.4", "Bad message size syntax"))
                            .await
                    }
                },
                // Another BODY= value (or none) is an unsupported option.
                "BODY"
                    if value_str.eq_ignore_ascii_case("7BIT")
                        || value_str.eq_ignore_ascii_case("8BITMIME") => {}
                "SMTPUTF8" if value.is_none() && self.ctx.settings.smtputf8 => tx.smtputf8 = true,
                "RET"
                    if value_str.eq_ignore_ascii_case("FULL")
                        || value_str.eq_ignore_ascii_case("HDRS") =>
                {
                    tx.ret = Some(value_str.to_ascii_uppercase())
                }
                "ENVID" if !value_str.is_empty() => tx.envid = Some(value_str.to_string()),
                "AUTH" => {
                    // As Postfix: only an earlier identity (not `<>`) makes
                    // a second AUTH= an error.
                    if matches!(auth_param, Some(Some(_))) {
                        let reply = Reply::new(503, "5.5.4", "Error: multiple AUTH= options");
                        return self.answer(verb, reply).await;
                    }
                    if value_str != "<>" {
                        tx.auth_author = Some(value_str.to_string());
                        auth_param = Some(Some(xtext_decode(value_str)));
                    } else if auth_param.is_none() {
                        auth_param = Some(None);
                    }
                }
                _ => {
                    let shown = match value {
                        Some(v) => format!("{name}={v}"),
                        None => name.clone(),
                    };
                    let reply = Reply::new(555, "5.5.4", format!("Unsupported option: {shown}"));
                    return self.answer(verb, reply).await;
                }
            }
        }
        // Only a logged-in client's word is kept (RFC 4954 section 5).
        tx.sender_auth = match (auth_param, &self.login) {
            (Some(given), Some(_)) => given,
            (None, Some(login)) if login.username.contains('@') => Some(login.username.clone()),
            _ => None,
        };
        let limit = self.ctx.settings.message_size_limit;
        if limit > 0 && tx.declared_size > limit {
            let reply = Reply::new(552, "5.3.4", "Message size exceeds fixed limit");
            self.log_with_sender("MAIL", &reply.to_string(), &tx.sender);
            return self.answer(verb, reply).await;
        }
        if !tx.sender.is_empty() {
            if let Some(reply) =
                self.address_syntax_check(&tx.sender, "MAIL", "5.1.7", "Bad sender address syntax")
            {
                return self.answer(verb, reply).await;
            }
        }
        if let Some(reply) = self.storage_check() {
            return self.answer(verb, reply).await;
        }
        self.tx = Some(Box::new(tx));
        let verdict = self.check(Stage::Mail, None).await;
        if let Some(reply) = verdict.reply {
            self.tx = None;
            return self.answer(verb, reply).await;
        }
        if let Some(reply) = self.milter_mail(args).await {
            self.tx = None;
            self.milter_abort().await;
            return self.answer(verb, reply).await;
        }
        if let Some(tx) = self.tx.as_mut() {
            tx.actions.extend(verdict.actions);
        }
        // `smtpd_delay_open_until_valid_rcpt = no`: the queue file now,
        // after the filters saw MAIL, as Postfix's smtpd does.
        if !self.ctx.settings.delay_open_until_valid_rcpt {
            if let Err(reply) = self.open_queue_file() {
                self.tx = None;
                self.milter_abort().await;
                return self.answer(verb, reply).await;
            }
        }
        self.answer(verb, Reply::new(250, "2.1.0", "Ok")).await
    }

    /// `warning: Illegal address syntax from client in CMD command: <addr>`.
    fn warn_illegal_syntax(&self, cmd: &str, raw: &str) {
        let raw = raw.trim_start_matches('<').trim_end_matches('>');
        gatepost_log::warning(
            "smtpd",
            format!(
                "Illegal address syntax from {} in {} command: <{}>",
                self.client_label,
                cmd,
                gatepost_log::sanitize(raw)
            ),
        );
    }

    /// `501` for addresses the resolver refuses (e.g. `u@1.2.3.4`), with
    /// Postfix's `Illegal address syntax` warning.
    fn address_syntax_check(&self, addr: &str, cmd: &str, dsn: &str, text: &str) -> Option<Reply> {
        match self.ctx.rewriter.resolve(addr) {
            Ok(_) => None,
            Err(RewriteError::BadAddress(_)) => {
                self.warn_illegal_syntax(cmd, addr);
                Some(Reply::new(501, dsn, text))
            }
            Err(RewriteError::Temporary(_) | RewriteError::TransportMaps { .. }) => Some(
                Reply::new(451, "4.3.0", format!("<{addr}>: Temporary lookup failure")),
            ),
            Err(RewriteError::Config(_)) => {
                Some(Reply::new(451, "4.3.5", "Server configuration error"))
            }
        }
    }

    /// `452 4.3.1 Insufficient system storage` when the queue file system
    /// is short of space (`queue_minfree`, 1.5 × `message_size_limit`):
    /// logged as a reject, then Postfix's warning.
    fn storage_check(&self) -> Option<Reply> {
        let settings = &self.ctx.settings;
        let space = FreeSpace::of(&self.ctx.queue)?;
        if !space.insufficient(settings.queue_minfree, settings.message_size_limit) {
            return None;
        }
        let reply = Reply::new(452, "4.3.1", "Insufficient system storage");
        self.log_action("reject", "MAIL", &reply.to_string());
        gatepost_log::warning(
            "smtpd",
            format!(
                "not enough free space in mail queue: {} bytes < {SPACE_FACTOR}*message size limit",
                space.bytes()
            ),
        );
        Some(reply)
    }

    fn log_with_sender(&self, stage: &str, text: &str, sender: &str) {
        gatepost_log::ActionLine {
            queue_id: None,
            action: "reject",
            stage,
            client: &self.client_label,
            text,
            from: Some(&gatepost_rewrite::quote_address(sender)),
            to: None,
            proto: Some(self.protocol),
            helo: self.helo.as_deref(),
        }
        .log();
    }

    async fn rcpt(&mut self, args: &str) -> Flow {
        let verb = Some(Verb::Rcpt);
        if self.tx.is_none() {
            return self
                .answer(verb, Reply::new(503, "5.5.1", "Error: need MAIL command"))
                .await;
        }
        if self.bdat != BdatState::None {
            return self
                .answer(verb, Reply::new(503, "5.5.1", "Error: RCPT after BDAT"))
                .await;
        }
        if let Some(tx) = self.tx.as_mut() {
            tx.rcpt_attempts += 1;
        }
        let parsed = parse_path(args, "TO:", self.ctx.settings.strict_rfc821);
        if !matches!(parsed, Err(PathError::Syntax)) {
            if let Some(reply) = self.recipient_rate_exceeded() {
                return self.answer(verb, reply).await;
            }
        }
        let strict = self.ctx.settings.strict_rfc821;
        let path = match parsed {
            Ok(p) if !(p.address.is_empty() || strict && p.address.starts_with('@')) => p,
            Ok(_) | Err(PathError::BadAddress) => {
                self.warn_illegal_syntax("RCPT", raw_path(args, "TO:"));
                return self
                    .answer(
                        verb,
                        Reply::new(501, "5.1.3", "Bad recipient address syntax"),
                    )
                    .await;
            }
            Err(PathError::Syntax) => {
                return self
                    .answer(verb, Reply::new(501, "5.5.4", "Syntax: RCPT TO:<address>"))
                    .await
            }
        };
        let mut notify = None;
        let mut orcpt = None;
        for (name, value) in &path.params {
            let value_str = value.as_deref().unwrap_or("");
            match name.as_str() {
                "NOTIFY" if valid_notify(value_str) => {
                    notify = Some(value_str.to_ascii_uppercase())
                }
                "NOTIFY" => {
                    gatepost_log::warning(
                        "smtpd",
                        format!(
                            "unknown DSN NOTIFY command value \"{v}\" in \"{v}\"",
                            v = gatepost_log::sanitize(value_str)
                        ),
                    );
                    let reply = Reply::new(501, "5.5.4", "Error: Bad NOTIFY parameter syntax");
                    return self.answer(verb, reply).await;
                }
                "ORCPT" if value_str.contains(';') => orcpt = Some(value_str.to_string()),
                "ORCPT" => {
                    let reply = Reply::new(501, "5.5.4", "Error: Bad ORCPT parameter syntax");
                    return self.answer(verb, reply).await;
                }
                _ => {
                    let shown = match value {
                        Some(v) => format!("{name}={v}"),
                        None => name.clone(),
                    };
                    let reply = Reply::new(555, "5.5.4", format!("Unsupported option: {shown}"));
                    return self.answer(verb, reply).await;
                }
            }
        }
        let accepted = self.tx.as_ref().map(|t| t.recipients.len()).unwrap_or(0);
        if accepted >= self.ctx.settings.recipient_limit {
            let reply = Reply::new(452, "4.5.3", "Error: too many recipients");
            let attempts = self.tx.as_ref().map(|t| t.rcpt_attempts).unwrap_or(0);
            let overshoot = attempts.saturating_sub(self.ctx.settings.recipient_limit);
            self.counters.record(verb, false);
            let flow = self.reply(reply).await;
            if overshoot > self.ctx.settings.recipient_overshoot_limit {
                self.errors += 1;
            }
            return flow;
        }
        let address = path.address.clone();
        if !address.eq_ignore_ascii_case("postmaster") {
            if let Some(reply) =
                self.address_syntax_check(&address, "RCPT", "5.1.3", "Bad recipient address syntax")
            {
                return self.answer(verb, reply).await;
            }
        }
        let verdict = self.check(Stage::Rcpt, Some(&address)).await;
        if let Some(reply) = verdict.reply {
            return self.answer(verb, reply).await;
        }
        if let Some(reply) = self.milter_rcpt(args, &address).await {
            return self.answer(verb, reply).await;
        }
        if let Err(reply) = self.open_queue_file() {
            return self.answer(verb, reply).await;
        }
        if let Some(tx) = self.tx.as_mut() {
            tx.actions.extend(verdict.actions);
            tx.recipients.push(EnvelopeRecipient {
                address: address.clone(),
                original: address,
                notify,
                orcpt,
            });
        }
        self.answer(verb, Reply::new(250, "2.1.5", "Ok")).await
    }

    /// Open the queue file at the first accepted recipient (at MAIL FROM
    /// with `smtpd_delay_open_until_valid_rcpt = no`) and log
    /// `ID: client=name[addr]`.
    fn open_queue_file(&mut self) -> Result<(), Reply> {
        let sasl = self.sasl_log_suffix();
        let Some(tx) = self.tx.as_mut() else {
            return Ok(());
        };
        if tx.writer.is_some() {
            return Ok(());
        }
        match self.ctx.queue.new_message() {
            Ok(writer) => {
                gatepost_log::info(
                    "smtpd",
                    format!("{}: client={}{}", writer.id(), self.client_label, sasl),
                );
                tx.writer = Some(writer);
                Ok(())
            }
            Err(e) => {
                gatepost_log::warning("smtpd", format!("queue file create: {e}"));
                Err(Reply::new(451, "4.3.0", "Error: queue file write error"))
            }
        }
    }

    async fn rset(&mut self, args: &str) -> Flow {
        if !args.is_empty() {
            return self
                .answer(Some(Verb::Rset), Reply::new(501, "5.5.4", "Syntax: RSET"))
                .await;
        }
        let had_transaction = self.tx.is_some();
        self.end_transaction();
        if had_transaction {
            self.milter_abort().await;
        }
        self.answer(Some(Verb::Rset), Reply::new(250, "2.0.0", "Ok"))
            .await
    }

    async fn vrfy(&mut self, args: &str) -> Flow {
        let verb = Some(Verb::Vrfy);
        if self.ctx.settings.disable_vrfy {
            return self
                .answer(verb, Reply::new(502, "5.5.1", "VRFY command is disabled"))
                .await;
        }
        if args.is_empty() {
            return self
                .answer(
                    verb,
                    Reply::new(501, "5.5.4", "Syntax: VRFY address [SMTPUTF8]"),
                )
                .await;
        }
        let target = args.split_whitespace().next().unwrap_or(args);
        let address = target
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string();
        let verdict = self.check(Stage::Vrfy, Some(&address)).await;
        if let Some(reply) = verdict.reply {
            return self.answer(verb, reply).await;
        }
        self.answer(verb, Reply::new(252, "2.0.0", args.to_string()))
            .await
    }
}

/// Postfix's `discarding EHLO keywords: ...` at EHLO, in its keyword
/// table order, unless `silent-discard` is listed (or ENHANCEDSTATUSCODES,
/// which changes every reply instead).
fn log_discarded_keywords(settings: &crate::settings::SmtpdSettings) {
    const KNOWN: [&str; 14] = [
        "8BITMIME",
        "AUTH",
        "ETRN",
        "PIPELINING",
        "SIZE",
        "VERP",
        "VRFY",
        "XCLIENT",
        "XFORWARD",
        "STARTTLS",
        "ENHANCEDSTATUSCODES",
        "DSN",
        "SMTPUTF8",
        "CHUNKING",
    ];
    let listed = |k: &str| settings.discard_ehlo_keywords.iter().any(|d| d == k);
    if listed("SILENT-DISCARD") || listed("ENHANCEDSTATUSCODES") {
        return;
    }
    let names: Vec<&str> = KNOWN.into_iter().filter(|k| listed(k)).collect();
    if !names.is_empty() {
        gatepost_log::info(
            "smtpd",
            format!("discarding EHLO keywords: {}", names.join(" ")),
        );
    }
}

/// NOTIFY=NEVER, or a comma list of SUCCESS, FAILURE, DELAY.
fn valid_notify(value: &str) -> bool {
    if value.eq_ignore_ascii_case("NEVER") {
        return true;
    }
    !value.is_empty()
        && value.split(',').all(|w| {
            ["SUCCESS", "FAILURE", "DELAY"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(w))
        })
}

/// The path text after `FROM:` / `TO:` up to the first parameter, for log
/// lines about malformed addresses.
fn raw_path<'a>(args: &'a str, keyword: &str) -> &'a str {
    let rest = match args.get(..keyword.len()) {
        Some(head) if head.eq_ignore_ascii_case(keyword) => &args[keyword.len()..],
        _ => args,
    };
    let rest = rest.trim_start();
    match rest.find('>') {
        Some(end) if rest.starts_with('<') => &rest[..=end],
        _ => rest.split_whitespace().next().unwrap_or(""),
    }
}

/// RFC 3461 xtext (`+2B` for `+`); a malformed value is kept as given.
fn xtext_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'+' {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => return value.to_string(),
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod xtext_tests {
    #[test]
    fn xtext_decodes_and_keeps_malformed_values() {
        assert_eq!(super::xtext_decode("alice+40spec.test"), "alice@spec.test");
        assert_eq!(super::xtext_decode("a+2Bb"), "a+b");
        assert_eq!(super::xtext_decode("bad+zz"), "bad+zz");
    }
}
