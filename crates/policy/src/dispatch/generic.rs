//! The generic restrictions (smtpd_check.c `generic_checks()`): `permit`,
//! `reject`, `defer`, `defer_if_permit`, `defer_if_reject`, `sleep`,
//! restriction classes, unknown names, `reject_unauth_pipelining` and
//! `reject_plaintext_session`; and the reply for a failing match list.

use std::time::Duration;

use crate::eval::{Check, ErrorClass, Res, Status};
use crate::restriction::AccessTarget;

impl Check<'_> {
    /// `permit`: OK; anything after it is ignored, with a warning.
    pub(super) fn permit(&mut self, next: Option<&str>) -> Status {
        if let Some(n) = next {
            self.warning(format!("restriction `{n}' after `permit' is ignored"));
        }
        Status::Ok
    }

    /// `defer`: `defer_code` 4.3.2 "Try again later".
    pub(super) fn defer_restriction(
        &mut self,
        next: Option<&str>,
        rn: &str,
        class: &str,
    ) -> Status {
        let code = self.p.s.defer_code;
        let st = self.reject(
            ErrorClass::Policy,
            code,
            "4.3.2",
            &format!("<{rn}>: {class} rejected: Try again later"),
        );
        if let (Some(n), 0) = (next, self.warn_if_reject) {
            self.warning(format!("restriction `{n}' after `defer' is ignored"));
        }
        st
    }

    /// `reject`: `reject_code` 5.7.1 "Access denied".
    pub(super) fn reject_restriction(
        &mut self,
        next: Option<&str>,
        rn: &str,
        class: &str,
    ) -> Status {
        let code = self.p.s.reject_code;
        let st = self.reject(
            ErrorClass::Policy,
            code,
            "5.7.1",
            &format!("<{rn}>: {class} rejected: Access denied"),
        );
        if let (Some(n), 0) = (next, self.warn_if_reject) {
            self.warning(format!("restriction `{n}' after `reject' is ignored"));
        }
        st
    }

    /// `defer_if_permit` as a restriction name.
    pub(super) fn defer_if_permit_restriction(&mut self, rn: &str, class: &str) -> Status {
        self.defer_if_permit(
            true,
            ErrorClass::Policy,
            450,
            "4.7.0",
            format!("<{rn}>: {class} rejected: defer_if_permit requested"),
        )
    }

    /// `defer_if_reject` as a restriction name.
    pub(super) fn defer_if_reject_restriction(&mut self, rn: &str, class: &str) -> Status {
        self.defer_if_reject(
            ErrorClass::Policy,
            450,
            "4.7.0",
            format!("<{rn}>: {class} rejected: defer_if_reject requested"),
        );
        Status::Dunno
    }

    /// `sleep N`: pause, then go on.
    pub(super) async fn sleep_restriction(&mut self, arg: Option<&str>) -> Res {
        let secs = arg.and_then(|a| {
            if !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) {
                a.parse::<u64>().ok()
            } else {
                None
            }
        });
        match secs {
            Some(secs) => {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                Ok(Status::Dunno)
            }
            None => {
                self.warning("restriction sleep must be followed by number");
                Err(self.server_error())
            }
        }
    }

    /// `reject_unauth_pipelining`: reads the session's improper-pipelining flag.
    pub(super) fn reject_unauth_pipelining(&mut self, rn: &str, class: &str) -> Status {
        if self.facts.improper_pipelining {
            self.reject(
                ErrorClass::Protocol,
                503,
                "5.5.0",
                &format!("<{rn}>: {class} rejected: Improper use of SMTP command pipelining"),
            )
        } else {
            Status::Dunno
        }
    }

    /// `reject_plaintext_session`: no TLS on the session.
    pub(super) fn reject_plaintext_session(&mut self) -> Status {
        if self.facts.encryption.is_some() {
            Status::Dunno
        } else {
            let code = self.p.s.plaintext_code;
            self.reject(
                ErrorClass::Policy,
                code,
                "4.7.1",
                "Session encryption is required",
            )
        }
    }

    /// A restriction class: its list evaluated in place.
    pub(super) async fn restriction_class(
        &mut self,
        name: &str,
        rn: &str,
        class: &'static str,
        def_acl: Option<AccessTarget>,
    ) -> Res {
        let p = self.p;
        match p.classes.get(name) {
            Some(list) => {
                if self.recursion > crate::eval::MAX_RECURSION {
                    self.warning(format!(
                        "restriction class {name} causes unreasonable recursion"
                    ));
                    return Err(self.server_error());
                }
                self.generic_checks(list, rn, class, def_acl).await
            }
            None => self.unknown_restriction(name),
        }
    }

    /// An unknown restriction name: a warning and 451 4.3.5 for the request.
    pub(super) fn unknown_restriction(&mut self, name: &str) -> Res {
        self.warning(format!("unknown smtpd restriction: \"{name}\""));
        Err(self.server_error())
    }

    /// A failing match list (`mynetworks`, `relay_domains`): temporary →
    /// 451 4.3.0, otherwise 451 4.3.5 (generic_checks `status < 0`).
    pub(crate) fn list_failure(
        &mut self,
        what: &str,
        e: gatepost_table::TableError,
        rn: &str,
    ) -> Res {
        self.warning(format!("{what}: {e}"));
        match e {
            gatepost_table::TableError::Temporary { .. } => Err(self.dict_retry(rn)),
            gatepost_table::TableError::Config { .. } => Err(self.server_error()),
        }
    }
}
