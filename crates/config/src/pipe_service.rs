//! pipe(8) services of `master.cf`: `NAME unix - n n - - pipe flags=...
//! user=... argv=PROGRAM ARGS...` (also `directory=`). Kept as written;
//! the delivery side expands `${recipient}` ... per delivery and checks
//! `user=` (Postfix refuses a missing or privileged user when the service
//! starts).

/// One `pipe` service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipeService {
    /// The service (transport) name.
    pub name: String,
    /// `flags=` letters (`DORXFquh.>B` ...).
    pub flags: String,
    /// `user=NAME` or `user=NAME:GROUP`; empty when missing.
    pub user: String,
    /// `directory=` (working directory of the command), empty for none.
    pub directory: String,
    /// `argv=` and everything after it, unexpanded.
    pub argv: Vec<String>,
}

impl PipeService {
    /// Read the arguments of a master.cf `pipe` command line.
    pub(crate) fn from_args(name: &str, args: &[String]) -> PipeService {
        let mut service = PipeService {
            name: name.to_string(),
            ..PipeService::default()
        };
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            if let Some(v) = arg.strip_prefix("flags=") {
                service.flags = v.to_string();
            } else if let Some(v) = arg.strip_prefix("user=") {
                service.user = v.to_string();
            } else if let Some(v) = arg.strip_prefix("directory=") {
                service.directory = v.to_string();
            } else if let Some(v) = arg.strip_prefix("argv=") {
                service.argv.push(v.to_string());
                service.argv.extend(iter.by_ref().cloned());
            }
        }
        service
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        let args: Vec<String> = [
            "flags=DRhu",
            "user=vmail:mail",
            "argv=/usr/lib/dovecot/deliver",
            "-f",
            "${sender}",
            "-d",
            "${recipient}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let s = PipeService::from_args("dovecot", &args);
        assert_eq!(s.flags, "DRhu");
        assert_eq!(s.user, "vmail:mail");
        assert_eq!(
            s.argv,
            [
                "/usr/lib/dovecot/deliver",
                "-f",
                "${sender}",
                "-d",
                "${recipient}"
            ]
        );
    }
}
