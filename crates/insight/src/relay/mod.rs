//! `gatepost relay-audit HOST[:PORT]`: run the open-relay battery against
//! one SMTP server (MAIL and RCPT only, RSET between tries; DATA only with
//! `--send`), print a table or JSON, and exit 0 (no relay), 1 (relayed) or
//! 2 (error). Only the host the operator names is ever contacted.

pub mod forms;
mod output;
mod probe;
mod smtp;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};

pub use output::{Outcome, Verdict};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The server to audit, as HOST, HOST:PORT or [IPV6]:PORT (port 25 by default).
    pub target: String,
    /// Envelope sender for the non-null tries.
    #[arg(long, default_value = "relay-audit@relay-test.example")]
    pub from: String,
    /// HELO/EHLO name to announce.
    #[arg(long, default_value = "relay-audit.invalid")]
    pub helo: String,
    /// The foreign domain to try to relay to (keep it a reserved name).
    #[arg(long, default_value = "relay-test.example")]
    pub to_domain: String,
    /// Local part of the foreign recipient.
    #[arg(long, default_value = "relay-audit")]
    pub user: String,
    /// Send a short test message to every recipient that was accepted.
    #[arg(long)]
    pub send: bool,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Seconds to wait for a connection or a reply.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

/// Run the audit and print the result; the exit status says what was found.
pub fn run(args: &Args) -> ExitCode {
    match audit(args) {
        Ok(outcome) => {
            let printed = if args.json {
                output::print_json(&outcome)
            } else {
                output::print_table(&outcome);
                Ok(())
            };
            match printed {
                Err(e) => {
                    eprintln!("gatepost: relay-audit: {e:#}");
                    ExitCode::from(2)
                }
                Ok(()) if outcome.relayed() > 0 => ExitCode::from(1),
                Ok(()) => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            eprintln!("gatepost: relay-audit: {e:#}");
            ExitCode::from(2)
        }
    }
}

pub fn audit(args: &Args) -> Result<Outcome> {
    let (host, port) = split_host_port(&args.target)?;
    let addr: SocketAddr = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    probe::run(args, &host, addr, Duration::from_secs(args.timeout.max(1)))
}

/// `HOST`, `HOST:PORT`, `[V6]`, `[V6]:PORT` or a bare IPv6 address.
pub fn split_host_port(target: &str) -> Result<(String, u16)> {
    let parse_port = |p: &str| p.parse::<u16>().with_context(|| format!("bad port {p:?}"));
    if let Some(rest) = target.strip_prefix('[') {
        let Some((host, tail)) = rest.split_once(']') else {
            bail!("missing ] in {target:?}");
        };
        let port = match tail.strip_prefix(':') {
            Some(p) => parse_port(p)?,
            None if tail.is_empty() => 25,
            None => bail!("unexpected {tail:?} after ] in {target:?}"),
        };
        return Ok((host.to_string(), port));
    }
    match target.matches(':').count() {
        0 => Ok((target.to_string(), 25)),
        1 => {
            let (h, p) = target.split_once(':').unwrap_or((target, "25"));
            Ok((h.to_string(), parse_port(p)?))
        }
        _ => Ok((target.to_string(), 25)),
    }
}

#[cfg(test)]
mod tests {
    use super::split_host_port;

    #[test]
    fn host_and_port_forms() {
        assert_eq!(
            split_host_port("mx.example").unwrap(),
            ("mx.example".into(), 25)
        );
        assert_eq!(
            split_host_port("127.0.0.1:2525").unwrap(),
            ("127.0.0.1".into(), 2525)
        );
        assert_eq!(split_host_port("[::1]:26").unwrap(), ("::1".into(), 26));
        assert_eq!(split_host_port("::1").unwrap(), ("::1".into(), 25));
        assert!(split_host_port("h:x").is_err());
    }
}
