//! DNS-based restrictions and their replies (docs/dns.md):
//! `reject_unknown_helo_hostname`, `reject_unknown_{sender,recipient}_domain`
//! (450/550 choice, tempfail action, `Malformed DNS server reply`, nullMX
//! `550 5.7.27` / `556 5.1.10`), `reject_rbl_client`, `reject_rhsbl_*`,
//! `permit_dnswl_client`, `permit_rhswl_client`, and the RBL reply template.
//! The lookups themselves go through [`crate::dns::DnsChecks`].

use gatepost_rewrite::AddressClass;

use crate::dns::{DnsStatus, RblAnswer};
use crate::dsn::dsn_split;
use crate::eval::{Check, ErrorClass, Res, Status, CLIENT, SENDER};
use crate::lookup::lookup_keys;
use crate::rbl::{addr_query, domain_query, expand, split_domain, IpPattern};
use crate::Stage;

/// Outcome of a DNS list query after the `=pattern` filter.
enum Listed {
    Yes(Option<String>),
    No,
    /// Lookup error (already logged): "soft".
    Soft,
}

impl Check<'_> {
    /// `reject_unknown_hostname()` for HELO names.
    pub(crate) async fn reject_unknown_hostname(
        &mut self,
        name: &str,
        rn: &str,
        class: &str,
    ) -> Status {
        let status = self.p.dns.host_status(name).await;
        let s = &self.p.s;
        match status {
            DnsStatus::Ok | DnsStatus::NullMx => Status::Dunno,
            DnsStatus::Policy => {
                self.warning(format!(
                    "{name}: address or MX lookup error: DNS reply filter drops all results"
                ));
                Status::Dunno
            }
            DnsStatus::Retry => {
                let dip = s.unk_name_tf_defer_if_permit;
                self.defer_if_permit(
                    dip,
                    ErrorClass::Policy,
                    450,
                    "4.7.1",
                    format!("<{rn}>: {class} rejected: Host not found"),
                )
            }
            other => {
                let code = s.unk_name_code;
                let text = if other == DnsStatus::Inval {
                    "Malformed DNS server reply"
                } else {
                    "Host not found"
                };
                self.reject(
                    ErrorClass::Policy,
                    code,
                    "4.7.1",
                    &format!("<{rn}>: {class} rejected: {text}"),
                )
            }
        }
    }

    /// `reject_unknown_address()`: resolve, skip final destinations and
    /// literals, then `reject_unknown_mailhost()`.
    pub(crate) async fn reject_unknown_address(&mut self, addr: &str, class: &'static str) -> Res {
        let Some(r) = self.resolve(addr)? else {
            return Ok(Status::Dunno);
        };
        let Some(at) = r.recipient.rfind('@') else {
            return Ok(Status::Dunno);
        };
        if matches!(
            r.class,
            AddressClass::Local | AddressClass::VirtualAlias | AddressClass::VirtualMailbox
        ) {
            return Ok(Status::Dunno);
        }
        let domain = r.recipient[at + 1..].to_string();
        if domain.len() > 1 && domain.starts_with('[') && domain.ends_with(']') {
            return Ok(Status::Dunno);
        }
        Ok(self.reject_unknown_mailhost(&domain, addr, class).await)
    }

    async fn reject_unknown_mailhost(&mut self, domain: &str, rn: &str, class: &str) -> Status {
        let status = self.p.dns.mail_domain_status(domain).await;
        let is_sender = class == SENDER;
        let s = &self.p.s;
        match status {
            DnsStatus::Ok => Status::Dunno,
            DnsStatus::Policy => {
                self.warning(format!(
                    "{domain}: MX or address lookup error: DNS reply filter drops all results"
                ));
                Status::Dunno
            }
            DnsStatus::NullMx => {
                let (code, dsn) = if is_sender {
                    (550, "4.7.27")
                } else {
                    (556, "4.1.10")
                };
                self.reject(
                    ErrorClass::Policy,
                    code,
                    dsn,
                    &format!(
                        "<{rn}>: {class} rejected: Domain {domain} does not accept mail (nullMX)"
                    ),
                )
            }
            DnsStatus::Retry => {
                let dip = s.unk_addr_tf_defer_if_permit;
                self.defer_if_permit(
                    dip,
                    ErrorClass::Policy,
                    450,
                    if is_sender { "4.1.8" } else { "4.1.2" },
                    format!("<{rn}>: {class} rejected: Domain not found"),
                )
            }
            other => {
                let code = s.unk_addr_code;
                let text = if other == DnsStatus::Inval {
                    "Malformed DNS server reply"
                } else {
                    "Domain not found"
                };
                self.reject(
                    ErrorClass::Policy,
                    code,
                    if is_sender { "4.1.8" } else { "4.1.2" },
                    &format!("<{rn}>: {class} rejected: {text}"),
                )
            }
        }
    }

    /// Query a DNS list and apply the `=pattern` filter.
    async fn dnsxl(
        &mut self,
        query: &str,
        pattern: Option<&str>,
    ) -> Result<Listed, crate::eval::Abort> {
        let parsed = match pattern {
            Some(p) => match IpPattern::parse(p) {
                Ok(p) => Some(p),
                Err(e) => {
                    self.warning(e);
                    return Err(self.server_error());
                }
            },
            None => None,
        };
        match self.p.dns.rbl_lookup(query).await {
            RblAnswer::Listed { addrs, txt } => {
                if let Some(p) = parsed {
                    if !addrs.iter().any(|a| p.matches(*a)) {
                        return Ok(Listed::No);
                    }
                }
                Ok(Listed::Yes(txt))
            }
            RblAnswer::NotListed => Ok(Listed::No),
            RblAnswer::Error(why) => {
                self.warning(format!("{query}: RBL lookup error: {why}"));
                Ok(Listed::Soft)
            }
        }
    }

    /// `reject_rbl_addr()` for the client address.
    pub(crate) async fn reject_rbl_addr(&mut self, rbl: &str) -> Res {
        let (d, pattern) = split_domain(rbl);
        let query = addr_query(self.facts.client_addr, d);
        match self.dnsxl(&query, pattern).await? {
            Listed::Yes(txt) => {
                let what = self.facts.client_addr.to_string();
                self.rbl_reject_reply(rbl, &what, CLIENT, txt)
            }
            Listed::No | Listed::Soft => Ok(Status::Dunno),
        }
    }

    /// `reject_rbl_domain()` for a client name, HELO name or address.
    pub(crate) async fn reject_rbl_domain(
        &mut self,
        rbl: &str,
        what: &str,
        class: &'static str,
    ) -> Res {
        let (d, pattern) = split_domain(rbl);
        let Some(query) = domain_query(what, d) else {
            return Ok(Status::Dunno);
        };
        match self.dnsxl(&query, pattern).await? {
            Listed::Yes(txt) => self.rbl_reject_reply(rbl, what, class, txt),
            Listed::No | Listed::Soft => Ok(Status::Dunno),
        }
    }

    /// Never allowlist an unauthorized RCPT (`permit_dnswl_*` safety).
    fn dnswl_unsafe_here(&mut self) -> Result<bool, crate::eval::Abort> {
        if self.stage == Stage::Rcpt {
            if let Some(rcpt) = self.recipient.clone() {
                return Ok(self.permit_auth_destination(&rcpt)? != Status::Ok);
            }
        }
        Ok(false)
    }

    /// `permit_dnswl_addr()`.
    pub(crate) async fn permit_dnswl_addr(&mut self, dnswl: &str) -> Res {
        if self.dnswl_unsafe_here()? {
            return Ok(Status::Dunno);
        }
        let (d, pattern) = split_domain(dnswl);
        let query = addr_query(self.facts.client_addr, d);
        let addr = self.facts.client_addr.to_string();
        self.dnswl_result(&query, pattern, &addr, CLIENT).await
    }

    /// `permit_dnswl_domain()` (`permit_rhswl_client`).
    pub(crate) async fn permit_dnswl_domain(
        &mut self,
        dnswl: &str,
        what: &str,
        class: &'static str,
    ) -> Res {
        if self.dnswl_unsafe_here()? {
            return Ok(Status::Dunno);
        }
        let (d, pattern) = split_domain(dnswl);
        let Some(query) = domain_query(what, d) else {
            return Ok(Status::Dunno);
        };
        self.dnswl_result(&query, pattern, what, class).await
    }

    async fn dnswl_result(
        &mut self,
        query: &str,
        pattern: Option<&str>,
        what: &str,
        class: &str,
    ) -> Res {
        match self.dnsxl(query, pattern).await? {
            Listed::Yes(_) => Ok(Status::Ok),
            Listed::No => Ok(Status::Dunno),
            Listed::Soft => {
                self.defer_if_reject(
                    ErrorClass::Policy,
                    450,
                    "4.7.1",
                    format!("<{what}>: {class} rejected: Service unavailable"),
                );
                Ok(Status::Dunno)
            }
        }
    }

    /// `rbl_reject_reply()`: expand the template for list `rbl`.
    fn rbl_reject_reply(
        &mut self,
        rbl: &str,
        what: &str,
        class: &'static str,
        txt: Option<String>,
    ) -> Res {
        let p = self.p;
        let mut template: Option<String> = None;
        if !p.rbl_reply_maps.is_empty() {
            for t in &p.rbl_reply_maps.tables {
                match &t.table {
                    Ok(table) => match lookup_keys(table.as_ref(), &[rbl.to_string()]) {
                        Ok(Some(v)) => {
                            template = Some(v);
                            break;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            self.warning(format!("rbl_reply_maps: {e}"));
                            return Err(self.server_error());
                        }
                    },
                    Err(why) => {
                        self.warning(format!("rbl_reply_maps: {}: {why}", t.spec));
                        return Err(self.server_error());
                    }
                }
            }
        }
        let (domain, _) = split_domain(rbl);
        let facts = self.facts;
        let code = p.s.maps_rbl_code.to_string();
        let txt = txt.unwrap_or_default();
        let sender = self.sender.clone().unwrap_or_default();
        let recipient = self.recipient.clone().unwrap_or_default();
        let helo = self.helo.clone().unwrap_or_default();
        let lookup = |name: &str| -> Option<String> {
            let split = |a: &str, want_domain: bool| -> String {
                match a.rfind('@') {
                    Some(i) if want_domain => a[i + 1..].to_string(),
                    Some(i) => a[..i].to_string(),
                    None if want_domain => String::new(),
                    None => a.to_string(),
                }
            };
            Some(match name {
                "rbl_code" => code.clone(),
                "rbl_domain" => domain.to_string(),
                "rbl_reason" | "rbl_txt" => txt.clone(),
                "rbl_what" => what.to_string(),
                "rbl_class" => class.to_string(),
                "client_address" => facts.client_addr.to_string(),
                "client_name" => facts.client_name.clone(),
                "reverse_client_name" => facts.reverse_client_name.clone(),
                "helo_name" => helo.clone(),
                "sender" => sender.clone(),
                "sender_name" => split(&sender, false),
                "sender_domain" => split(&sender, true),
                "recipient" => recipient.clone(),
                "recipient_name" => split(&recipient, false),
                "recipient_domain" => split(&recipient, true),
                "protocol" => facts.protocol.clone(),
                _ => return None,
            })
        };
        let why = match template.as_deref().map(|t| expand(t, &lookup)) {
            Some(Ok(w)) => w,
            Some(Err(e)) => {
                self.warning(format!(
                    "rbl_reject_reply: bad rbl reply template for domain {rbl}: {e}"
                ));
                expand(&p.s.default_rbl_reply, &lookup)
                    .unwrap_or_else(|_| format!("{code} Service unavailable"))
            }
            None => expand(&p.s.default_rbl_reply, &lookup)
                .unwrap_or_else(|_| format!("{code} Service unavailable")),
        };
        let b = why.as_bytes();
        let ok_prefix = b.len() >= 4
            && matches!(b[0], b'4' | b'5')
            && b[1].is_ascii_digit()
            && b[2].is_ascii_digit()
            && b[3] == b' ';
        if !ok_prefix {
            self.warning(format!("rbl response code configuration error: {why}"));
            return Ok(self.reject(ErrorClass::Policy, 450, "4.7.1", "Service unavailable"));
        }
        let code: u16 = why[..3].parse().unwrap_or(450);
        let (dsn, text) = dsn_split("4.7.1", &why[4..]);
        let text = if text.is_empty() {
            "Service unavailable"
        } else {
            text
        }
        .to_string();
        let dsn = self.dsn_fix(&dsn, class);
        Ok(self.reject(ErrorClass::Policy, code, &dsn, &text))
    }
}
