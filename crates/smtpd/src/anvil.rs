//! Per-client connection and event counting, as Postfix's anvil(8): for
//! each (service, client address) the simultaneous connections and, over
//! `anvil_rate_time_unit`, the connection, message, recipient, new TLS
//! session and AUTH rates; plus the peak values that anvil logs every
//! `anvil_status_update_time` as `statistics: max ...` lines.
//!
//! The smtpd server talks to the counters only through [`ClientEvents`],
//! so that a store shared between processes can replace [`LocalAnvil`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Local};

/// Counters one client's events are checked against.
pub trait ClientEvents: Send + Sync {
    /// A new connection: returns (simultaneous connections, connection rate),
    /// both including this one.
    fn connect(&self, service: &str, addr: IpAddr) -> (u32, u32);
    /// The end of a connection registered with [`ClientEvents::connect`].
    fn disconnect(&self, service: &str, addr: IpAddr);
    /// A MAIL FROM request: returns the message rate including this one.
    fn message(&self, service: &str, addr: IpAddr) -> u32;
    /// A RCPT TO request: returns the recipient rate including this one.
    fn recipient(&self, service: &str, addr: IpAddr) -> u32;
    /// A new (not resumed) TLS session: returns the rate including this one.
    fn new_tls_session(&self, service: &str, addr: IpAddr) -> u32;
    /// An AUTH request: returns the rate including this one.
    fn auth(&self, service: &str, addr: IpAddr) -> u32;
}

/// One client's counts (anvil's `ANVIL_REMOTE`).
#[derive(Debug)]
struct Remote {
    count: u32,
    start: Instant,
    connections: u32,
    messages: u32,
    recipients: u32,
    new_tls: u32,
    auths: u32,
}

impl Remote {
    fn new(now: Instant) -> Remote {
        Remote {
            count: 0,
            start: now,
            connections: 0,
            messages: 0,
            recipients: 0,
            new_tls: 0,
            auths: 0,
        }
    }

    /// Start a new rate interval when the time unit has passed.
    fn roll(&mut self, now: Instant, unit: Duration) {
        if now.duration_since(self.start) > unit {
            *self = Remote {
                count: self.count,
                ..Remote::new(now)
            };
        }
    }
}

/// A peak value and whose and when it was.
#[derive(Debug, Default, Clone)]
struct Peak {
    value: u32,
    ident: String,
    when: Option<DateTime<Local>>,
}

impl Peak {
    fn update(&mut self, value: u32, ident: &str) {
        if value > self.value {
            self.value = value;
            self.ident = ident.to_string();
            self.when = Some(Local::now());
        }
    }

    fn at(&self) -> String {
        self.when
            .map(|w| w.format("%b %e %H:%M:%S").to_string())
            .unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct Peaks {
    connection_rate: Peak,
    connection_count: Peak,
    message_rate: Peak,
    recipient_rate: Peak,
    new_tls_rate: Peak,
    auth_rate: Peak,
    cache_size: Peak,
}

#[derive(Debug, Default)]
struct Table {
    remotes: HashMap<(String, IpAddr), Remote>,
    peaks: Peaks,
}

/// The in-process counter store. The server keeps one for its whole life:
/// a reload (new `anvil_rate_time_unit` included) keeps the counts.
#[derive(Debug)]
pub struct LocalAnvil {
    unit: Mutex<Duration>,
    table: Mutex<Table>,
}

/// Which rate an event adds to.
#[derive(Clone, Copy)]
enum Rate {
    Message,
    Recipient,
    NewTls,
    Auth,
}

impl LocalAnvil {
    pub fn new(rate_time_unit: Duration) -> LocalAnvil {
        LocalAnvil {
            unit: Mutex::new(rate_time_unit),
            table: Mutex::new(Table::default()),
        }
    }

    /// `anvil_rate_time_unit` from a reloaded configuration; intervals
    /// already running end by the new unit.
    pub fn set_rate_time_unit(&self, unit: Duration) {
        *self.unit.lock().unwrap_or_else(|p| p.into_inner()) = unit;
    }

    fn unit(&self) -> Duration {
        *self.unit.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with_table<T>(&self, f: impl FnOnce(&mut Table) -> T) -> T {
        let mut table = match self.table.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut table)
    }

    fn event(&self, service: &str, addr: IpAddr, rate: Rate) -> u32 {
        let now = Instant::now();
        let unit = self.unit();
        self.with_table(|t| {
            let remote = t
                .remotes
                .entry((service.to_string(), addr))
                .or_insert_with(|| Remote::new(now));
            remote.roll(now, unit);
            let (counter, peak) = match rate {
                Rate::Message => (&mut remote.messages, &mut t.peaks.message_rate),
                Rate::Recipient => (&mut remote.recipients, &mut t.peaks.recipient_rate),
                Rate::NewTls => (&mut remote.new_tls, &mut t.peaks.new_tls_rate),
                Rate::Auth => (&mut remote.auths, &mut t.peaks.auth_rate),
            };
            *counter = counter.saturating_add(1);
            let value = *counter;
            peak.update(value, &format!("{service}:{addr}"));
            let size = t.remotes.len() as u32;
            t.peaks.cache_size.update(size, "");
            value
        })
    }

    /// anvil's periodic `statistics:` lines (each peak seen since the last
    /// call), after which the peaks start over; clients without connections
    /// whose rate interval has ended are forgotten.
    pub fn status_lines(&self) -> Vec<String> {
        let now = Instant::now();
        let unit = self.unit();
        let secs = unit.as_secs();
        self.with_table(|t| {
            t.remotes
                .retain(|_, r| r.count > 0 || now.duration_since(r.start) <= unit);
            let p = std::mem::take(&mut t.peaks);
            let mut lines = Vec::new();
            rate_line(&mut lines, "connection", &p.connection_rate, secs);
            if p.connection_count.value > 0 {
                lines.push(format!(
                    "statistics: max connection count {} for ({}) at {}",
                    p.connection_count.value,
                    p.connection_count.ident,
                    p.connection_count.at()
                ));
            }
            rate_line(&mut lines, "message", &p.message_rate, secs);
            rate_line(&mut lines, "recipient", &p.recipient_rate, secs);
            rate_line(&mut lines, "newtls", &p.new_tls_rate, secs);
            rate_line(&mut lines, "auth", &p.auth_rate, secs);
            if p.cache_size.value > 0 {
                lines.push(format!(
                    "statistics: max cache size {} at {}",
                    p.cache_size.value,
                    p.cache_size.at()
                ));
            }
            lines
        })
    }

    /// Log [`LocalAnvil::status_lines`] as program `anvil` every `interval`,
    /// for ever.
    pub async fn log_status_every(&self, interval: Duration) {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        loop {
            ticks.tick().await;
            for line in self.status_lines() {
                gatepost_log::info("anvil", line);
            }
        }
    }
}

/// `statistics: max WHAT rate N/UNITs for (service:addr) at TIME`.
fn rate_line(lines: &mut Vec<String>, what: &str, peak: &Peak, secs: u64) {
    if peak.value > 0 {
        lines.push(format!(
            "statistics: max {what} rate {}/{secs}s for ({}) at {}",
            peak.value,
            peak.ident,
            peak.at()
        ));
    }
}

impl ClientEvents for LocalAnvil {
    fn connect(&self, service: &str, addr: IpAddr) -> (u32, u32) {
        let now = Instant::now();
        let unit = self.unit();
        self.with_table(|t| {
            let remote = t
                .remotes
                .entry((service.to_string(), addr))
                .or_insert_with(|| Remote::new(now));
            remote.roll(now, unit);
            remote.count = remote.count.saturating_add(1);
            remote.connections = remote.connections.saturating_add(1);
            let (count, rate) = (remote.count, remote.connections);
            let ident = format!("{service}:{addr}");
            t.peaks.connection_count.update(count, &ident);
            t.peaks.connection_rate.update(rate, &ident);
            let size = t.remotes.len() as u32;
            t.peaks.cache_size.update(size, "");
            (count, rate)
        })
    }

    fn disconnect(&self, service: &str, addr: IpAddr) {
        self.with_table(|t| {
            if let Some(remote) = t.remotes.get_mut(&(service.to_string(), addr)) {
                remote.count = remote.count.saturating_sub(1);
            }
        })
    }

    fn message(&self, service: &str, addr: IpAddr) -> u32 {
        self.event(service, addr, Rate::Message)
    }

    fn recipient(&self, service: &str, addr: IpAddr) -> u32 {
        self.event(service, addr, Rate::Recipient)
    }

    fn new_tls_session(&self, service: &str, addr: IpAddr) -> u32 {
        self.event(service, addr, Rate::NewTls)
    }

    fn auth(&self, service: &str, addr: IpAddr) -> u32 {
        self.event(service, addr, Rate::Auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn counts_and_rates_per_service_and_client() {
        let anvil = LocalAnvil::new(Duration::from_secs(60));
        let a = addr("192.0.2.9");
        assert_eq!(anvil.connect("smtp", a), (1, 1));
        assert_eq!(anvil.connect("smtp", a), (2, 2));
        anvil.disconnect("smtp", a);
        assert_eq!(anvil.connect("smtp", a), (2, 3));
        assert_eq!(anvil.connect("submission", a), (1, 1));
        assert_eq!(anvil.connect("smtp", addr("192.0.2.10")), (1, 1));
        assert_eq!(anvil.message("smtp", a), 1);
        assert_eq!(anvil.message("smtp", a), 2);
        assert_eq!(anvil.recipient("smtp", a), 1);
        assert_eq!(anvil.new_tls_session("smtp", a), 1);
        assert_eq!(anvil.auth("smtp", a), 1);
    }

    #[test]
    fn a_new_time_unit_keeps_the_counts() {
        let anvil = LocalAnvil::new(Duration::from_secs(60));
        let a = addr("192.0.2.9");
        anvil.connect("smtp", a);
        anvil.message("smtp", a);
        anvil.set_rate_time_unit(Duration::from_secs(120));
        assert_eq!(anvil.connect("smtp", a), (2, 2));
        assert_eq!(anvil.message("smtp", a), 2);
        assert!(anvil.status_lines()[0].contains("rate 2/120s"));
    }

    #[test]
    fn rates_start_over_after_the_time_unit() {
        let anvil = LocalAnvil::new(Duration::ZERO);
        let a = addr("192.0.2.9");
        anvil.connect("smtp", a);
        std::thread::sleep(Duration::from_millis(2));
        // The interval has passed: the rate starts over, the count does not.
        assert_eq!(anvil.connect("smtp", a), (2, 1));
    }

    #[test]
    fn status_lines_name_the_peaks_as_anvil_does() {
        let anvil = LocalAnvil::new(Duration::from_secs(60));
        let a = addr("192.0.2.9");
        anvil.connect("smtp", a);
        anvil.connect("smtp", a);
        anvil.message("smtp", a);
        anvil.recipient("smtp", a);
        anvil.recipient("smtp", a);
        let lines = anvil.status_lines();
        let heads: Vec<&str> = lines
            .iter()
            .map(|l| &l[..l.rfind(" at ").unwrap()])
            .collect();
        assert_eq!(
            heads,
            [
                "statistics: max connection rate 2/60s for (smtp:192.0.2.9)",
                "statistics: max connection count 2 for (smtp:192.0.2.9)",
                "statistics: max message rate 1/60s for (smtp:192.0.2.9)",
                "statistics: max recipient rate 2/60s for (smtp:192.0.2.9)",
                "statistics: max cache size 1",
            ]
        );
        // `at Mmm dd hh:mm:ss`, 15 characters as ctime()+4.
        assert!(lines
            .iter()
            .all(|l| l.len() - l.rfind(" at ").unwrap() == 4 + 15));
        assert!(anvil.status_lines().is_empty(), "peaks start over");
    }
}
