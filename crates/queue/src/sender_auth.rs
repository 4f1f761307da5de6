//! The `AUTH=` identity of MAIL FROM (RFC 4954 section 5) stored with a
//! message: an optional `A` record in the envelope section, written by
//! [`crate::MessageWriter::set_sender_auth`] and read by the SMTP client,
//! which passes it on after logging in to the next hop. Files without it
//! read as before; readers that do not know it skip it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::QueueError;
use crate::queue_file::{escape, read_header, unescape};

/// The envelope record for `identity`.
pub(crate) fn record(identity: &str) -> String {
    format!("A {}\n", escape(identity))
}

/// The stored `AUTH=` identity of the queue file at `path`, if any.
pub fn read_sender_auth(path: &Path, id: &str) -> Result<Option<String>, QueueError> {
    let mut file = File::open(path).map_err(|e| QueueError::io(path, e))?;
    let header = read_header(&mut file, path, id)?;
    file.seek(SeekFrom::Start(header.content_start + header.content_len))
        .map_err(|e| QueueError::io(path, e))?;
    let mut trailer = String::new();
    file.read_to_string(&mut trailer)
        .map_err(|e| QueueError::io(path, e))?;
    header.check_envelope(id, trailer.as_bytes())?;
    for line in trailer.lines() {
        if line == "E" {
            break;
        }
        if let Some(value) = line.strip_prefix("A ") {
            return unescape(value)
                .map(Some)
                .map_err(|why| QueueError::Corrupt(id.to_string(), why));
        }
    }
    Ok(None)
}
