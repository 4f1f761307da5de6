//! Postfix `mail_date()`, the `Date:` of messages the mail system writes
//! itself (local submissions, bounces).

use std::time::SystemTime;

use chrono::{DateTime, Local};

/// Postfix `mail_date()`: `Fri, 27 Nov 2026 20:34:08 +0000 (UTC)`.
pub fn mail_date(t: SystemTime) -> String {
    let dt: DateTime<Local> = DateTime::from(t);
    let mut s = dt.format("%a, %e %b %Y %H:%M:%S %z").to_string();
    if dt.offset().local_minus_utc() == 0 {
        s.push_str(" (UTC)");
    }
    s
}
