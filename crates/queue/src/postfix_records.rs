//! Reading Postfix's own queue files (for `gatepost queue import-postfix`).
//!
//! A Postfix queue file is a sequence of records: a type byte, the data
//! length as a base-128 number (low 7 bits first, high bit set on every
//! byte but the last), then the data. Three segments follow one another:
//! the envelope (up to `M`), the content (`N` a line, `L` a line that
//! continues in the next record, up to `X`) and the extracted envelope (up
//! to `E`). The records read here:
//!
//! | type | meaning |
//! |---|---|
//! | `T` | arrival time, `seconds microseconds` |
//! | `F` | full name (sendmail `-F`) |
//! | `S` | sender (empty = null sender) |
//! | `O` | original recipient of the next `R`/`D` |
//! | `R` | recipient still to deliver; `D` delivered; `/` cancelled |
//! | `A` | `name=value`: `envelope_id`, `ret_flags`, `notify_flags`, `dsn_orig_rcpt`, `log_message_origin` |
//! | `i` `<` `n` `o` | older DSN records (envid, ret, notify, orcpt) |
//! | `p` | pointer: continue reading at that file offset (0 = placeholder) |
//! | `>` | redirect target (not representable: reported) |
//!
//! Other records (size `C`, warnings `W`, attributes we do not keep...) are
//! skipped. Files in Postfix's `maildrop` are postdrop's output, before
//! cleanup: same records, fewer of them.

use std::time::{SystemTime, UNIX_EPOCH};

/// One recipient of a Postfix queue file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostfixRecipient {
    pub address: String,
    /// The `O` record (original RCPT TO address), when present.
    pub original: Option<String>,
    /// DSN ORCPT (`type;address`) and NOTIFY (`SUCCESS,FAILURE`...).
    pub orcpt: Option<String>,
    pub notify: Option<String>,
    /// Already delivered (a `D` record).
    pub done: bool,
}

/// What a Postfix queue file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostfixMessage {
    pub arrival: SystemTime,
    pub sender: String,
    pub full_name: Option<String>,
    pub recipients: Vec<PostfixRecipient>,
    /// DSN RET (`FULL`/`HDRS`) and ENVID.
    pub ret: Option<String>,
    pub envid: Option<String>,
    /// `name[addr]` of the submitting client, when recorded.
    pub client: Option<String>,
    /// Header and body lines, each ending in `\n`.
    pub content: Vec<u8>,
    /// Redirect targets (`>` records) that the import cannot keep.
    pub redirects: Vec<String>,
}

/// Follow at most this many pointer records (a loop is a damaged file).
const MAX_POINTERS: usize = 100_000;

/// Read one record at `pos`: `(type, data, next position)`.
fn record(bytes: &[u8], pos: usize) -> Result<(u8, &[u8], usize), String> {
    let kind = *bytes.get(pos).ok_or("unexpected end of file")?;
    let mut len: usize = 0;
    let mut at = pos + 1;
    for shift in (0..).step_by(7) {
        if shift > 28 {
            return Err(format!("bad record length at offset {pos}"));
        }
        let b = *bytes.get(at).ok_or("unexpected end of file")?;
        at += 1;
        len |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
    }
    let end = at.checked_add(len).ok_or("bad record length")?;
    let data = bytes
        .get(at..end)
        .ok_or_else(|| format!("record at offset {pos} runs past the end of the file"))?;
    Ok((kind, data, end))
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// `seconds microseconds` (the microseconds are optional).
fn arrival(value: &str) -> Result<SystemTime, String> {
    let mut words = value.split_whitespace();
    let secs: u64 = words
        .next()
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("bad time record {value:?}"))?;
    let micros: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    let nanos = u32::try_from(micros.min(999_999) * 1000).unwrap_or(0);
    crate::record_time::from_parts(secs, nanos).ok_or_else(|| format!("bad time record {value:?}"))
}

/// Postfix's DSN NOTIFY bit mask as the RCPT TO keyword list.
fn notify_words(mask: &str) -> Option<String> {
    let mask: u32 = mask.trim().parse().ok()?;
    if mask == 0 {
        return None;
    }
    if mask & 1 != 0 {
        return Some("NEVER".to_string());
    }
    let words: Vec<&str> = [(2, "SUCCESS"), (4, "FAILURE"), (8, "DELAY")]
        .into_iter()
        .filter(|(bit, _)| mask & bit != 0)
        .map(|(_, w)| w)
        .collect();
    (!words.is_empty()).then(|| words.join(","))
}

/// Postfix's DSN RET value (1 full, 2 headers).
fn ret_word(value: &str) -> Option<String> {
    match value.trim() {
        "1" => Some("FULL".to_string()),
        "2" => Some("HDRS".to_string()),
        _ => None,
    }
}

/// Attributes that apply to the next recipient.
#[derive(Default)]
struct Pending {
    original: Option<String>,
    orcpt: Option<String>,
    notify: Option<String>,
}

/// Parse a whole Postfix queue (or maildrop) file.
pub fn parse_postfix_file(bytes: &[u8]) -> Result<PostfixMessage, String> {
    let mut msg = PostfixMessage {
        arrival: UNIX_EPOCH,
        sender: String::new(),
        full_name: None,
        recipients: Vec::new(),
        ret: None,
        envid: None,
        client: None,
        content: Vec::new(),
        redirects: Vec::new(),
    };
    let mut saw_time = false;
    let mut saw_sender = false;
    let mut in_content = false;
    let mut pending = Pending::default();
    let mut pointers = 0;
    let mut pos = 0;
    loop {
        let (kind, data, next) = record(bytes, pos)?;
        pos = next;
        if in_content {
            match kind {
                b'N' => {
                    msg.content.extend_from_slice(data);
                    msg.content.push(b'\n');
                }
                b'L' => msg.content.extend_from_slice(data),
                b'X' => in_content = false,
                b'p' | b'w' => {}
                b'E' => return Err("end record inside the message content".into()),
                other => {
                    return Err(format!(
                        "unexpected record type {:?} in the message content",
                        other as char
                    ))
                }
            }
            if kind != b'p' {
                continue;
            }
        }
        match kind {
            b'p' => {
                let target: usize = text(data)
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad pointer record {:?}", text(data)))?;
                if target != 0 {
                    pointers += 1;
                    if pointers > MAX_POINTERS || target >= bytes.len() {
                        return Err(format!("bad pointer record to offset {target}"));
                    }
                    pos = target;
                }
            }
            b'T' => {
                msg.arrival = arrival(&text(data))?;
                saw_time = true;
            }
            b'F' => msg.full_name = Some(text(data)).filter(|n| !n.is_empty()),
            b'S' => {
                msg.sender = text(data);
                saw_sender = true;
            }
            b'O' => pending.original = Some(text(data)),
            b'o' => pending.orcpt = Some(text(data)),
            b'n' => pending.notify = notify_words(&text(data)),
            b'<' => msg.ret = ret_word(&text(data)),
            b'i' => msg.envid = Some(text(data)),
            b'A' => {
                let attr = text(data);
                let (name, value) = attr.split_once('=').unwrap_or((attr.as_str(), ""));
                match name {
                    "envelope_id" => msg.envid = Some(value.to_string()),
                    "ret_flags" => msg.ret = ret_word(value),
                    "notify_flags" => pending.notify = notify_words(value),
                    "dsn_orig_rcpt" => pending.orcpt = Some(value.to_string()),
                    "log_message_origin" => msg.client = Some(value.to_string()),
                    _ => {}
                }
            }
            b'R' | b'D' => {
                let taken = std::mem::take(&mut pending);
                msg.recipients.push(PostfixRecipient {
                    address: text(data),
                    original: taken.original,
                    orcpt: taken.orcpt,
                    notify: taken.notify,
                    done: kind == b'D',
                });
            }
            b'/' => pending = Pending::default(),
            b'>' => msg.redirects.push(text(data)),
            b'M' => in_content = true,
            b'E' => break,
            _ => {}
        }
    }
    if !saw_time {
        return Err("no arrival time record".into());
    }
    if !saw_sender {
        return Err("no sender record".into());
    }
    Ok(msg)
}

/// Encode one record as Postfix writes it (for tests).
#[cfg(test)]
pub(crate) fn rec(kind: u8, data: &str) -> Vec<u8> {
    let mut out = vec![kind];
    let mut len = data.len();
    loop {
        let low = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(low);
            break;
        }
        out.push(low | 0x80);
    }
    out.extend_from_slice(data.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn records_long_lines_done_cancelled_and_pointers() {
        let long = "x".repeat(300);
        let mut file = Vec::new();
        for (k, d) in [
            (b'T', "1700000000 5"),
            (b'S', "a@example"),
            (b'O', "Orig@example"),
            (b'D', "done@example"),
            (b'O', "gone@example"),
            (b'/', "gone@example"),
            (b'A', "notify_flags=12"),
            (b'R', "todo@example"),
            (b'p', "0"),
            (b'M', ""),
            (b'L', &long[..100]),
            (b'N', &long[100..]),
            (b'N', "body"),
            (b'X', ""),
        ] {
            file.extend(rec(k, d));
        }
        // A pointer to a heap record after the end marker, and back.
        let ptr_at = file.len();
        file.extend(rec(b'p', &format!("{:15}", 0)));
        file.extend(rec(b'E', ""));
        let heap = file.len();
        file.extend(rec(b'R', "added@example"));
        file.extend(rec(b'p', &format!("{:15}", ptr_at + 17)));
        let patched = rec(b'p', &format!("{heap:15}"));
        file[ptr_at..ptr_at + patched.len()].copy_from_slice(&patched);

        let msg = parse_postfix_file(&file).unwrap();
        assert_eq!(msg.sender, "a@example");
        assert_eq!(
            msg.arrival,
            UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_micros(5)
        );
        let got: Vec<(&str, Option<&str>, Option<&str>, bool)> = msg
            .recipients
            .iter()
            .map(|r| {
                (
                    r.address.as_str(),
                    r.original.as_deref(),
                    r.notify.as_deref(),
                    r.done,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("done@example", Some("Orig@example"), None, true),
                ("todo@example", None, Some("FAILURE,DELAY"), false),
                ("added@example", None, None, false),
            ]
        );
        assert_eq!(msg.content, format!("{long}\nbody\n").into_bytes());
    }

    #[test]
    fn damaged_files() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "unexpected end of file"),
            (rec(b'T', "1 0"), "unexpected end of file"),
            (
                vec![b'S', 9, b'a'],
                "record at offset 0 runs past the end of the file",
            ),
            (
                [rec(b'S', "a"), rec(b'E', "")].concat(),
                "no arrival time record",
            ),
            (
                [rec(b'T', "1"), rec(b'M', ""), rec(b'E', "")].concat(),
                "end record inside the message content",
            ),
            (
                [rec(b'T', "1"), rec(b'p', "999")].concat(),
                "bad pointer record to offset 999",
            ),
            (
                rec(b'T', "18446744073709551615 0"),
                "bad time record \"18446744073709551615 0\"",
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(parse_postfix_file(&bytes).unwrap_err(), want);
        }
    }
}
