//! The client attributes a message is stored with (Postfix's smtpd writes
//! them for the delivery agents): verified name (`unknown`), address in
//! `rfc_addr` form (`IPv6:` before an IPv6 address), port, HELO name,
//! `SMTP`/`ESMTP`, the SASL method and login, and MAIL FROM's `AUTH=`.
//! None for stand-alone sessions (`sendmail -bs`), as in Postfix.

use std::net::IpAddr;

use gatepost_queue::ClientFacts;

use crate::session::Session;
use crate::transaction::Transaction;

impl Session {
    pub(crate) fn client_facts(&self, tx: &Transaction) -> Option<ClientFacts> {
        if self.fixed_name {
            return None;
        }
        let address = match self.client_addr {
            IpAddr::V6(v6) => format!("IPv6:{v6}"),
            IpAddr::V4(v4) => v4.to_string(),
        };
        let login = self.login.as_ref();
        Some(ClientFacts {
            name: self.client_name.clone(),
            address,
            port: self.client_port.to_string(),
            helo: self.helo.clone().unwrap_or_default(),
            protocol: self.protocol.to_string(),
            sasl_method: login.map(|l| l.method.to_string()).unwrap_or_default(),
            sasl_username: login.map(|l| l.username.clone()).unwrap_or_default(),
            sasl_sender: tx.auth_author.clone().unwrap_or_default(),
        })
    }
}
