//! The RFC 5322 date as Postfix writes it everywhere (`mail_date()`):
//! `Sat,  5 Dec 2026 20:34:08 +0000 (UTC)`: day of month space-padded,
//! the numeric offset, then the zone name (known here for UTC only; other
//! zones get the offset alone). Used for `Received:`, `Date:`, bounces and
//! forwarded mail. Honours no parameter (the process time zone).

use chrono::{DateTime, Local};

/// Format `when` in local time.
pub fn mail_date(when: impl Into<DateTime<Local>>) -> String {
    let when: DateTime<Local> = when.into();
    let mut text = when.format("%a, %e %b %Y %H:%M:%S %z").to_string();
    if when.offset().local_minus_utc() == 0 {
        text.push_str(" (UTC)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn same_text_from_every_time_type() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let local: DateTime<Local> = t.into();
        let utc: DateTime<chrono::Utc> = t.into();
        assert_eq!(mail_date(t), mail_date(local));
        assert_eq!(mail_date(t), mail_date(utc));
        assert!(mail_date(t).contains(" 2023 "), "{}", mail_date(t));
    }

    #[test]
    fn day_is_space_padded_as_postfix_writes_it() {
        // 2026-12-05 20:34:08 UTC.
        let t = UNIX_EPOCH + Duration::from_secs(1_796_502_848);
        let text = mail_date(t);
        if Local::now().offset().local_minus_utc() == 0 {
            assert_eq!(text, "Sat,  5 Dec 2026 20:34:08 +0000 (UTC)");
        } else {
            assert!(text.contains("Dec 2026"), "{text}");
        }
    }
}
