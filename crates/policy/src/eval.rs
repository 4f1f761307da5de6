//! Evaluation of one restriction list (smtpd_check.c `generic_checks()`):
//! left to right, first OK or REJECT ends the list, `warn_if_reject` for the
//! next restriction, pending `defer_if_permit` / `defer_if_reject`, the
//! stop rule, recursion through classes and access-table results (limit
//! 100), and the one path that turns a decision into a reply
//! (`smtpd_check_reject()`, docs/restrictions.md). The individual
//! restrictions live in `dispatch.rs`, `access.rs`, `relay.rs` and
//! `dnscheck.rs`; the per-stage drivers in `stages.rs`.

use std::future::Future;
use std::pin::Pin;

use crate::restriction::{AccessTarget, RestrictionList};
use crate::{reply, Facts, LogEvent, MessageAction, Policy, Stage, TraceStep};

/// `SMTPD_NAME_*`: the "class" words of replies.
pub(crate) const CLIENT: &str = "Client host";
pub(crate) const REV_CLIENT: &str = "Unverified Client host";
pub(crate) const HELO: &str = "Helo command";
pub(crate) const SENDER: &str = crate::dsn::CLASS_SENDER;
pub(crate) const RECIPIENT: &str = crate::dsn::CLASS_RECIPIENT;
pub(crate) const ETRN: &str = "Etrn command";
pub(crate) const DATA: &str = "Data command";
pub(crate) const EOD: &str = "End-of-data";

/// Recursion limit for classes and access-table restriction lists.
pub(crate) const MAX_RECURSION: usize = 100;

/// Result of one restriction or list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Dunno,
    Ok,
    Reject,
}

/// The request was decided by an error (server configuration error,
/// temporary lookup failure, hangup); the reply is in `Check::error_text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Abort;

pub(crate) type Res = Result<Status, Abort>;

/// Postfix's `MAIL_ERROR_*` classes of a reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    Policy,
    Protocol,
    Bounce,
    /// Configuration errors: never turned into warnings.
    Software,
    /// Temporary lookup failures: never turned into warnings (docs/restrictions.md#deferred-decisions).
    Resource,
}

/// A remembered `defer_if_permit` / `defer_if_reject` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferral {
    pub(crate) class: ErrorClass,
    pub(crate) code: u16,
    pub(crate) dsn: String,
    pub(crate) reason: String,
}

impl Deferral {
    fn describe(&self) -> String {
        format!("{} {} {}", self.code, self.dsn, self.reason)
    }
}

/// The state of one check (Postfix keeps this in `SMTPD_STATE`).
pub(crate) struct Check<'a> {
    pub p: &'a Policy,
    pub facts: &'a Facts,
    /// The stage being checked (`state->where`).
    pub stage: Stage,
    pub helo: Option<String>,
    pub sender: Option<String>,
    pub recipient: Option<String>,
    pub etrn: Option<String>,
    /// `name[addr]`.
    pub namaddr: String,
    pub recursion: usize,
    pub warn_if_reject: usize,
    pub defer_if_permit: Option<Deferral>,
    pub defer_if_reject: Option<Deferral>,
    pub discard: bool,
    pub hold: bool,
    pub hangup: bool,
    pub error_text: String,
    pub rcpt_checked: bool,
    pub sender_checked: bool,
    pub events: Vec<LogEvent>,
    pub actions: Vec<MessageAction>,
    pub trace: Vec<TraceStep>,
}

impl<'a> Check<'a> {
    pub(crate) fn new(p: &'a Policy, facts: &'a Facts, stage: Stage, discard: bool) -> Check<'a> {
        Check {
            p,
            facts,
            stage,
            helo: facts.helo.clone(),
            sender: facts.sender.clone(),
            recipient: facts.recipient.clone(),
            etrn: facts.etrn_domain.clone(),
            namaddr: format!("{}[{}]", facts.client_name, facts.client_addr),
            recursion: 0,
            warn_if_reject: 0,
            defer_if_permit: None,
            defer_if_reject: None,
            discard,
            hold: false,
            hangup: false,
            error_text: String::new(),
            rcpt_checked: false,
            sender_checked: false,
            events: Vec::new(),
            actions: Vec::new(),
            trace: Vec::new(),
        }
    }

    /// Log a `warning: ...` line.
    pub(crate) fn warning(&mut self, text: impl Into<String>) {
        self.events.push(LogEvent {
            action: LogEvent::WARNING.to_string(),
            text: text.into(),
        });
    }

    /// Log a plain informational line (no session context).
    pub(crate) fn note(&mut self, text: impl Into<String>) {
        self.events.push(LogEvent {
            action: LogEvent::NOTE.to_string(),
            text: text.into(),
        });
    }

    /// Log `ID: ACTION: STAGE from name[addr]: TEXT; ...` (`log_whatsup`).
    pub(crate) fn whatsup(&mut self, action: &str, text: impl Into<String>) {
        self.events.push(LogEvent {
            action: action.to_string(),
            text: text.into(),
        });
    }

    /// `smtpd_dsn_fix()` with its log line.
    pub(crate) fn dsn_fix(&mut self, dsn: &str, class: &str) -> String {
        let (fixed, note) = crate::dsn::dsn_fix(dsn, class);
        if let Some(n) = note {
            self.note(n);
        }
        fixed
    }

    /// `SMTPD_CHECK_RESET()`.
    pub(crate) fn reset(&mut self) {
        self.recursion = 0;
        self.warn_if_reject = 0;
        self.defer_if_reject = None;
    }

    /// `smtpd_check_reject()`: the one path every restriction reply takes.
    /// Returns `Reject`, or `Dunno` when only warning (`warn_if_reject`).
    pub(crate) fn reject(&mut self, class: ErrorClass, code: u16, dsn: &str, text: &str) -> Status {
        let warn = self.warn_if_reject > 0
            && class != ErrorClass::Software
            && class != ErrorClass::Resource;
        let (formatted, warning) = reply::format(code, dsn, text);
        if let Some(w) = warning {
            self.warning(w);
        }
        let s = reply::sanitize(&formatted);
        if !warn && s.starts_with('5') {
            if let Some(d) = self.defer_if_reject.take() {
                self.warn_if_reject = 0;
                return self.reject(d.class, d.code, &d.dsn, &d.reason);
            }
        }
        let s = reply::finish(&s, self.p.s.soft_bounce);
        self.whatsup(if warn { "reject_warning" } else { "reject" }, s.clone());
        self.error_text = s;
        if warn {
            Status::Dunno
        } else {
            Status::Reject
        }
    }

    /// `defer_if()`: remember the first reason only.
    pub(crate) fn defer_if(
        slot: &mut Option<Deferral>,
        class: ErrorClass,
        code: u16,
        dsn: &str,
        reason: String,
    ) {
        if slot.is_none() {
            *slot = Some(Deferral {
                class,
                code,
                dsn: dsn.to_string(),
                reason,
            });
        }
    }

    /// `DEFER_IF_PERMIT*()`: remember a deferral when the tempfail action is
    /// `defer_if_permit` and `warn_if_reject` is off, else reject now.
    pub(crate) fn defer_if_permit(
        &mut self,
        use_defer_if_permit: bool,
        class: ErrorClass,
        code: u16,
        dsn: &str,
        reason: String,
    ) -> Status {
        if self.warn_if_reject == 0 && use_defer_if_permit {
            Self::defer_if(&mut self.defer_if_permit, class, code, dsn, reason);
            Status::Dunno
        } else {
            self.reject(class, code, dsn, &reason)
        }
    }

    /// `DEFER_IF_REJECT*()`.
    pub(crate) fn defer_if_reject(
        &mut self,
        class: ErrorClass,
        code: u16,
        dsn: &str,
        reason: String,
    ) {
        Self::defer_if(&mut self.defer_if_reject, class, code, dsn, reason);
    }

    /// `reject_server_error()`: 451 4.3.5, ends the whole request.
    pub(crate) fn server_error(&mut self) -> Abort {
        self.reject(
            ErrorClass::Software,
            451,
            "4.3.5",
            "Server configuration error",
        );
        Abort
    }

    /// `reject_dict_retry()`: 451 4.3.0, ends the whole request.
    pub(crate) fn dict_retry(&mut self, reply_name: &str) -> Abort {
        self.reject(
            ErrorClass::Resource,
            451,
            "4.3.0",
            &format!("<{reply_name}>: Temporary lookup failure"),
        );
        Abort
    }

    /// Where the list was set, for traces.
    fn origin(&self, list: &str) -> Option<(String, usize)> {
        self.p.origins.get(list).cloned()
    }

    /// Add a trace step and return its index (its result is filled in later).
    pub(crate) fn trace_step(&mut self, list: &str, restriction: &str) -> usize {
        let origin = self.origin(list);
        self.trace.push(TraceStep {
            list: list.to_string(),
            restriction: restriction.to_string(),
            origin,
            result: String::new(),
        });
        self.trace.len() - 1
    }

    /// Describe what a restriction did, for the trace.
    pub(crate) fn describe(&self, res: Res, before: &Snapshot) -> String {
        match res {
            Err(Abort) | Ok(Status::Reject) => format!("REJECT {}", self.error_text),
            Ok(Status::Ok) => "OK".to_string(),
            Ok(Status::Dunno) => {
                if let (None, Some(d)) = (&before.dip, &self.defer_if_permit) {
                    return format!("DEFER_IF_PERMIT {}", d.describe());
                }
                if let (None, Some(d)) = (&before.dir, &self.defer_if_reject) {
                    return format!("DEFER_IF_REJECT {}", d.describe());
                }
                if let Some(e) = self.events[before.events..]
                    .iter()
                    .rev()
                    .find(|e| e.action == "reject_warning")
                {
                    return format!("REJECT_WARNING {}", e.text);
                }
                "DUNNO".to_string()
            }
        }
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            dip: self.defer_if_permit.clone(),
            dir: self.defer_if_reject.clone(),
            events: self.events.len(),
        }
    }

    /// `generic_checks()`.
    pub(crate) fn generic_checks<'s>(
        &'s mut self,
        list: &'s RestrictionList,
        reply_name: &'s str,
        class: &'static str,
        def_acl: Option<AccessTarget>,
    ) -> Pin<Box<dyn Future<Output = Res> + Send + 's>> {
        Box::pin(async move {
            let saved_recursion = self.recursion;
            self.recursion += 1;
            let mut status = Status::Dunno;
            for (i, item) in list.items.iter().enumerate() {
                if self.discard {
                    break;
                }
                let idx = self.trace_step(&list.name, &item.text);
                if matches!(
                    item.restriction,
                    crate::restriction::Restriction::WarnIfReject
                ) {
                    if self.warn_if_reject == 0 {
                        self.warn_if_reject = self.recursion;
                    }
                    self.trace[idx].result = "WARN_IF_REJECT".to_string();
                    continue;
                }
                let before = self.snapshot();
                let next = list.items.get(i + 1).map(|n| n.text.as_str());
                let res = self
                    .apply(&item.restriction, next, reply_name, class, def_acl)
                    .await;
                let described = self.describe(res, &before);
                self.trace[idx].result = described;
                status = match res {
                    Ok(s) => s,
                    Err(Abort) => {
                        self.recursion = saved_recursion;
                        return Err(Abort);
                    }
                };
                if self.warn_if_reject >= self.recursion {
                    self.warn_if_reject = 0;
                }
                if status != Status::Dunno {
                    break;
                }
                if self.defer_if_permit.is_some() && self.defer_if_reject.is_some() {
                    break;
                }
            }
            self.recursion = saved_recursion;
            if self.warn_if_reject >= self.recursion {
                self.warn_if_reject = 0;
            }
            Ok(status)
        })
    }
}

/// State before a restriction ran, to describe its effect.
pub(crate) struct Snapshot {
    dip: Option<Deferral>,
    dir: Option<Deferral>,
    events: usize,
}
