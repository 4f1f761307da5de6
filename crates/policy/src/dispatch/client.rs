//! Client restrictions: `reject_unknown_client_hostname`,
//! `reject_unknown_reverse_client_hostname`, `permit_inet_interfaces`,
//! `permit_mynetworks`, `permit_sasl_authenticated` (docs/dns.md#client-names).

use crate::eval::{Check, ErrorClass, Res, Status};

impl Check<'_> {
    /// No verified client name: 450 for a temporary lookup failure (always,
    /// as smtpd_check.c), `unknown_client_reject_code` otherwise. No
    /// `<name>:` prefix.
    pub(super) fn reject_unknown_client_hostname(&mut self) -> Status {
        if !self.facts.client_name.eq_ignore_ascii_case("unknown") {
            return Status::Dunno;
        }
        let code = if self.facts.client_name_tempfail {
            450
        } else {
            self.p.s.unk_client_code
        };
        let addr = self.facts.client_addr;
        self.reject(
            ErrorClass::Policy,
            code,
            "4.7.25",
            &format!("Client host rejected: cannot find your hostname, [{addr}]"),
        )
    }

    /// No reverse (PTR) name.
    pub(super) fn reject_unknown_reverse_client_hostname(&mut self) -> Status {
        if !self
            .facts
            .reverse_client_name
            .eq_ignore_ascii_case("unknown")
        {
            return Status::Dunno;
        }
        let code = if self.facts.reverse_name_tempfail {
            450
        } else {
            self.p.s.unk_client_code
        };
        let addr = self.facts.client_addr;
        self.reject(
            ErrorClass::Policy,
            code,
            "4.7.1",
            &format!("Client host rejected: cannot find your reverse hostname, [{addr}]"),
        )
    }

    /// The client address is one of ours.
    pub(super) fn permit_inet_interfaces(&self) -> Status {
        let a = self.facts.client_addr;
        if a == self.facts.server_addr || self.p.s.interface_addrs.contains(&a) {
            Status::Ok
        } else {
            Status::Dunno
        }
    }

    /// The client matches `mynetworks`.
    pub(super) fn permit_mynetworks(&mut self, rn: &str) -> Res {
        match self
            .p
            .env
            .mynetworks(&self.facts.client_name, self.facts.client_addr)
        {
            Ok(true) => Ok(Status::Ok),
            Ok(false) => Ok(Status::Dunno),
            Err(e) => self.list_failure("mynetworks", e, rn),
        }
    }

    /// The client logged in.
    pub(super) fn permit_sasl_authenticated(&self) -> Status {
        if self.facts.sasl_username.is_some() {
            Status::Ok
        } else {
            Status::Dunno
        }
    }
}
