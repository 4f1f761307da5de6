//! One Postfix-format log line split into its parts: time stamp
//! (traditional syslog `Mmm dd HH:MM:SS`, which has no year, or RFC 3339),
//! host, program (`postfix/smtpd[123]` gives `smtpd`) and message.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};

#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub time: NaiveDateTime,
    /// The daemon name without the syslog name: `smtpd`, `qmgr`, `local`.
    pub program: String,
    pub message: String,
}

/// Parse one line; `year` is used for syslog stamps, which carry none.
pub fn parse(line: &str, year: i32) -> Option<LogLine> {
    let line = line.trim_end_matches(['\r', '\n']);
    let (time, rest) = parse_time(line, year)?;
    let rest = rest.trim_start();
    let (_host, rest) = rest.split_once(' ')?;
    let (tag, message) = rest.split_once(": ")?;
    let name = tag.split('[').next()?;
    let program = name.rsplit('/').next()?.to_string();
    Some(LogLine {
        time,
        program,
        message: message.to_string(),
    })
}

fn parse_time(line: &str, year: i32) -> Option<(NaiveDateTime, &str)> {
    let (first, rest) = line.split_once(' ')?;
    if let Ok(t) = DateTime::parse_from_rfc3339(first) {
        return Some((t.naive_local(), rest));
    }
    // `Dec  1 23:54:52` (gatepost, syslog) or `Dec 01 23:54:52` (postlogd).
    let mut fields = line.split(' ').filter(|p| !p.is_empty());
    let month = fields.next()?;
    let day = fields.next()?;
    let clock = fields.next()?;
    let stamp = format!("{year} {month} {day} {clock}");
    let time = NaiveDateTime::parse_from_str(&stamp, "%Y %b %d %H:%M:%S").ok()?;
    let consumed = line.find(clock)? + clock.len();
    Some((time, &line[consumed..]))
}

/// The year to assume for year-less stamps: this year, or last year for a
/// stamp that would lie more than a day in the future.
pub fn year_for(month_day: (u32, u32), today: NaiveDate) -> i32 {
    let (m, d) = month_day;
    match NaiveDate::from_ymd_opt(today.year(), m, d) {
        Some(date) if date > today.succ_opt().unwrap_or(today) => today.year() - 1,
        _ => today.year(),
    }
}

/// Month and day of a syslog stamp, to pick its year with [`year_for`].
pub fn month_day(line: &str) -> Option<(u32, u32)> {
    let mut fields = line.split(' ').filter(|p| !p.is_empty());
    let month = fields.next()?;
    let day: u32 = fields.next()?.parse().ok()?;
    let date = NaiveDate::parse_from_str(&format!("2000 {month} {day}"), "%Y %b %d").ok()?;
    Some((date.month(), day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_and_rfc3339_stamps() {
        let a = parse(
            "Dec  1 23:54:52 mx postfix/smtpd[18574]: connect from unknown[127.0.0.3]",
            2026,
        )
        .unwrap();
        assert_eq!(a.program, "smtpd");
        assert_eq!(a.message, "connect from unknown[127.0.0.3]");
        assert_eq!(a.time.to_string(), "2026-12-01 23:54:52");
        let b = parse("Dec 01 23:54:52 mx postfix/submission/smtpd[1]: x: y", 2026).unwrap();
        assert_eq!(
            (b.time, b.program.as_str(), b.message.as_str()),
            (a.time, "smtpd", "x: y")
        );
        let c = parse(
            "2026-12-01T23:54:52.123456+00:00 mx postfix/qmgr[7]: ABC: removed",
            1,
        )
        .unwrap();
        assert_eq!(c.program, "qmgr");
        assert_eq!(c.time.format("%H:%M:%S").to_string(), "23:54:52");
        assert!(parse("garbage", 2026).is_none());
    }

    #[test]
    fn year_rolls_back_for_future_stamps() {
        let today = NaiveDate::from_ymd_opt(2027, 1, 2).unwrap();
        assert_eq!(year_for((12, 31), today), 2026);
        assert_eq!(year_for((1, 2), today), 2027);
        assert_eq!(month_day("Dec  1 23:54:52 x"), Some((12, 1)));
    }
}
