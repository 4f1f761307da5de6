//! `check_*_access` restrictions: the lookup sequences for host names,
//! addresses and mail addresses, and the translation of a table result into
//! a decision (`check_table_result()`, access(5)): permits,
//! rejects, deferrals, logging actions, message actions (HOLD, DISCARD,
//! FILTER, REDIRECT, BCC, PREPEND), HANGUP and nested restriction lists.

use std::collections::HashSet;
use std::net::IpAddr;

use gatepost_table::keys::{address_keys, domain_keys, ip_keys};
use gatepost_table::TableError;

use crate::access_result::{is_header, parse, AccessResult};
use crate::eval::{
    Check, ErrorClass, Res, Status, CLIENT, ETRN, HELO, RECIPIENT, REV_CLIENT, SENDER,
};
use crate::lookup::lookup_keys;
use crate::restriction::{AccessTarget, Parser, TableRef};
use crate::{MessageAction, Stage};
use gatepost_proto::hostname::valid_hostaddr;

/// The value an unusable table is treated as having returned.
const TABLE_FAILURE_VALUE: &str = "451 4.3.5 Server configuration error";

impl Check<'_> {
    /// Run `check_<target>_access` with table `t`.
    pub(crate) async fn check_access_target(&mut self, target: AccessTarget, t: &TableRef) -> Res {
        let facts = self.facts;
        match target {
            AccessTarget::Client => {
                let namaddr = self.namaddr.clone();
                self.check_namadr_access(
                    t,
                    &facts.client_name,
                    facts.client_addr,
                    &namaddr,
                    CLIENT,
                    target,
                )
                .await
            }
            AccessTarget::ReverseClient => {
                let name = facts.reverse_client_name.clone();
                let st = self
                    .check_namadr_access(t, &name, facts.client_addr, &name, REV_CLIENT, target)
                    .await?;
                self.forbid_allowlist(target.command(), st, &name)
            }
            AccessTarget::Helo => match self.helo.clone() {
                Some(h) => Ok(self.check_domain_access(t, &h, &h, HELO, target).await?.0),
                None => Ok(Status::Dunno),
            },
            AccessTarget::Sender => match self.sender.clone() {
                Some(s) if s.is_empty() => {
                    let key = self.p.s.null_access_key.clone();
                    Ok(self
                        .check_access(t, &[key], "", "", SENDER, target)
                        .await?
                        .0)
                }
                Some(s) => self.check_mail_access(t, &s, &s, SENDER, target).await,
                None => Ok(Status::Dunno),
            },
            AccessTarget::Recipient => match self.recipient.clone() {
                Some(r) => self.check_mail_access(t, &r, &r, RECIPIENT, target).await,
                None => Ok(Status::Dunno),
            },
            AccessTarget::Etrn => match self.etrn.clone() {
                Some(d) => Ok(self.check_domain_access(t, &d, &d, ETRN, target).await?.0),
                None => Ok(Status::Dunno),
            },
        }
    }

    /// `forbid_allowlist()`: OK is not allowed from this restriction.
    pub(crate) fn forbid_allowlist(&mut self, name: &str, st: Status, target: &str) -> Res {
        if !self.discard && st == Status::Ok {
            self.warning(format!("restriction {name} returns OK for {target}"));
            self.warning("this is not allowed for security reasons");
            self.warning("use DUNNO instead of OK if you want to make an exception");
            return Err(self.server_error());
        }
        Ok(st)
    }

    /// Look up `keys` in `t`; returns `(status, found)`.
    pub(crate) async fn check_access(
        &mut self,
        t: &TableRef,
        keys: &[String],
        datum: &str,
        rn: &str,
        class: &'static str,
        def_acl: AccessTarget,
    ) -> Result<(Status, bool), crate::eval::Abort> {
        let found = match &t.table {
            Ok(table) => lookup_keys(table.as_ref(), keys),
            Err(why) => Err(TableError::Config {
                table: t.spec.clone(),
                why: why.clone(),
            }),
        };
        match found {
            Ok(Some(value)) => {
                let st = self
                    .table_result(&t.spec, &value, datum, rn, class, Some(def_acl))
                    .await?;
                Ok((st, true))
            }
            Ok(None) => Ok((Status::Dunno, false)),
            Err(TableError::Temporary { table, why }) => {
                self.warning(format!("{table}: table lookup problem: {why}"));
                Err(self.dict_retry(rn))
            }
            Err(TableError::Config { table, why }) => {
                self.warning(format!("{table}: table lookup problem: {why}"));
                let st = self
                    .table_result(
                        &t.spec,
                        TABLE_FAILURE_VALUE,
                        datum,
                        rn,
                        class,
                        Some(def_acl),
                    )
                    .await?;
                Ok((st, true))
            }
        }
    }

    /// `check_domain_access()`: the name, then its parent domains (none for
    /// a numeric name).
    pub(crate) async fn check_domain_access(
        &mut self,
        t: &TableRef,
        domain: &str,
        rn: &str,
        class: &'static str,
        def_acl: AccessTarget,
    ) -> Result<(Status, bool), crate::eval::Abort> {
        let keys = if valid_hostaddr(domain) {
            vec![domain.to_string()]
        } else {
            let k = domain_keys(domain, self.p.s.access_parent_match);
            if k.is_empty() {
                vec![domain.to_string()]
            } else {
                k
            }
        };
        self.check_access(t, &keys, domain, rn, class, def_acl)
            .await
    }

    /// `check_namadr_access()`: host name keys, then address keys.
    async fn check_namadr_access(
        &mut self,
        t: &TableRef,
        name: &str,
        addr: IpAddr,
        rn: &str,
        class: &'static str,
        def_acl: AccessTarget,
    ) -> Res {
        let (st, found) = self
            .check_domain_access(t, name, rn, class, def_acl)
            .await?;
        if st != Status::Dunno || found {
            return Ok(st);
        }
        let keys = ip_keys(addr);
        let keys = if keys.is_empty() {
            vec![addr.to_string()]
        } else {
            keys
        };
        let (st, _) = self
            .check_access(t, &keys, &addr.to_string(), rn, class, def_acl)
            .await?;
        Ok(st)
    }

    /// `check_mail_access()`: resolve, then the address key sequence; an OK
    /// for a routed recipient is downgraded to DUNNO unless
    /// `allow_untrusted_routing = yes`.
    async fn check_mail_access(
        &mut self,
        t: &TableRef,
        addr: &str,
        rn: &str,
        class: &'static str,
        def_acl: AccessTarget,
    ) -> Res {
        let resolved = match self.resolve(addr)? {
            Some(r) => r,
            None => return Ok(Status::Dunno),
        };
        let rcpt = resolved.recipient.clone();
        if !rcpt.contains('@') {
            self.warning(format!("check_mail_access: no @domain in address: {rcpt}"));
            return Ok(Status::Dunno);
        }
        let s = &self.p.s;
        let mut keys = Vec::new();
        let external = gatepost_rewrite::quote_address(&rcpt);
        for form in [external.as_str(), rcpt.as_str()] {
            for k in address_keys(form, &s.recipient_delimiter, s.access_parent_match) {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        if keys.is_empty() {
            keys.push(rcpt.clone());
        }
        let suspicious = !s.allow_untrusted_routing && resolved.routed && class == RECIPIENT;
        let (st, _) = self
            .check_access(t, &keys, &rcpt, rn, class, def_acl)
            .await?;
        if st == Status::Ok && suspicious {
            return Ok(Status::Dunno);
        }
        Ok(st)
    }

    /// May a message action be taken here (`can_delegate_action()` /
    /// `not_in_client_helo()`)? Not outside a mail transaction.
    fn can_delegate(&mut self, table: &str, action: &str) -> bool {
        if self.sender.is_none() {
            self.warning(format!(
                "access table {table}: with smtpd_delay_reject=no, action {action} is always skipped in {CLIENT} or {HELO} restrictions"
            ));
            return false;
        }
        true
    }

    /// The reply of a REJECT, DEFER or `NNN text` access result:
    /// `CODE DSN <name>: Class rejected: TEXT` (`Access denied` by default).
    fn access_reject(
        &mut self,
        code: u16,
        dsn: &str,
        text: &str,
        rn: &str,
        class: &'static str,
    ) -> Status {
        let dsn = self.dsn_fix(dsn, class);
        let text = if text.is_empty() {
            "Access denied"
        } else {
            text
        };
        self.reject(
            ErrorClass::Policy,
            code,
            &dsn,
            &format!("<{rn}>: {class} rejected: {text}"),
        )
    }

    /// `check_table_result()`.
    pub(crate) async fn table_result(
        &mut self,
        table: &str,
        value: &str,
        datum: &str,
        rn: &str,
        class: &'static str,
        def_acl: Option<AccessTarget>,
    ) -> Res {
        let s = &self.p.s;
        let result = parse(value);
        // REJECT and DEFER differ only in their code parameter.
        let reject_code = match result {
            AccessResult::Reject { .. } => s.access_map_reject_code,
            _ => s.access_map_defer_code,
        };
        match result {
            AccessResult::Dunno => Ok(Status::Dunno),
            AccessResult::Reject { dsn, text } | AccessResult::Defer { dsn, text } => {
                Ok(self.access_reject(reject_code, &dsn, text, rn, class))
            }
            AccessResult::Hangup(text) => {
                self.whatsup("hangup", text);
                self.hangup = true;
                self.error_text = "421 4.7.0 Service unavailable - closing connection".to_string();
                Err(crate::eval::Abort)
            }
            AccessResult::Info(text) => {
                self.whatsup("info", text);
                Ok(Status::Dunno)
            }
            AccessResult::Warn(text) => {
                self.whatsup("warn", text);
                Ok(Status::Dunno)
            }
            AccessResult::Filter(text) => {
                if !self.can_delegate(table, "FILTER") {
                    return Ok(Status::Dunno);
                }
                if text.is_empty() {
                    self.warning(format!(
                        "access table {table} entry \"{datum}\" has FILTER entry without value"
                    ));
                } else if !text.contains(':') {
                    self.warning(format!(
                        "access table {table} entry \"{datum}\" requires transport:destination"
                    ));
                } else {
                    self.whatsup("filter", format!("<{rn}>: {class} triggers FILTER {text}"));
                    self.actions.push(MessageAction::Filter(text.to_string()));
                }
                Ok(Status::Dunno)
            }
            AccessResult::Hold(text) => {
                if !self.can_delegate(table, "HOLD") || self.hold {
                    return Ok(Status::Dunno);
                }
                let t = if text.is_empty() {
                    "triggers HOLD action"
                } else {
                    text
                };
                self.whatsup("hold", format!("<{rn}>: {class} {t}"));
                self.hold = true;
                self.actions.push(MessageAction::Hold(text.to_string()));
                Ok(Status::Dunno)
            }
            AccessResult::Discard(text) => {
                if !self.can_delegate(table, "DISCARD") {
                    return Ok(Status::Dunno);
                }
                let t = if text.is_empty() {
                    "triggers DISCARD action"
                } else {
                    text
                };
                self.whatsup("discard", format!("<{rn}>: {class} {t}"));
                self.discard = true;
                self.actions.push(MessageAction::Discard(text.to_string()));
                Ok(Status::Ok)
            }
            AccessResult::Redirect(text) | AccessResult::Bcc(text) => {
                let is_redirect = matches!(parse(value), AccessResult::Redirect(_));
                let word = if is_redirect { "REDIRECT" } else { "BCC" };
                if !self.can_delegate(table, word) {
                    return Ok(Status::Dunno);
                }
                if !text.contains('@') {
                    self.warning(format!(
                        "access table {table} entry \"{datum}\" requires user@domain target"
                    ));
                    return Ok(Status::Dunno);
                }
                self.whatsup(
                    &word.to_ascii_lowercase(),
                    format!("<{rn}>: {class} triggers {word} {text}"),
                );
                self.actions.push(if is_redirect {
                    MessageAction::Redirect(text.to_string())
                } else {
                    MessageAction::Bcc(text.to_string())
                });
                Ok(Status::Dunno)
            }
            AccessResult::DeferIfPermit { dsn, text } => {
                let code = s.access_map_defer_code;
                let dsn = self.dsn_fix(&dsn, class);
                let text = if text.is_empty() {
                    "Service unavailable"
                } else {
                    text
                };
                Ok(self.defer_if_permit(
                    true,
                    ErrorClass::Policy,
                    code,
                    &dsn,
                    format!("<{rn}>: {class} rejected: {text}"),
                ))
            }
            AccessResult::DeferIfReject { dsn, text } => {
                let code = s.access_map_defer_code;
                let dsn = self.dsn_fix(&dsn, class);
                let text = if text.is_empty() {
                    "Service unavailable"
                } else {
                    text
                };
                self.defer_if_reject(
                    ErrorClass::Policy,
                    code,
                    &dsn,
                    format!("<{rn}>: {class} rejected: {text}"),
                );
                Ok(Status::Dunno)
            }
            AccessResult::Prepend(text) => {
                if !self.can_delegate(table, "PREPEND") {
                    return Ok(Status::Dunno);
                }
                if self.stage == Stage::EndOfMessage {
                    self.warning(format!(
                        "access table {table}: action PREPEND must be used before smtpd_end_of_data_restrictions"
                    ));
                } else if !is_header(text) {
                    self.warning(format!(
                        "access table {table} entry \"{datum}\" requires header: text"
                    ));
                } else {
                    self.actions.push(MessageAction::Prepend(text.to_string()));
                }
                Ok(Status::Dunno)
            }
            AccessResult::Permit(_) => Ok(Status::Ok),
            AccessResult::Code { code, dsn, text } => {
                Ok(self.access_reject(code, &dsn, text, rn, class))
            }
            AccessResult::TableReference => {
                self.warning(format!(
                    "access table {table} has entry with lookup table: {value}"
                ));
                self.warning("do not specify lookup tables inside SMTPD access maps");
                self.warning("define a restriction class and specify its name instead.");
                Err(self.server_error())
            }
            AccessResult::RestrictionList(list) => {
                if self.recursion > crate::eval::MAX_RECURSION {
                    self.warning(format!(
                        "access table {table} entry {value} causes unreasonable recursion"
                    ));
                    return Err(self.server_error());
                }
                let tokens = gatepost_config::split_list(list);
                if tokens.is_empty() {
                    self.warning(format!(
                        "access table {table} entry {value} has empty value"
                    ));
                    return Ok(Status::Ok);
                }
                let parsed = {
                    let classes: HashSet<String> = self.p.classes.keys().cloned().collect();
                    let open =
                        |spec: &str| -> Result<std::sync::Arc<dyn gatepost_table::Table>, String> {
                            Err(format!(
                                "{spec}: lookup tables are not allowed inside access maps"
                            ))
                        };
                    let mut parser = Parser {
                        classes: &classes,
                        open: &open,
                        cache: Default::default(),
                    };
                    parser.parse(table, &tokens)
                };
                self.generic_checks(&parsed, rn, class, def_acl).await
            }
        }
    }
}
