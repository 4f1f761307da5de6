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
use std::io::Read;
use std::path::Path;

use crate::committed_copy::CommittedCopy;
use crate::error::QueueError;
use crate::queue_file::{
    check_content_in_place, escape, parse_header, parse_trailer_sized, read_header, read_trailer,
    unescape, Header, QueueFile, MAX_ENVELOPE_BYTES,
};

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

/// The content of the queue file at `path` and its client facts, from one
/// open and one read (a delivery needs both).
pub fn read_content_and_client_facts(
    path: &Path,
    id: &str,
) -> Result<(Vec<u8>, ClientFacts), QueueError> {
    let mut file = File::open(path).map_err(|e| QueueError::io(path, e))?;
    let header = read_header(&mut file, path, id)?;
    let mut content = Vec::new();
    file.read_to_end(&mut content)
        .map_err(|e| QueueError::io(path, e))?;
    let Ok(at) = usize::try_from(header.content_len) else {
        return Err(QueueError::Corrupt(id.to_string(), "short content".into()));
    };
    if content.len() < at {
        return Err(QueueError::Corrupt(id.to_string(), "short content".into()));
    }
    let trailer = content.split_off(at);
    header.check_content(id, &content)?;
    header.check_envelope(id, &trailer)?;
    let trailer = String::from_utf8(trailer)
        .map_err(|_| QueueError::io(path, std::io::Error::from(std::io::ErrorKind::InvalidData)))?;
    Ok((content, facts_of(&trailer, id)?))
}

/// A message's content and client facts, read ahead by the queue manager
/// for the delivery that follows.
pub type Preloaded = (Vec<u8>, ClientFacts);

/// Content up to this size is read with the envelope and handed to the
/// delivery (one read of the file instead of two, or none when the commit
/// sent its bytes, `CommittedCopy`); larger content is read by the
/// delivery itself, when its destination has a free slot. Bounds what
/// admitted messages waiting for a slot hold in memory (at most
/// `qmgr_message_active_limit` of them).
pub const PRELOAD_CONTENT_LIMIT: u64 = 32 * 1024;

/// Read the queue file at `path` with one open and one read: its envelope
/// and status (as [`crate::manager::read_queue_file`]) and, when the
/// content is at most `content_limit` bytes, the content and client facts
/// too, so that the delivery that follows need not read the file again.
pub fn read_queue_file_preloaded(
    path: &Path,
    id: &str,
    content_limit: u64,
) -> Result<(QueueFile, Option<Preloaded>), QueueError> {
    let file = File::open(path).map_err(|e| QueueError::io(path, e))?;
    read_queue_file_preloaded_from(file, path, id, content_limit)
}

/// As [`read_queue_file_preloaded`], from `file`, the queue file at
/// `path` already open (`Queue::open_in`).
pub fn read_queue_file_preloaded_from(
    mut file: File,
    path: &Path,
    id: &str,
    content_limit: u64,
) -> Result<(QueueFile, Option<Preloaded>), QueueError> {
    let header = read_header(&mut file, path, id)?;
    let content_len = header.content_len;
    if content_len > content_limit {
        check_content_in_place(&mut file, path, id, &header)?;
        return Ok((read_trailer(file, path, id, &header)?, None));
    }
    let mut content = Vec::with_capacity(usize::try_from(content_len).unwrap_or(0) + 512);
    file.read_to_end(&mut content)
        .map_err(|e| QueueError::io(path, e))?;
    split_preloaded(&header, content, id)
}

/// A message's content and client facts ready for its delivery: read
/// with the envelope from its file, or still in the bytes its commit sent
/// (`CommittedCopy`), copied out only when a delivery takes them. Until
/// then an admitted message waiting for a delivery slot holds no more
/// than its copy, which the copies' budget bounds, whatever its size.
#[derive(Debug)]
pub enum ContentAhead {
    Read(Preloaded),
    InCopy {
        copy: CommittedCopy,
        content: std::ops::Range<usize>,
        facts: ClientFacts,
    },
}

impl ContentAhead {
    /// The content and client facts, owned.
    pub fn into_preloaded(self) -> Preloaded {
        match self {
            ContentAhead::Read(preloaded) => preloaded,
            ContentAhead::InCopy {
                copy,
                content,
                facts,
            } => (copy.bytes()[content].to_vec(), facts),
        }
    }
}

/// As [`read_queue_file_preloaded_from`], from the bytes the commit wrote
/// (sent to the queue manager with its announcement): no read of the file,
/// and the content stays in the copy, whatever its size.
pub fn read_committed_copy(
    copy: &CommittedCopy,
    id: &str,
) -> Result<(QueueFile, Option<ContentAhead>), QueueError> {
    let (qf, facts, content) = parse_queue_file_bytes(&copy.bytes(), id)?;
    let ahead = facts.map(|facts| ContentAhead::InCopy {
        copy: copy.clone(),
        content,
        facts,
    });
    Ok((qf, ahead))
}

/// A whole queue file's `bytes`, checked and parsed: the queue file, its
/// client facts (see [`parse_after_header`]) and where its content is.
pub(crate) fn parse_queue_file_bytes(
    bytes: &[u8],
    id: &str,
) -> Result<(QueueFile, Option<ClientFacts>, std::ops::Range<usize>), QueueError> {
    let header = parse_header(bytes, id)?;
    let start = usize::try_from(header.content_start)
        .ok()
        .filter(|start| *start <= bytes.len())
        .ok_or_else(|| QueueError::Corrupt(id.to_string(), "short file".into()))?;
    let (qf, facts, len) = parse_after_header(&header, &bytes[start..], id)?;
    Ok((qf, facts, start..start + len))
}

/// The queue file of `header` from what follows the header (`content`:
/// the content, then the envelope and status records).
fn split_preloaded(
    header: &Header,
    mut content: Vec<u8>,
    id: &str,
) -> Result<(QueueFile, Option<Preloaded>), QueueError> {
    let (qf, facts, len) = parse_after_header(header, &content, id)?;
    content.truncate(len);
    Ok((qf, facts.map(|facts| (content, facts))))
}

/// Check and parse what follows the header: the queue file, its client
/// facts (`None` when they cannot be read: the delivery's own read
/// reports them, as it always has) and the content's length.
fn parse_after_header(
    header: &Header,
    rest: &[u8],
    id: &str,
) -> Result<(QueueFile, Option<ClientFacts>, usize), QueueError> {
    let content_len = header.content_len;
    let at = usize::try_from(content_len).unwrap_or(usize::MAX);
    if rest.len() < at || (rest.len() - at) as u64 > MAX_ENVELOPE_BYTES {
        return Err(QueueError::Corrupt(id.into(), "bad content length".into()));
    }
    let (content, trailer) = rest.split_at(at);
    header.check_content(id, content)?;
    header.check_envelope(id, trailer)?;
    let (envelope, states, warned, wire_size) =
        parse_trailer_sized(trailer).map_err(|why| QueueError::Corrupt(id.to_string(), why))?;
    let facts = std::str::from_utf8(trailer)
        .ok()
        .and_then(|text| facts_of(text, id).ok());
    let qf = QueueFile {
        envelope,
        content_len,
        wire_size: wire_size.unwrap_or(content_len),
        states,
        warned,
    };
    Ok((qf, facts, at))
}

/// The `Y` records of a queue file's trailer.
fn facts_of(trailer: &str, id: &str) -> Result<ClientFacts, QueueError> {
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn content_and_facts_come_back_from_one_read() {
        let dir = tempfile::tempdir().unwrap();
        let queue = crate::Queue::open(dir.path()).unwrap();
        let mut w = queue.new_message().unwrap();
        w.write_content(b"Subject: x\n\nbody\n").unwrap();
        w.set_client_facts(ClientFacts {
            name: "client.example".into(),
            helo: "a\nb".into(),
            ..ClientFacts::default()
        });
        let envelope = crate::Envelope {
            sender: "a@spec.test".into(),
            recipients: vec![crate::EnvelopeRecipient::new("b@spec.test")],
            arrival: std::time::SystemTime::now(),
            client: "local".into(),
            ret: None,
            envid: None,
            filter: None,
        };
        let id = w.commit(&envelope).await.unwrap();
        let path = queue.path_of(crate::QueueName::Incoming, &id);
        let (content, facts) = read_content_and_client_facts(&path, id.as_str()).unwrap();
        assert_eq!(content, b"Subject: x\n\nbody\n");
        assert_eq!(
            (facts.name.as_str(), facts.helo.as_str()),
            ("client.example", "a\nb")
        );

        // The queue manager's read: the same envelope as the envelope-only
        // reader, and the same content and facts when under the limit.
        let alone = crate::queue_file::read_queue_file(&path, id.as_str()).unwrap();
        let (qf, preloaded) = read_queue_file_preloaded(&path, id.as_str(), 1024).unwrap();
        assert_eq!(qf.envelope.sender, alone.envelope.sender);
        assert_eq!(qf.envelope.recipients, alone.envelope.recipients);
        assert_eq!(
            (qf.content_len, qf.wire_size, qf.warned),
            (alone.content_len, alone.wire_size, alone.warned)
        );
        assert_eq!(preloaded, Some((content, facts)));
        // Over the limit: the envelope only.
        let (qf, preloaded) = read_queue_file_preloaded(&path, id.as_str(), 4).unwrap();
        assert_eq!(qf.envelope.recipients, alone.envelope.recipients);
        assert_eq!(preloaded, None);
    }
}
