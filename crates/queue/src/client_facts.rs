//! The submitting SMTP client's attributes stored with a message, as
//! Postfix's smtpd(8) stores them for the delivery agents (`log_client_name`,
//! `log_client_address`, `log_client_port`, `log_helo_name`,
//! `log_protocol_name`, `sasl_method`, `sasl_username`, `sasl_sender`):
//! optional `Y NAME=VALUE` records in the envelope section, written by
//! [`crate::MessageWriter::set_client_facts`] and read by local(8) and
//! pipe(8) deliveries (`CLIENT_ADDRESS` ..., `${client_address}` ...).
//! Mail from `sendmail` has none. Files without them read as before;
//! readers that do not know them skip them.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::QueueError;
use crate::queue_file::{escape, read_header, unescape, HEADER_LEN};

/// What is known about the client that submitted a message (empty: not
/// known or not applicable).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientFacts {
    /// Verified host name, or `unknown`.
    pub name: String,
    /// The address as Postfix's `rfc_addr` (`IPv6:` before an IPv6 address).
    pub address: String,
    pub port: String,
    pub helo: String,
    /// `SMTP` or `ESMTP`.
    pub protocol: String,
    pub sasl_method: String,
    pub sasl_username: String,
    /// The `AUTH=` parameter of MAIL FROM as given.
    pub sasl_sender: String,
}

impl ClientFacts {
    fn fields(&self) -> [(&'static str, &String); 8] {
        [
            ("client_name", &self.name),
            ("client_address", &self.address),
            ("client_port", &self.port),
            ("helo_name", &self.helo),
            ("protocol_name", &self.protocol),
            ("sasl_method", &self.sasl_method),
            ("sasl_username", &self.sasl_username),
            ("sasl_sender", &self.sasl_sender),
        ]
    }

    fn set(&mut self, name: &str, value: String) {
        let slot = match name {
            "client_name" => &mut self.name,
            "client_address" => &mut self.address,
            "client_port" => &mut self.port,
            "helo_name" => &mut self.helo,
            "protocol_name" => &mut self.protocol,
            "sasl_method" => &mut self.sasl_method,
            "sasl_username" => &mut self.sasl_username,
            "sasl_sender" => &mut self.sasl_sender,
            _ => return,
        };
        *slot = value;
    }
}

/// The envelope records for `facts` (none for empty values).
pub(crate) fn records(facts: &ClientFacts) -> String {
    facts
        .fields()
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(name, value)| format!("Y {name}={}\n", escape(value)))
        .collect()
}

/// The stored client facts of the queue file at `path` (empty when the
/// file has none).
pub fn read_client_facts(path: &Path, id: &str) -> Result<ClientFacts, QueueError> {
    let mut file = File::open(path).map_err(|e| QueueError::io(path, e))?;
    let content_len = read_header(&mut file, path, id)?;
    file.seek(SeekFrom::Start(HEADER_LEN as u64 + content_len))
        .map_err(|e| QueueError::io(path, e))?;
    let mut trailer = String::new();
    file.read_to_string(&mut trailer)
        .map_err(|e| QueueError::io(path, e))?;
    let mut facts = ClientFacts::default();
    for line in trailer.lines() {
        if line == "E" {
            break;
        }
        if let Some((name, value)) = line.strip_prefix("Y ").and_then(|r| r.split_once('=')) {
            let value = unescape(value).map_err(|why| QueueError::Corrupt(id.to_string(), why))?;
            facts.set(name, value);
        }
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_skip_empty_values_and_escape() {
        let facts = ClientFacts {
            name: "client.example".into(),
            address: "IPv6:2001:db8::1".into(),
            helo: "a\nb".into(),
            ..ClientFacts::default()
        };
        assert_eq!(
            records(&facts),
            "Y client_name=client.example\nY client_address=IPv6:2001:db8::1\nY helo_name=a\\nb\n"
        );
    }
}
