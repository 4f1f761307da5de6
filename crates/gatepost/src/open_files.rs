//! The open-files limit at start: every SMTP session holds a socket, so the
//! server raises its soft `RLIMIT_NOFILE` to the hard limit (as far as the
//! system lets it) and logs a warning when even that is below what the
//! configured session limits need: the sum of every smtpd service's
//! maxproc (master.cf, `-` meaning `default_process_limit`) plus a reserve
//! for listeners, queue files, deliveries and logs. A maxproc of 0 (no
//! limit) counts as needing the hard limit, so it never warns.

use gatepost_config::{params, Config};
use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};

/// Descriptors kept for everything that is not a session.
const RESERVE: u64 = 256;

/// What the limits need: sessions of every service plus the reserve;
/// `None` when a service has no limit.
fn needed(cfg: &Config) -> Option<u64> {
    let mut total = RESERVE;
    for service in cfg.services() {
        let max = service
            .process_limit
            .unwrap_or_else(|| cfg.get(&params::DEFAULT_PROCESS_LIMIT));
        if max == 0 {
            return None;
        }
        total = total.saturating_add(max as u64);
    }
    Some(total)
}

/// Raise the soft limit to the hard one; the lines to log (info, warning).
pub fn raise(cfg: &Config) -> (Option<String>, Option<String>) {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return (None, None);
    };
    let mut info = None;
    let mut now = soft;
    if hard > soft {
        match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => {
                now = hard;
                info = Some(format!(
                    "open files limit raised from {soft} to {}",
                    shown(hard)
                ));
            }
            Err(e) => {
                return (
                    None,
                    Some(format!(
                        "cannot raise the open files limit from {soft} to {}: {}",
                        shown(hard),
                        e.desc()
                    )),
                )
            }
        }
    }
    let warning = needed(cfg).filter(|&need| now < need).map(|need| {
        format!(
            "open files limit {now} is below the {need} that the smtpd process limits need \
             (their maxproc plus {RESERVE}): new clients may be refused when it is reached"
        )
    });
    (info, warning)
}

fn shown(limit: u64) -> String {
    if limit == RLIM_INFINITY {
        "unlimited".to_string()
    } else {
        limit.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_of_every_service_plus_the_reserve() {
        let cfg = Config::parse_main_cf("default_process_limit = 1000\n", "main.cf").unwrap();
        // Postfix's default master.cf: one smtp service at maxproc `-`.
        assert_eq!(needed(&cfg), Some(1000 + RESERVE));
    }
}
