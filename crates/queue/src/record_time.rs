//! Times in our queue and maildrop files (`SECONDS.NANOS` since the
//! epoch) and the arrival times read from Postfix's queue files. Reading
//! refuses a time after the year 9999: no file holds one, and the clock
//! and calendar code that prints or compares arrival times (mailq, `queue
//! show`, Date: headers) cannot hold every `u64` of seconds, so a damaged
//! or hostile file is reported as damaged instead.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 9999-12-31 23:59:59 UTC, the last second a decoded time may name.
const LAST_SECOND: u64 = 253_402_300_799;

/// `SECONDS.NANOS`; a time before the epoch is written as the epoch.
pub(crate) fn encode(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// Read `SECONDS` or `SECONDS.NANOS`.
pub(crate) fn decode(s: &str) -> Result<SystemTime, String> {
    let bad = || format!("bad time {s:?}");
    let (secs, nanos) = s.split_once('.').unwrap_or((s, "0"));
    let secs: u64 = secs.parse().map_err(|_| bad())?;
    let nanos: u32 = nanos.parse().map_err(|_| bad())?;
    from_parts(secs, nanos).ok_or_else(bad)
}

/// The time `secs` seconds and `nanos` nanoseconds after the epoch, if it
/// is one a calendar holds (up to the year 9999).
pub(crate) fn from_parts(secs: u64, nanos: u32) -> Option<SystemTime> {
    if nanos >= 1_000_000_000 || secs > LAST_SECOND {
        return None;
    }
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_no_calendar_holds() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(decode(&encode(t)), Ok(t));
        assert_eq!(
            decode("1700000000"),
            Ok(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert!(decode("253402300799.999999999").is_ok());
        for bad in [
            "253402300800",
            "18446744073709551615.0",
            "1.1000000000",
            "x",
            "1.",
            "",
        ] {
            assert!(decode(bad).is_err(), "{bad:?} accepted");
        }
    }
}
