//! `gatepost check [--json]`: print the configuration findings of
//! [`gatepost_policy::check`], one line each as `SEVERITY: FILE:LINE:
//! text`, and exit 0 (clean, or info only), 1 (warnings) or 2 (fatal).
//! Also the start-up hook of `serve`/`start` (and of a reload): warnings
//! are logged, fatal findings refuse the start (a reload keeps the old
//! configuration), except an open relay when `gatepost_allow_open_relay =
//! yes` (then logged as a warning).

use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use gatepost_config::{params, Config};
use gatepost_insight::relay::forms::{recipients, Target};
use gatepost_policy::check::{check_config, config_warnings, Finding, RelayForm, Severity};
use gatepost_rewrite::Rewriter;

/// The foreign domain of the open-relay proof (RFC 2606: never local).
const FOREIGN_DOMAIN: &str = "relay-check.invalid";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the findings as a JSON array.
    #[arg(long)]
    json: bool,
}

pub fn run(cfg: &Config, args: &Args) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start async runtime")?;
    let mut findings = config_warnings(cfg);
    findings.extend(runtime.block_on(findings_of(cfg))?);
    if args.json {
        println!("{}", to_json(&findings));
    } else {
        for f in &findings {
            println!("{f}");
        }
    }
    let worst = findings.iter().map(|f| f.severity).max();
    Ok(ExitCode::from(match worst {
        Some(Severity::Fatal) => 2,
        Some(Severity::Warning) => 1,
        _ => 0,
    }))
}

/// The findings for `cfg` beyond its load warnings.
async fn findings_of(cfg: &Config) -> Result<Vec<Finding>> {
    let rewriter = Arc::new(Rewriter::from_config(cfg).context("address rewriting")?);
    Ok(check_config(cfg, rewriter, &relay_forms(cfg)).await)
}

/// The relay battery's recipient forms for this server's own name and
/// listening addresses.
fn relay_forms(cfg: &Config) -> Vec<RelayForm> {
    let mut target = Target::default();
    target.add_name(&cfg.get(&params::MYHOSTNAME));
    for interface in cfg.get(&params::INET_INTERFACES) {
        if let Ok(addr) = interface.parse::<IpAddr>() {
            target.add_addr(addr);
        }
    }
    if target.addrs.is_empty() {
        target.add_addr(IpAddr::from([127, 0, 0, 1]));
    }
    recipients(&target, "relay-check", FOREIGN_DOMAIN)
        .into_iter()
        .map(|(trick, recipient)| RelayForm { trick, recipient })
        .collect()
}

/// The start-up hook of `serve`: log warnings (through `warn`), refuse
/// fatal findings with their text.
pub async fn at_startup(cfg: &Config, warn: impl Fn(&str)) -> Result<()> {
    let allow_open_relay = cfg.get(&params::GATEPOST_ALLOW_OPEN_RELAY);
    for f in findings_of(cfg).await? {
        let text = format!("{}: {}", f.location(), f.text);
        match f.severity {
            Severity::Fatal if f.open_relay && allow_open_relay => {
                warn(&format!(
                    "{text} (running anyway: gatepost_allow_open_relay = yes)"
                ));
            }
            Severity::Fatal => anyhow::bail!(
                "{text}; see gatepost check{}",
                if f.open_relay {
                    " (gatepost_allow_open_relay = yes overrides)"
                } else {
                    ""
                }
            ),
            Severity::Warning => warn(&text),
            Severity::Info => {}
        }
    }
    Ok(())
}

fn to_json(findings: &[Finding]) -> String {
    let items: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "{{\"severity\":{},\"file\":{},\"line\":{},\"text\":{},\"open_relay\":{}}}",
                quote(f.severity.word()),
                quote(&f.file),
                f.line.map_or("null".to_string(), |l| l.to_string()),
                quote(&f.text),
                f.open_relay
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// A JSON string literal.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
