//! The per-stage drivers (smtpd_check.c `smtpd_check_client/helo/mail/
//! rcpt/etrn/data/eod()`), docs/restrictions.md#stages: which lists run
//! at which command under `smtpd_delay_reject`, the relay-then-recipient
//! order, the bare `postmaster` exemption, pending `defer_if_permit`
//! inheritance between stages (kept in [`SessionPolicy`]) and its
//! conversion into a reply, and the implicit `reject_unlisted_*` checks.

use crate::eval::{Abort, Check, Res, Status, CLIENT, DATA, EOD, ETRN, HELO, RECIPIENT, SENDER};
use crate::restriction::{AccessTarget, RestrictionList};
use crate::SessionPolicy;

fn flatten(r: Res) -> Status {
    match r {
        Ok(s) => s,
        Err(Abort) => Status::Reject,
    }
}

impl Check<'_> {
    async fn run_list(
        &mut self,
        list: &RestrictionList,
        rn: &str,
        class: &'static str,
        def_acl: Option<AccessTarget>,
    ) -> Status {
        if list.items.is_empty() {
            return Status::Dunno;
        }
        flatten(self.generic_checks(list, rn, class, def_acl).await)
    }

    /// Turn a pending `defer_if_permit` into the reply when nothing rejected.
    fn convert_pending(&mut self, status: Status, list: &str) -> Status {
        if status == Status::Reject {
            return status;
        }
        match self.defer_if_permit.take() {
            Some(d) => {
                let idx = self.trace_step(list, "(pending defer_if_permit)");
                let st = self.reject(d.class, d.code, &d.dsn, &d.reason);
                self.trace[idx].result = format!("REJECT {}", self.error_text);
                st
            }
            None => status,
        }
    }

    /// `smtpd_check_client()`.
    pub(crate) async fn check_client(&mut self, session: &mut SessionPolicy) -> Status {
        self.defer_if_permit = None;
        self.reset();
        let p = self.p;
        let namaddr = self.namaddr.clone();
        let st = self
            .run_list(&p.client, &namaddr, CLIENT, Some(AccessTarget::Client))
            .await;
        session.client_defer = self.defer_if_permit.clone();
        st
    }

    /// `smtpd_check_helo()`.
    pub(crate) async fn check_helo(&mut self, session: &mut SessionPolicy) -> Status {
        let Some(helo) = self.helo.clone() else {
            return Status::Dunno;
        };
        self.defer_if_permit = session.client_defer.clone();
        self.reset();
        let p = self.p;
        let st = self
            .run_list(&p.helo, &helo, HELO, Some(AccessTarget::Helo))
            .await;
        session.helo_defer = self.defer_if_permit.clone();
        st
    }

    /// `smtpd_check_mail()`, with the implicit `reject_unlisted_sender`.
    pub(crate) async fn check_mail(&mut self, session: &mut SessionPolicy) -> Status {
        let Some(sender) = self.sender.clone() else {
            return Status::Dunno;
        };
        self.defer_if_permit = session
            .helo_defer
            .clone()
            .or_else(|| session.client_defer.clone());
        self.sender_checked = false;
        self.reset();
        let p = self.p;
        let mut st = self
            .run_list(&p.sender, &sender, SENDER, Some(AccessTarget::Sender))
            .await;
        session.sender_defer = self.defer_if_permit.clone();
        if p.s.reject_unlisted_sender
            && st != Status::Reject
            && !self.sender_checked
            && !self.discard
            && !sender.is_empty()
        {
            let idx = self.trace_step("smtpd_reject_unlisted_sender", "reject_unlisted_sender");
            let before = self.snapshot();
            let res = self.check_sender_rcpt_maps(&sender);
            self.trace[idx].result = self.describe(res, &before);
            st = flatten(res);
        }
        st
    }

    /// `smtpd_check_rcpt()` (also used for VRFY).
    pub(crate) async fn check_rcpt(&mut self, session: &mut SessionPolicy) -> Status {
        let Some(rcpt) = self.recipient.clone() else {
            return Status::Dunno;
        };
        if rcpt.eq_ignore_ascii_case("postmaster") {
            let idx = self.trace_step("smtpd_recipient_restrictions", "(bare postmaster)");
            self.trace[idx].result = "OK".to_string();
            return Status::Dunno;
        }
        self.rcpt_checked = false;
        let p = self.p;
        if p.s.delay_reject {
            for stage in 0..3 {
                let st = match stage {
                    0 => self.check_client(session).await,
                    1 => self.check_helo(session).await,
                    _ => self.check_mail(session).await,
                };
                if st == Status::Reject {
                    return st;
                }
            }
        }
        self.defer_if_permit = session.sender_defer.clone();
        self.reset();
        let lists: [&RestrictionList; 2] = if p.s.relay_before_rcpt {
            [&p.relay, &p.recipient]
        } else {
            [&p.recipient, &p.relay]
        };
        let mut status = Status::Dunno;
        for list in lists {
            status = self
                .run_list(list, &rcpt, RECIPIENT, Some(AccessTarget::Recipient))
                .await;
            if status == Status::Reject {
                break;
            }
        }
        status = self.convert_pending(status, "smtpd_recipient_restrictions");
        if p.s.reject_unlisted_rcpt
            && status != Status::Reject
            && !self.rcpt_checked
            && !self.discard
        {
            let idx = self.trace_step(
                "smtpd_reject_unlisted_recipient",
                "reject_unlisted_recipient",
            );
            let before = self.snapshot();
            let res = self.check_recipient_rcpt_maps(&rcpt);
            self.trace[idx].result = self.describe(res, &before);
            status = flatten(res);
        }
        status
    }

    /// `smtpd_check_etrn()`.
    pub(crate) async fn check_etrn(&mut self, session: &mut SessionPolicy) -> Status {
        let Some(domain) = self.etrn.clone() else {
            return Status::Dunno;
        };
        let p = self.p;
        if p.s.delay_reject {
            if self.check_client(session).await == Status::Reject {
                return Status::Reject;
            }
            if self.check_helo(session).await == Status::Reject {
                return Status::Reject;
            }
        }
        self.defer_if_permit = session
            .helo_defer
            .clone()
            .or_else(|| session.client_defer.clone());
        self.reset();
        let st = self
            .run_list(&p.etrn, &domain, ETRN, Some(AccessTarget::Etrn))
            .await;
        self.convert_pending(st, "smtpd_etrn_restrictions")
    }

    /// `smtpd_check_data()` / `smtpd_check_eod()`.
    pub(crate) async fn check_data(&mut self, eod: bool) -> Status {
        self.defer_if_permit = None;
        self.reset();
        let p = self.p;
        let (list, rn, class, name) = if eod {
            (
                &p.eod,
                "END-OF-MESSAGE",
                EOD,
                "smtpd_end_of_data_restrictions",
            )
        } else {
            (&p.data, "DATA", DATA, "smtpd_data_restrictions")
        };
        let st = self.run_list(list, rn, class, None).await;
        self.convert_pending(st, name)
    }
}
