//! DNS block and allow list restrictions: `reject_rbl_client`,
//! `permit_dnswl_client`, `reject_rhsbl_*`, `permit_rhswl_client`
//! (docs/dns.md#block-and-allow-lists): which name is looked up, and the
//! warning for a missing list domain (no lookup, no decision). The
//! lookups and replies are in `dnscheck.rs`.

use crate::eval::{Check, Res, Status, CLIENT, HELO, RECIPIENT, REV_CLIENT, SENDER};
use crate::restriction::RhsTarget;

impl Check<'_> {
    pub(super) async fn reject_rbl_client(&mut self, domain: Option<&str>) -> Res {
        match domain {
            None => {
                self.warning("restriction reject_rbl_client requires domain name argument");
                Ok(Status::Dunno)
            }
            Some(d) => self.reject_rbl_addr(d).await,
        }
    }

    pub(super) async fn permit_dnswl_client(&mut self, domain: Option<&str>) -> Res {
        match domain {
            None => {
                self.warning("restriction permit_dnswl_client requires domain name argument");
                Ok(Status::Dunno)
            }
            Some(d) => self.permit_dnswl_addr(d).await,
        }
    }

    /// `reject_rhsbl_{client,reverse_client,helo,sender,recipient}`: skipped
    /// for an `unknown` client name, no HELO, the null sender.
    pub(super) async fn reject_rhsbl(&mut self, target: RhsTarget, domain: Option<&str>) -> Res {
        let Some(d) = domain else {
            let name = match target {
                RhsTarget::Client => "reject_rhsbl_client",
                RhsTarget::ReverseClient => "reject_rhsbl_reverse_client",
                RhsTarget::Helo => "reject_rhsbl_helo",
                RhsTarget::Sender => "reject_rhsbl_sender",
                RhsTarget::Recipient => "reject_rhsbl_recipient",
            };
            self.warning(format!("restriction {name} requires domain name argument"));
            return Ok(Status::Dunno);
        };
        let what = match target {
            RhsTarget::Client => Some(self.facts.client_name.clone())
                .filter(|n| !n.eq_ignore_ascii_case("unknown"))
                .map(|n| (n, CLIENT)),
            RhsTarget::ReverseClient => Some(self.facts.reverse_client_name.clone())
                .filter(|n| !n.eq_ignore_ascii_case("unknown"))
                .map(|n| (n, REV_CLIENT)),
            RhsTarget::Helo => self.helo.clone().map(|h| (h, HELO)),
            RhsTarget::Sender => self
                .sender
                .clone()
                .filter(|s| !s.is_empty())
                .map(|s| (s, SENDER)),
            RhsTarget::Recipient => self.recipient.clone().map(|r| (r, RECIPIENT)),
        };
        match what {
            Some((what, class)) => self.reject_rbl_domain(d, &what, class).await,
            None => Ok(Status::Dunno),
        }
    }

    pub(super) async fn permit_rhswl_client(&mut self, domain: Option<&str>) -> Res {
        let Some(d) = domain else {
            self.warning("restriction permit_rhswl_client requires domain name argument");
            return Ok(Status::Dunno);
        };
        let name = self.facts.client_name.clone();
        if name.eq_ignore_ascii_case("unknown") {
            Ok(Status::Dunno)
        } else {
            self.permit_dnswl_domain(d, &name, CLIENT).await
        }
    }
}
