//! Parameter value kinds and their parsers: boolean (`yes`/`no`), integer,
//! size (bytes), time (integer plus optional unit `s m h d w`, each parameter
//! with its own default unit), free text, list and enumeration.

use std::time::Duration;

/// The type of a parameter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `yes` or `no` (case-insensitive, as Postfix).
    Bool,
    /// A decimal integer (counts, reply codes).
    Int,
    /// A time: integer plus optional unit `s m h d w`; the char is the
    /// parameter's default unit.
    Time(char),
    /// A size in bytes (decimal integer).
    Size,
    /// Free text.
    Str,
    /// A list (commas and/or whitespace, `{}` grouping).
    List,
    /// One of the listed words.
    Enum(&'static [&'static str]),
}

/// Seconds per time unit; `None` for an unknown unit.
pub(crate) fn unit_seconds(unit: char) -> Option<u64> {
    match unit.to_ascii_lowercase() {
        's' => Some(1),
        'm' => Some(60),
        'h' => Some(3600),
        'd' => Some(86_400),
        'w' => Some(604_800),
        _ => None,
    }
}

/// Parse a boolean value.
pub(crate) fn parse_bool(value: &str) -> Result<bool, String> {
    if value.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err("expected yes or no".to_string())
    }
}

/// Parse a decimal integer (optionally signed).
pub(crate) fn parse_int(value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .map_err(|_| "expected an integer".to_string())
}

/// Parse a time value with `default_unit` applying when no unit is given.
pub fn parse_time(value: &str, default_unit: char) -> Result<Duration, String> {
    let why = || "expected a time: a number with optional unit s, m, h, d or w".to_string();
    let (number, unit) = match value.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&value[..i], c),
        _ => (value, default_unit),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(why());
    }
    let count: u64 = number.parse().map_err(|_| why())?;
    let scale = unit_seconds(unit).ok_or_else(why)?;
    count
        .checked_mul(scale)
        .map(Duration::from_secs)
        .ok_or_else(why)
}

impl Kind {
    /// Check an expanded value against this kind; `Err` carries the reason.
    pub(crate) fn check(self, value: &str) -> Result<(), String> {
        match self {
            Kind::Bool => parse_bool(value).map(|_| ()),
            Kind::Int => parse_int(value).map(|_| ()),
            Kind::Size => match parse_int(value) {
                Ok(n) if n >= 0 => Ok(()),
                _ => Err("expected a size in bytes".to_string()),
            },
            Kind::Time(unit) => parse_time(value, unit).map(|_| ()),
            Kind::Str | Kind::List => Ok(()),
            Kind::Enum(allowed) => {
                if allowed.iter().any(|a| a.eq_ignore_ascii_case(value)) {
                    Ok(())
                } else {
                    Err(format!("expected one of: {}", allowed.join(", ")))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Time values as the delivery agents read them (seconds by default).
    #[test]
    fn time_values() {
        for (text, secs) in [
            ("10s", Some(10)),
            ("5m", Some(300)),
            ("1h", Some(3600)),
            ("2d", Some(172_800)),
            ("1w", Some(604_800)),
            ("30", Some(30)),
            ("", None),
            ("x", None),
            ("5y", None),
        ] {
            assert_eq!(
                parse_time(text, 's').ok(),
                secs.map(Duration::from_secs),
                "{text}"
            );
        }
    }

    #[test]
    fn time_table() {
        let cases: &[(&str, char, Option<u64>)] = &[
            ("300s", 's', Some(300)),
            ("300", 's', Some(300)),
            ("5m", 's', Some(300)),
            ("2h", 's', Some(7200)),
            ("1d", 's', Some(86_400)),
            ("1w", 's', Some(604_800)),
            ("4", 'h', Some(14_400)),
            ("5", 'd', Some(432_000)),
            ("0h", 'h', Some(0)),
            ("1H", 's', Some(3600)),
            ("", 's', None),
            ("s", 's', None),
            ("-1s", 's', None),
            ("1x", 's', None),
            ("1.5h", 's', None),
            ("10 s", 's', None),
        ];
        for (input, unit, want) in cases {
            let got = parse_time(input, *unit).ok().map(|d| d.as_secs());
            assert_eq!(got, *want, "input {input:?}");
        }
    }

    #[test]
    fn kind_check_table() {
        let cases: &[(Kind, &str, bool)] = &[
            (Kind::Bool, "yes", true),
            (Kind::Bool, "NO", true),
            (Kind::Bool, "yess", false),
            (Kind::Bool, "", false),
            (Kind::Int, "10", true),
            (Kind::Int, "-1", true),
            (Kind::Int, "10k", false),
            (Kind::Size, "10240000", true),
            (Kind::Size, "-5", false),
            (Kind::Time('s'), "300s", true),
            (Kind::Str, "anything at all", true),
            (Kind::List, "", true),
            (
                Kind::Enum(&["no", "yes", "normalize", "reject"]),
                "normalize",
                true,
            ),
            (
                Kind::Enum(&["no", "yes", "normalize", "reject"]),
                "sometimes",
                false,
            ),
        ];
        for (kind, input, ok) in cases {
            assert_eq!(kind.check(input).is_ok(), *ok, "{kind:?} {input:?}");
        }
    }
}
