//! The on-disk queue file format (one file per message, named by queue id).
//!
//! ```text
//! gatepost-queue-file 3 00000000000000000289 4A1F21C8E 1c291ca3 8e3b2a07\n
//!                          header: content length, queue id, CRC-32 of the
//!                          content and of the envelope (through its `E` line)
//! <content: header lines and body, '\n' line ends>  exactly that many bytes
//! T 1700000000.123456789\n                        arrival time (secs.nanos)
//! C localhost[127.0.0.1]\n                        client
//! F sender@example\n                              envelope sender (empty = <>)
//! V FULL\n / I envid\n                            DSN RET= / ENVID= (optional)
//! A alice@example\n                               MAIL FROM AUTH= identity (optional)
//! Y client_address=192.0.2.1\n                    client attributes (optional, several)
//! P smtp:[127.0.0.1]:10024\n                      content filter (optional)
//! R rcpt@example\n                                recipient; O/N/K follow it:
//! O original@example\n                            original RCPT TO address
//! N SUCCESS,FAILURE\n / K rfc822;x@y\n            DSN NOTIFY= / ORCPT= (optional)
//! E\n                                             end of envelope
//! S 3\n                                           status: recipient 3 sent (done)
//! B 1\t5.1.1\tlocal\tnone\tunknown user\n         recipient 1 bounced (done; bounce log)
//! D 0\t4.4.1\tsmtp\tnone\tconnection refused\n    recipient 0 deferred (last reason wins)
//! X 1\n                                           bounce notice for recipient 1 sent
//! W\n                                             delay warning sent
//! \n                                              filler (empty lines, skipped)
//! ```
//!
//! The header names the file's own queue id: a reused file whose first
//! block still holds an earlier message on disk after a crash (see
//! `recycle.rs`) cannot pass for a message under its new name. Its
//! checksums catch the other blocks: after a power loss a filesystem that
//! does not order data before metadata (ext4 without a journal, or in
//! `data=writeback` mode) can leave a block recorded in the file but never
//! written, holding what the disk had there before. Every read that takes
//! the content or the envelope checks its checksum; a mismatch is reported
//! as a corrupt file (the queue manager moves it to `corrupt`), never
//! delivered. Empty lines after the envelope are filler covering the rest
//! of a reused block; they and the status records are outside the
//! checksums (status records are appended later). Files of version 2
//! (header without checksums) and version 1 (`gatepost-queue-file 1
//! LENGTH`, no id either) still read.
//!
//! Values are escaped (`\\`, `\n`, `\r`, `\t`). The file is written in `tmp`
//! and published into `incoming` by a link only after the envelope is
//! written and the file fsynced, so readers never see a partial envelope.
//! Status records are appended (and fsynced) by the queue manager while the
//! file is in `active`; a torn final record (no `\n`) is ignored, so a crash
//! at any moment loses at most the latest outcomes (the recipient is then
//! retried: at most one duplicate delivery per recipient).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::UNIX_EPOCH;

use crate::envelope::{Envelope, EnvelopeRecipient};
use crate::error::QueueError;
use crate::record_time;

/// Magic at the start of every queue file written now (version 3, with
/// the queue id and checksums) and of the files of earlier releases
/// (version 2 with the id, version 1 without).
const MAGIC: &str = "gatepost-queue-file 3 ";
const MAGIC_V2: &str = "gatepost-queue-file 2 ";
const MAGIC_V1: &str = "gatepost-queue-file 1 ";
/// Width of each checksum field (hexadecimal CRC-32).
const CRC_WIDTH: usize = 8;
/// Width of the content-length field.
const LEN_WIDTH: usize = 20;
/// Longest queue id a header may name.
const MAX_ID_LEN: usize = 64;
/// Length of a version 1 header (magic, length digits, newline).
const HEADER_V1_LEN: usize = MAGIC_V1.len() + LEN_WIDTH + 1;
/// Refuse envelope sections larger than this (a damaged file, not a message).
pub(crate) const MAX_ENVELOPE_BYTES: u64 = 64 * 1024 * 1024;

/// The header recording the content length, the file's queue id and the
/// checksums of content and envelope.
pub(crate) fn header(content_len: u64, id: &str, sums: Checksums) -> String {
    format!(
        "{MAGIC}{content_len:0width$} {id} {:08x} {:08x}\n",
        sums.content,
        sums.envelope,
        width = LEN_WIDTH
    )
}

/// Length of the header of the file of queue id `id`.
pub(crate) fn header_len(id: &str) -> usize {
    MAGIC.len() + LEN_WIDTH + 1 + id.len() + 2 * (1 + CRC_WIDTH) + 1
}

/// The CRC-32 checksums a version 3 header carries: of the content, and of
/// the envelope section (from the content's end through its `E` line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Checksums {
    pub(crate) content: u32,
    pub(crate) envelope: u32,
}

/// Length of the envelope section at the start of `trailer` (through the
/// `E` line), if it has one.
fn envelope_len(trailer: &[u8]) -> Option<usize> {
    if trailer.starts_with(b"E\n") {
        return Some(2);
    }
    memchr::memmem::find(trailer, b"\nE\n").map(|at| at + 3)
}

/// One delivery outcome kept for a recipient (bounce or defer log entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub recipient: usize,
    pub dsn: String,
    pub agent: String,
    pub relay: String,
    pub text: String,
}

/// A status record appended after the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusRecord {
    Sent(usize),
    Bounced(Reason),
    Deferred(Reason),
    /// The non-delivery notice for a bounced recipient has been sent.
    Notified(usize),
    /// The delay warning has been sent (`delay_warning_time`).
    Warned,
}

/// What the file says about one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptState {
    /// Still to be delivered; the last temporary failure, if any.
    Pending(Option<Reason>),
    Sent,
    /// Bounced; `notified` once the non-delivery notice was enqueued.
    Bounced {
        reason: Reason,
        notified: bool,
    },
}

impl RcptState {
    pub fn is_pending(&self) -> bool {
        matches!(self, RcptState::Pending(_))
    }
}

/// A parsed queue file (without its content).
#[derive(Debug, Clone)]
pub struct QueueFile {
    pub envelope: Envelope,
    pub content_len: u64,
    /// Size as sent over SMTP (CRLF line ends): the `size=` Postfix logs.
    pub wire_size: u64,
    pub states: Vec<RcptState>,
    /// Whether the delay warning was sent.
    pub warned: bool,
}

impl QueueFile {
    /// Indexes of recipients still to be delivered.
    pub fn pending(&self) -> Vec<usize> {
        self.states
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_pending())
            .map(|(i, _)| i)
            .collect()
    }

    /// Bounce log: recipients that bounced and were not yet reported to
    /// the sender, in recipient order.
    pub fn unnotified_bounces(&self) -> Vec<Reason> {
        self.states
            .iter()
            .filter_map(|s| match s {
                RcptState::Bounced {
                    reason,
                    notified: false,
                } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }
}

pub(crate) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn unescape(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            other => return Err(format!("bad escape \\{}", other.unwrap_or(' '))),
        }
    }
    Ok(out)
}

/// The envelope section (written once, at commit).
pub(crate) fn encode_envelope(env: &Envelope) -> String {
    let mut out = String::new();
    out.push_str(&format!("T {}\n", record_time::encode(env.arrival)));
    out.push_str(&format!("C {}\n", escape(&env.client)));
    out.push_str(&format!("F {}\n", escape(&env.sender)));
    if let Some(ret) = &env.ret {
        out.push_str(&format!("V {}\n", escape(ret)));
    }
    if let Some(envid) = &env.envid {
        out.push_str(&format!("I {}\n", escape(envid)));
    }
    if let Some(filter) = &env.filter {
        out.push_str(&format!("P {}\n", escape(filter)));
    }
    for r in &env.recipients {
        out.push_str(&format!("R {}\n", escape(&r.address)));
        out.push_str(&format!("O {}\n", escape(&r.original)));
        if let Some(n) = &r.notify {
            out.push_str(&format!("N {}\n", escape(n)));
        }
        if let Some(k) = &r.orcpt {
            out.push_str(&format!("K {}\n", escape(k)));
        }
    }
    out.push_str("E\n");
    out
}

fn encode_reason(tag: char, r: &Reason) -> String {
    format!(
        "{tag} {}\t{}\t{}\t{}\t{}\n",
        r.recipient,
        escape(&r.dsn),
        escape(&r.agent),
        escape(&r.relay),
        escape(&r.text)
    )
}

/// One appended status record.
pub(crate) fn encode_status(rec: &StatusRecord) -> String {
    match rec {
        StatusRecord::Sent(i) => format!("S {i}\n"),
        StatusRecord::Bounced(r) => encode_reason('B', r),
        StatusRecord::Deferred(r) => encode_reason('D', r),
        StatusRecord::Notified(i) => format!("X {i}\n"),
        StatusRecord::Warned => "W\n".to_string(),
    }
}

fn decode_reason(value: &str, nrcpt: usize) -> Result<Reason, String> {
    let fields: Vec<&str> = value.split('\t').collect();
    if fields.len() != 5 {
        return Err(format!("bad status record {value:?}"));
    }
    let recipient = decode_index(fields[0], nrcpt)?;
    Ok(Reason {
        recipient,
        dsn: unescape(fields[1])?,
        agent: unescape(fields[2])?,
        relay: unescape(fields[3])?,
        text: unescape(fields[4])?,
    })
}

fn decode_index(s: &str, nrcpt: usize) -> Result<usize, String> {
    let i: usize = s
        .parse()
        .map_err(|_| format!("bad recipient index {s:?}"))?;
    if i >= nrcpt {
        return Err(format!("recipient index {i} out of range"));
    }
    Ok(i)
}

/// Parse the envelope section and the status records that follow it.
#[cfg(test)]
pub(crate) fn parse_trailer(data: &[u8]) -> Result<(Envelope, Vec<RcptState>), String> {
    parse_trailer_full(data).map(|(e, s, _)| (e, s))
}

/// Like `parse_trailer`, also telling whether the delay warning was sent.
#[cfg(test)]
pub(crate) fn parse_trailer_full(data: &[u8]) -> Result<(Envelope, Vec<RcptState>, bool), String> {
    parse_trailer_sized(data).map(|(e, s, w, _)| (e, s, w))
}

/// Like `parse_trailer_full`, also returning the message size as sent over
/// SMTP (CRLF line ends), when the file records it.
pub(crate) fn parse_trailer_sized(
    data: &[u8],
) -> Result<(Envelope, Vec<RcptState>, bool, Option<u64>), String> {
    let mut warned = false;
    let mut wire_size = None;
    let text = std::str::from_utf8(data).map_err(|_| "envelope is not UTF-8".to_string())?;
    let mut env = Envelope {
        sender: String::new(),
        recipients: Vec::new(),
        arrival: UNIX_EPOCH,
        client: String::new(),
        ret: None,
        envid: None,
        filter: None,
    };
    let (mut seen_time, mut seen_sender, mut ended) = (false, false, false);
    let mut states: Vec<RcptState> = Vec::new();
    // Only complete lines count: a torn final append has no '\n'.
    let complete = match text.rfind('\n') {
        Some(pos) => &text[..=pos],
        None => "",
    };
    for line in complete.lines() {
        let (tag, value) = match line.split_once(' ') {
            Some((t, v)) => (t, v),
            None => (line, ""),
        };
        if !ended {
            match tag {
                "T" => {
                    env.arrival = record_time::decode(value)?;
                    seen_time = true;
                }
                "C" => env.client = unescape(value)?,
                "F" => {
                    env.sender = unescape(value)?;
                    seen_sender = true;
                }
                "V" => env.ret = Some(unescape(value)?),
                "L" => {
                    wire_size = Some(
                        value
                            .parse::<u64>()
                            .map_err(|_| format!("bad size record {value:?}"))?,
                    )
                }
                "I" => env.envid = Some(unescape(value)?),
                // The AUTH= identity (sender_auth.rs reads it).
                "A" => {}
                // The client's attributes (client_facts.rs reads them).
                "Y" => {}
                "P" => env.filter = Some(unescape(value)?),
                "R" => env
                    .recipients
                    .push(EnvelopeRecipient::new(&unescape(value)?)),
                "O" | "N" | "K" => {
                    let r = env
                        .recipients
                        .last_mut()
                        .ok_or_else(|| format!("{tag} record before first recipient"))?;
                    let v = unescape(value)?;
                    match tag {
                        "O" => r.original = v,
                        "N" => r.notify = Some(v),
                        _ => r.orcpt = Some(v),
                    }
                }
                "E" => {
                    if !seen_time || !seen_sender {
                        return Err("envelope lacks arrival time or sender".into());
                    }
                    if env.recipients.is_empty() {
                        return Err("no recipients".into());
                    }
                    ended = true;
                    states = vec![RcptState::Pending(None); env.recipients.len()];
                }
                _ => return Err(format!("unknown envelope record {tag:?}")),
            }
            continue;
        }
        let n = states.len();
        match tag {
            "S" => states[decode_index(value, n)?] = RcptState::Sent,
            "B" => {
                let r = decode_reason(value, n)?;
                let i = r.recipient;
                states[i] = RcptState::Bounced {
                    reason: r,
                    notified: false,
                };
            }
            "X" => {
                let i = decode_index(value, n)?;
                if let RcptState::Bounced { notified, .. } = &mut states[i] {
                    *notified = true;
                }
            }
            "W" => warned = true,
            // Filler over a reused file's earlier bytes.
            "" => {}
            "D" => {
                let r = decode_reason(value, n)?;
                let i = r.recipient;
                // A later deferral never undoes a final state.
                if states[i].is_pending() {
                    states[i] = RcptState::Pending(Some(r));
                }
            }
            _ => return Err(format!("unknown status record {tag:?}")),
        }
    }
    if !ended {
        return Err("missing end of envelope".into());
    }
    Ok((env, states, warned, wire_size))
}

/// What the header of a queue file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) content_len: u64,
    /// Where the content starts (the header's length).
    pub(crate) content_start: u64,
    /// None in files of versions 1 and 2.
    pub(crate) sums: Option<Checksums>,
}

impl Header {
    /// Check the content read from the file of queue id `id`.
    pub(crate) fn check_content(&self, id: &str, content: &[u8]) -> Result<(), QueueError> {
        match self.sums {
            Some(sums) if crc32fast::hash(content) != sums.content => Err(QueueError::Corrupt(
                id.to_string(),
                "content checksum mismatch".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Check the envelope section at the start of `trailer` (what follows
    /// the content) of the file of queue id `id`.
    pub(crate) fn check_envelope(&self, id: &str, trailer: &[u8]) -> Result<(), QueueError> {
        let Some(sums) = self.sums else {
            return Ok(());
        };
        let corrupt = |why: &str| QueueError::Corrupt(id.to_string(), why.into());
        let len = envelope_len(trailer).ok_or_else(|| corrupt("missing end of envelope"))?;
        if crc32fast::hash(&trailer[..len]) != sums.envelope {
            return Err(corrupt("envelope checksum mismatch"));
        }
        Ok(())
    }
}

/// Read the header of the open queue file of queue id `id` and leave the
/// file positioned at the start of the content. A version 2 header must
/// name `id`: one naming another id is an earlier message's bytes under
/// this name (a reused file's block a crash did not rewrite), reported as
/// corrupt.
pub(crate) fn read_header(file: &mut File, path: &Path, id: &str) -> Result<Header, QueueError> {
    let mut buf = [0u8; MAGIC.len() + LEN_WIDTH + 1 + MAX_ID_LEN + 2 * (1 + CRC_WIDTH) + 1];
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(QueueError::io(path, e)),
        }
    }
    let header = parse_header(&buf[..got], id)?;
    if got as u64 != header.content_start {
        file.seek(SeekFrom::Start(header.content_start))
            .map_err(|e| QueueError::io(path, e))?;
    }
    Ok(header)
}

/// Parse the header at the start of `head` (the file's first bytes).
pub(crate) fn parse_header(head: &[u8], id: &str) -> Result<Header, QueueError> {
    let corrupt = |why: &str| QueueError::Corrupt(id.to_string(), why.into());
    if head.len() < HEADER_V1_LEN {
        return Err(corrupt("short file"));
    }
    let length = |digits: &[u8]| {
        std::str::from_utf8(digits)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(|| corrupt("bad content length"))
    };
    let digits = &head[MAGIC.len()..MAGIC.len() + LEN_WIDTH];
    if head.starts_with(MAGIC_V1.as_bytes()) && head[HEADER_V1_LEN - 1] == b'\n' {
        return Ok(Header {
            content_len: length(digits)?,
            content_start: HEADER_V1_LEN as u64,
            sums: None,
        });
    }
    let with_sums = head.starts_with(MAGIC.as_bytes());
    let rest = &head[MAGIC.len() + LEN_WIDTH..];
    if !(with_sums || head.starts_with(MAGIC_V2.as_bytes())) || rest.first() != Some(&b' ') {
        return Err(corrupt("bad file header"));
    }
    let line = rest[1..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|end| &rest[1..1 + end])
        .ok_or_else(|| corrupt("bad file header"))?;
    let mut fields = line.split(|&b| b == b' ');
    let named = fields.next().unwrap_or_default();
    if named != id.as_bytes() {
        return Err(corrupt(&format!(
            "file header names queue id {}",
            String::from_utf8_lossy(named)
        )));
    }
    let mut crc = || {
        fields
            .next()
            .filter(|hex| hex.len() == CRC_WIDTH)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .ok_or_else(|| corrupt("bad file header"))
    };
    let sums = if with_sums {
        Some(Checksums {
            content: crc()?,
            envelope: crc()?,
        })
    } else {
        None
    };
    if fields.next().is_some() {
        return Err(corrupt("bad file header"));
    }
    Ok(Header {
        content_len: length(digits)?,
        content_start: (MAGIC.len() + LEN_WIDTH + 2 + line.len()) as u64,
        sums,
    })
}

/// Read and parse a queue file (envelope and status, not the content).
pub fn read_queue_file(path: &Path, id: &str) -> Result<QueueFile, QueueError> {
    let mut file = File::open(path).map_err(|e| QueueError::io(path, e))?;
    let header = read_header(&mut file, path, id)?;
    file.seek(SeekFrom::Start(header.content_start + header.content_len))
        .map_err(|e| QueueError::io(path, e))?;
    read_trailer(file, path, id, &header)
}

/// Read the open queue file's content (the file positioned at its start)
/// only to check it against its checksum, a piece at a time: a large
/// message is vouched for before it is taken for delivery, without holding
/// it in memory. Files without checksums are skipped over.
pub(crate) fn check_content_in_place(
    file: &mut File,
    path: &Path,
    id: &str,
    header: &Header,
) -> Result<(), QueueError> {
    let io = |e| QueueError::io(path, e);
    let Some(sums) = header.sums else {
        file.seek(SeekFrom::Start(header.content_start + header.content_len))
            .map_err(io)?;
        return Ok(());
    };
    let mut crc = crc32fast::Hasher::new();
    let mut piece = vec![0u8; 64 * 1024];
    let mut left = header.content_len;
    while left > 0 {
        let want = piece.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        match file.read(&mut piece[..want]) {
            Ok(0) => return Err(QueueError::Corrupt(id.to_string(), "short content".into())),
            Ok(n) => {
                crc.update(&piece[..n]);
                left -= n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    if crc.finalize() != sums.content {
        return Err(QueueError::Corrupt(
            id.to_string(),
            "content checksum mismatch".into(),
        ));
    }
    Ok(())
}

/// Read and parse what follows the content of the open queue file (the
/// file positioned there).
pub(crate) fn read_trailer(
    file: File,
    path: &Path,
    id: &str,
    header: &Header,
) -> Result<QueueFile, QueueError> {
    let mut trailer = Vec::new();
    file.take(MAX_ENVELOPE_BYTES + 1)
        .read_to_end(&mut trailer)
        .map_err(|e| QueueError::io(path, e))?;
    if trailer.len() as u64 > MAX_ENVELOPE_BYTES {
        return Err(QueueError::Corrupt(id.into(), "bad content length".into()));
    }
    header.check_envelope(id, &trailer)?;
    let (envelope, states, warned, wire_size) =
        parse_trailer_sized(&trailer).map_err(|why| QueueError::Corrupt(id.to_string(), why))?;
    Ok(QueueFile {
        envelope,
        content_len: header.content_len,
        wire_size: wire_size.unwrap_or(header.content_len),
        states,
        warned,
    })
}

/// Read the message content (header + body) of a queue file.
pub fn read_content(path: &Path, id: &str) -> Result<Vec<u8>, QueueError> {
    let mut file = File::open(path).map_err(|e| QueueError::io(path, e))?;
    let header = read_header(&mut file, path, id)?;
    let mut content = Vec::new();
    (&mut file)
        .take(header.content_len)
        .read_to_end(&mut content)
        .map_err(|e| QueueError::io(path, e))?;
    if (content.len() as u64) != header.content_len {
        return Err(QueueError::Corrupt(id.to_string(), "short content".into()));
    }
    header.check_content(id, &content)?;
    Ok(content)
}

/// Append status records to a queue file and, when `durable`, fsync it
/// (in the next group-commit round; from a blocking thread only):
/// then when this returns Ok the outcomes survive a crash.
pub fn append_records(
    path: &Path,
    records: &[StatusRecord],
    durable: bool,
) -> Result<(), QueueError> {
    use std::io::Write;
    if records.is_empty() {
        return Ok(());
    }
    let text: String = records.iter().map(encode_status).collect();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| QueueError::io(path, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| QueueError::io(path, e))?;
    if durable {
        let file = std::sync::Arc::new(file);
        crate::group_flush::GroupFlush::global()
            .flush_blocking(vec![crate::group_flush::Flush::Data(file)])
            .map_err(|e| QueueError::io(path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Envelope {
        let mut r2 = EnvelopeRecipient::new("bob@b.example");
        r2.original = "alias@b.example".into();
        r2.notify = Some("FAILURE".into());
        r2.orcpt = Some("rfc822;alias@b.example".into());
        Envelope {
            sender: "a\tb\\c\nd@x".into(),
            recipients: vec![EnvelopeRecipient::new("root@spec.test"), r2],
            arrival: UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 123_456_789),
            client: "localhost[127.0.0.1]".into(),
            ret: Some("HDRS".into()),
            envid: Some("ENV1".into()),
            filter: Some("smtp:[127.0.0.1]:10024".into()),
        }
    }

    #[test]
    fn envelope_round_trip() {
        let env = sample();
        let text = encode_envelope(&env);
        let (back, states) = parse_trailer(text.as_bytes()).unwrap();
        assert_eq!(back, env);
        assert_eq!(states, vec![RcptState::Pending(None); 2]);
    }

    #[test]
    fn status_records_and_torn_tail() {
        let env = sample();
        let d = Reason {
            recipient: 0,
            dsn: "4.4.1".into(),
            agent: "smtp".into(),
            relay: "none".into(),
            text: "connect to x[1.2.3.4]:25: refused".into(),
        };
        let mut b = d.clone();
        b.recipient = 1;
        b.dsn = "5.1.1".into();
        let mut text = encode_envelope(&env);
        text.push_str(&encode_status(&StatusRecord::Deferred(d.clone())));
        text.push_str(&encode_status(&StatusRecord::Bounced(b.clone())));
        let (_, states) = parse_trailer(text.as_bytes()).unwrap();
        assert_eq!(
            states[1],
            RcptState::Bounced {
                reason: b.clone(),
                notified: false
            }
        );
        text.push_str(&encode_status(&StatusRecord::Notified(1)));
        text.push_str("S 0"); // torn: no newline
        let (_, states) = parse_trailer(text.as_bytes()).unwrap();
        assert_eq!(
            states,
            vec![
                RcptState::Pending(Some(d)),
                RcptState::Bounced {
                    reason: b,
                    notified: true
                }
            ]
        );
        text.push('\n');
        let (_, states) = parse_trailer(text.as_bytes()).unwrap();
        assert_eq!(states[0], RcptState::Sent);
        assert!(!parse_trailer_full(text.as_bytes()).unwrap().2);
        text.push_str(&encode_status(&StatusRecord::Warned));
        assert!(parse_trailer_full(text.as_bytes()).unwrap().2);
    }

    #[test]
    fn corrupt_trailers() {
        let good = encode_envelope(&sample());
        let cases = [
            String::new(),
            good.replace("E\n", ""),
            good.replace("T ", "X "),
            format!("{good}S 7\n"),
            format!("{good}Q 1\n"),
            "F a\nE\n".to_string(),
            good.replace("F ", "O "),
        ];
        for c in cases {
            assert!(parse_trailer(c.as_bytes()).is_err(), "{c:?}");
        }
    }

    /// A queue file as the writer lays it out: header with checksums,
    /// content, envelope, then what follows the envelope.
    fn file_text(id: &str, named: &str, content: &str, envelope: &str, after: &str) -> String {
        let sums = Checksums {
            content: crc32fast::hash(content.as_bytes()),
            envelope: crc32fast::hash(envelope.as_bytes()),
        };
        let head = header(content.len() as u64, named, sums);
        assert_eq!(head.len(), header_len(id));
        format!("{head}{content}{envelope}{after}")
    }

    const ENVELOPE: &str = "T 1700000000.000000000\nF a@x\nR b@y\nE\n";

    #[test]
    fn a_header_naming_another_id_is_refused_and_earlier_versions_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        // An earlier message's block under a new name (a reused file after
        // a crash): its header names the earlier id.
        let text = file_text("5562DBE20B", "1234DBE20B", "body\n", ENVELOPE, "\n\n");
        let stale = write("5562DBE20B", &text);
        match read_queue_file(&stale, "5562DBE20B") {
            Err(QueueError::Corrupt(id, why)) => {
                assert_eq!(id, "5562DBE20B");
                assert!(why.contains("names queue id 1234DBE20B"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        let text = file_text("1234DBE20B", "1234DBE20B", "body\n", ENVELOPE, "S 0\n\n");
        let own = write("1234DBE20B", &text);
        let qf = read_queue_file(&own, "1234DBE20B").unwrap();
        assert_eq!(qf.content_len, 5);
        assert!(!qf.states[0].is_pending());
        assert_eq!(read_content(&own, "1234DBE20B").unwrap(), b"body\n");
        // Files of earlier releases: version 2 names the id and has no
        // checksums, version 1 names no id either.
        let v2 = write(
            "ABCDE2",
            &format!("gatepost-queue-file 2 00000000000000000005 ABCDE2\nbody\n{ENVELOPE}"),
        );
        assert_eq!(read_queue_file(&v2, "ABCDE2").unwrap().content_len, 5);
        assert_eq!(read_content(&v2, "ABCDE2").unwrap(), b"body\n");
        let v1 = write(
            "ABCDE1",
            &format!("gatepost-queue-file 1 00000000000000000005\nbody\n{ENVELOPE}"),
        );
        let qf = read_queue_file(&v1, "ABCDE1").unwrap();
        assert_eq!((qf.content_len, qf.envelope.recipients.len()), (5, 1));
        assert_eq!(read_content(&v1, "ABCDE1").unwrap(), b"body\n");
    }

    /// A block recorded in the file but never written (a power loss on a
    /// filesystem that does not order data before metadata) shows other
    /// bytes: every read that takes that part reports the file corrupt.
    #[test]
    fn content_or_envelope_that_does_not_match_its_checksum_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let id = "1234DBE20B";
        let path = dir.path().join(id);
        let good = file_text(id, id, "Subject: x\n\nbody\n", ENVELOPE, "\n");
        let content_at = header_len(id);
        let envelope_at = content_at + "Subject: x\n\nbody\n".len();
        let damage = |at: usize| {
            let mut bytes = good.clone().into_bytes();
            bytes[at] = b'X';
            std::fs::write(&path, bytes).unwrap();
        };
        type Read = fn(&Path, &str) -> Result<(), QueueError>;
        // Each reader, whether it takes the content and the envelope.
        let readers: [(&str, bool, bool, Read); 5] = [
            ("content", true, false, |p, id| {
                read_content(p, id).map(|_| ())
            }),
            ("queue file", false, true, |p, id| {
                read_queue_file(p, id).map(|_| ())
            }),
            ("activation", true, true, |p, id| {
                let file = File::open(p).unwrap();
                crate::client_facts::read_queue_file_preloaded_from(file, p, id, 1 << 20)
                    .map(|_| ())
            }),
            ("delivery", true, true, |p, id| {
                crate::client_facts::read_content_and_client_facts(p, id).map(|_| ())
            }),
            ("sender auth", false, true, |p, id| {
                crate::sender_auth::read_sender_auth(p, id).map(|_| ())
            }),
        ];
        let content = content_at + 14;
        let envelope = envelope_at + ENVELOPE.find("b@y").unwrap();
        for (at, part) in [(content, "content"), (envelope, "envelope")] {
            damage(at);
            for (name, takes_content, takes_envelope, read) in readers {
                let takes = if part == "content" {
                    takes_content
                } else {
                    takes_envelope
                };
                match read(&path, id) {
                    Err(QueueError::Corrupt(i, why)) if takes => {
                        assert_eq!((i.as_str(), why), (id, format!("{part} checksum mismatch")))
                    }
                    Ok(()) if !takes => {}
                    other => panic!("{name} with damaged {part}: {other:?}"),
                }
            }
        }
        // Filler and status records after the envelope are not covered.
        std::fs::write(&path, format!("{good}S 0\n\n\n")).unwrap();
        assert!(read_queue_file(&path, id).is_ok());
        // A damaged checksum field is a bad header.
        let mut bytes = good.clone().into_bytes();
        bytes[content_at - 2] = b'g';
        std::fs::write(&path, bytes).unwrap();
        match read_content(&path, id) {
            Err(QueueError::Corrupt(_, why)) => assert_eq!(why, "bad file header"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn escapes_round_trip() {
        for s in ["", "plain", "a\\b", "tab\there", "nl\nhere\r", "\\n"] {
            assert_eq!(unescape(&escape(s)).unwrap(), s);
        }
        assert!(unescape("bad\\x").is_err());
        let sums = Checksums::default();
        assert_eq!(
            header(289, "4A1F21C8E", sums).len(),
            header_len("4A1F21C8E")
        );
    }
}
