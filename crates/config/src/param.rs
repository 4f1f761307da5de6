//! Typed parameter handles: `Param<T>` pairs a parameter's declaration
//! ([`ParamSpec`]: name, kind, default, start-up range, doc) with the Rust
//! type its value is read as, so `cfg.get(&params::SMTPD_TIMEOUT)` is a
//! `Duration`. [`ParamValue`] converts an expanded value to that type with
//! the one set of parsers in `kind.rs`.

use std::marker::PhantomData;
use std::time::Duration;

use crate::kind::{parse_bool, parse_int, parse_time, Kind};
use crate::list::split_list;

/// Defaults that are computed from the system rather than written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Computed {
    /// The system FQDN (`gethostname`, `.$mydomain` or `.localdomain` appended
    /// when it has no dot).
    MyHostname,
    /// `$myhostname` minus its first label; `localdomain` if none.
    MyDomain,
    /// From `mynetworks_style` and the interface addresses.
    MyNetworks,
}

/// A parameter's default value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// Raw default text, expanded on read.
    Text(&'static str),
    /// Computed at run time.
    Computed(Computed),
}

/// One parameter declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub default: DefaultValue,
    pub kind: Kind,
    /// Lowest accepted value (integers; times in seconds; text: its
    /// length), enforced when the configuration is loaded as Postfix does
    /// (`fatal: invalid NAME: VALUE (min N)`).
    pub min: Option<i64>,
    /// Highest accepted value, likewise.
    pub max: Option<i64>,
    /// Accepted, shown by `postconf` and used in `$name` expansion, but no
    /// code reads it (gatepost does not act on it, e.g. `biff`, or it only
    /// feeds other defaults, e.g. `compatibility_level`).
    pub informational: bool,
    /// Read by no code because gatepost lacks the feature (e.g.
    /// `expand_owner_alias`): an explicit non-default setting is reported at load
    /// as not implemented. Implies `informational`.
    pub unimplemented: bool,
    pub doc: &'static str,
}

/// A typed handle to one registered parameter; read it with
/// [`Config::get`](crate::Config::get).
#[derive(Debug)]
pub struct Param<T> {
    pub spec: ParamSpec,
    value: PhantomData<fn() -> T>,
}

impl<T> Param<T> {
    pub(crate) const fn new(spec: ParamSpec) -> Param<T> {
        Param {
            spec,
            value: PhantomData,
        }
    }

    /// The `main.cf` name.
    pub const fn name(&self) -> &'static str {
        self.spec.name
    }
}

/// A Rust type a parameter value is read as.
pub trait ParamValue: Sized {
    /// The start-up minimum a handle of this type gets when it declares
    /// none: 0 for unsigned integers, so a negative value is refused.
    const LOWEST: Option<i64> = None;
    /// Whether values of `kind` can be read as this type.
    fn fits(kind: Kind) -> bool;
    /// Convert an expanded, trimmed value of `kind`.
    fn from_text(text: &str, kind: Kind) -> Result<Self, String>;
}

impl ParamValue for bool {
    fn fits(kind: Kind) -> bool {
        kind == Kind::Bool
    }
    fn from_text(text: &str, _kind: Kind) -> Result<bool, String> {
        parse_bool(text)
    }
}

impl ParamValue for i64 {
    fn fits(kind: Kind) -> bool {
        matches!(kind, Kind::Int | Kind::Size)
    }
    fn from_text(text: &str, _kind: Kind) -> Result<i64, String> {
        parse_int(text)
    }
}

macro_rules! unsigned_value {
    ($($ty:ty),*) => {$(
        impl ParamValue for $ty {
            const LOWEST: Option<i64> = Some(0);
            fn fits(kind: Kind) -> bool {
                matches!(kind, Kind::Int | Kind::Size)
            }
            fn from_text(text: &str, _kind: Kind) -> Result<$ty, String> {
                let n = parse_int(text)?;
                <$ty>::try_from(n).map_err(|_| format!("out of range: {n}"))
            }
        }
    )*};
}
unsigned_value!(u16, u32, u64, usize);

impl ParamValue for Duration {
    fn fits(kind: Kind) -> bool {
        matches!(kind, Kind::Time(_))
    }
    fn from_text(text: &str, kind: Kind) -> Result<Duration, String> {
        match kind {
            Kind::Time(unit) => parse_time(text, unit),
            _ => Err("not a time parameter".to_string()),
        }
    }
}

impl ParamValue for String {
    fn fits(kind: Kind) -> bool {
        matches!(kind, Kind::Str | Kind::Enum(_))
    }
    fn from_text(text: &str, _kind: Kind) -> Result<String, String> {
        Ok(text.to_string())
    }
}

impl ParamValue for Vec<String> {
    fn fits(kind: Kind) -> bool {
        kind == Kind::List
    }
    fn from_text(text: &str, _kind: Kind) -> Result<Vec<String>, String> {
        Ok(split_list(text))
    }
}
