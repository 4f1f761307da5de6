//! Postfix short-form queue ids (docs/queue.md#queue-ids): exactly 5 upper-case
//! hex digits of the arrival microseconds followed by the queue file's inode
//! number in upper-case hex, e.g. `5562DBE20B`.

use std::time::{SystemTime, UNIX_EPOCH};

/// A queue id as Postfix prints it (short form: 5 hex digits of the arrival
/// microseconds + the file's inode in hex, upper case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(pub String);

impl std::fmt::Display for QueueId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl QueueId {
    /// Build the short-form id from the microseconds part of the arrival time
    /// (0..=999_999) and the inode number.
    pub fn short_form(micros: u32, inode: u64) -> QueueId {
        QueueId(format!("{:05X}{:X}", micros % 1_000_000, inode))
    }

    /// The inode number the id names (the hex digits after the first 5),
    /// or `None` for a name that is not a short-form id.
    pub fn inode(&self) -> Option<u64> {
        if !Self::is_valid(&self.0) {
            return None;
        }
        u64::from_str_radix(&self.0[5..], 16).ok()
    }

    /// The id string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `s` looks like a short-form queue id (upper-case hex, at least
    /// 6 characters). Used to skip foreign files in queue directories and to
    /// refuse path tricks in operator commands.
    pub fn is_valid(s: &str) -> bool {
        s.len() >= 6
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    }
}

/// Microseconds part of a time stamp.
pub(crate) fn micros_of(t: SystemTime) -> u32 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_micros())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inode_is_read_back_from_the_id() {
        assert_eq!(QueueId::short_form(12, 0x2281C1).inode(), Some(0x2281C1));
        assert_eq!(QueueId("5562DBE20B".into()).inode(), Some(0xBE20B));
        assert_eq!(QueueId("tmp.1".into()).inode(), None);
    }

    #[test]
    fn short_form_layout() {
        let cases: &[(u32, u64, &str)] = &[
            (0x5562D, 0xBE20B, "5562DBE20B"),
            (0, 1, "000001"),
            (999_999, 0xABCDEF12, "F423FABCDEF12"),
            (15, 255, "0000FFF"),
        ];
        for (micros, inode, want) in cases {
            assert_eq!(QueueId::short_form(*micros, *inode).0, *want);
            assert!(QueueId::is_valid(want));
        }
    }

    #[test]
    fn validity() {
        for bad in ["", "abc", "5562dbe20b", "../etc", "5562DBE20G", "12345"] {
            assert!(!QueueId::is_valid(bad), "{bad}");
        }
    }
}
