//! HELO restrictions and the host name syntax checks they share
//! (docs/dns.md#host-name-validation): `reject_invalid_helo_hostname`,
//! `reject_unknown_helo_hostname`, `reject_non_fqdn_helo_hostname`,
//! `permit_naked_ip_address`. All of them do nothing without a HELO.

use super::truncate_dot;
use crate::eval::{Check, ErrorClass, Status, HELO};
use gatepost_proto::hostname::{valid_hostaddr, valid_hostname, valid_mailhost_addr};

impl Check<'_> {
    pub(super) fn reject_invalid_helo_hostname(&mut self) -> Status {
        match self.helo.clone() {
            Some(h) if h.starts_with('[') => self.reject_invalid_hostaddr(&h, &h, HELO),
            Some(h) => self.reject_invalid_hostname(&h, &h, HELO),
            None => Status::Dunno,
        }
    }

    pub(super) async fn reject_unknown_helo_hostname(&mut self) -> Status {
        match self.helo.clone() {
            Some(h) if h.starts_with('[') => self.reject_invalid_hostaddr(&h, &h, HELO),
            Some(h) => self.reject_unknown_hostname(&h, &h, HELO).await,
            None => Status::Dunno,
        }
    }

    pub(super) fn reject_non_fqdn_helo_hostname(&mut self) -> Status {
        match self.helo.clone() {
            Some(h) if h.starts_with('[') => self.reject_invalid_hostaddr(&h, &h, HELO),
            Some(h) => self.reject_non_fqdn_hostname(&h, &h, HELO),
            None => Status::Dunno,
        }
    }

    /// Deprecated: OK for a bare IP address as HELO argument.
    pub(super) fn permit_naked_ip_address(&mut self) -> Status {
        self.warning(
            "restriction permit_naked_ip_address is deprecated. Use permit_mynetworks or permit_sasl_authenticated instead",
        );
        match self.helo.clone() {
            Some(h)
                if h.bytes()
                    .all(|c| c.is_ascii_digit() || c == b'.' || c == b':') =>
            {
                match self.reject_invalid_hostaddr(&h, &h, HELO) {
                    Status::Dunno => Status::Ok,
                    other => other,
                }
            }
            _ => Status::Dunno,
        }
    }

    /// `reject_invalid_hostaddr()`: a `[...]` literal (or bare address) must
    /// be a valid mail host address.
    pub(crate) fn reject_invalid_hostaddr(&mut self, addr: &str, rn: &str, class: &str) -> Status {
        let test = if addr.len() > 2 && addr.starts_with('[') && addr.ends_with(']') {
            &addr[1..addr.len() - 1]
        } else {
            addr
        };
        if valid_mailhost_addr(test).is_none() {
            let code = self.p.s.bad_name_code;
            self.reject(
                ErrorClass::Policy,
                code,
                "5.5.2",
                &format!("<{rn}>: {class} rejected: invalid ip address"),
            )
        } else {
            Status::Dunno
        }
    }

    /// `reject_invalid_hostname()`: fails `valid_hostname` and `valid_hostaddr`.
    pub(crate) fn reject_invalid_hostname(&mut self, name: &str, rn: &str, class: &str) -> Status {
        let test = truncate_dot(name);
        if !valid_hostname(test) && !valid_hostaddr(test) {
            let code = self.p.s.bad_name_code;
            self.reject(
                ErrorClass::Policy,
                code,
                "5.5.2",
                &format!("<{rn}>: {class} rejected: Invalid name"),
            )
        } else {
            Status::Dunno
        }
    }

    /// `reject_non_fqdn_hostname()`: not a valid hostname, or no dot. Non-ASCII
    /// names are refused (SMTPUTF8 state is not part of the facts).
    pub(crate) fn reject_non_fqdn_hostname(&mut self, name: &str, rn: &str, class: &str) -> Status {
        let test = truncate_dot(name);
        if !valid_hostname(test) || !test.contains('.') {
            let code = self.p.s.non_fqdn_code;
            self.reject(
                ErrorClass::Policy,
                code,
                "5.5.2",
                &format!("<{rn}>: {class} rejected: need fully-qualified hostname"),
            )
        } else {
            Status::Dunno
        }
    }
}
