//! `gatepost log-report [FILE...]`: read Postfix-format logs (gatepost's or
//! Postfix's own; plain or gzip; stdin when no file is named) and print a
//! pflogsumm-like summary with an abuse view, as text, JSON, or one
//! self-contained HTML page.

mod event;
mod html;
mod input;
mod line;
mod svg;
mod tally;
mod text;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, NaiveDateTime};

pub use tally::{Count, Report};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Log files in any order (gzip is recognized); stdin when none.
    pub files: Vec<PathBuf>,
    /// Only lines at or after this time (`YYYY-MM-DD[ HH:MM[:SS]]`).
    #[arg(long, value_parser = parse_when)]
    pub since: Option<NaiveDateTime>,
    /// Only lines before this time (`YYYY-MM-DD[ HH:MM[:SS]]`).
    #[arg(long, value_parser = parse_when)]
    pub until: Option<NaiveDateTime>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the report as one self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let report = report(args)?;
    if let Some(path) = &args.html {
        std::fs::write(path, html::page(&report))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text::render(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// Read the logs the arguments name and count them.
pub fn report(args: &Args) -> Result<Report> {
    let (lines, unparsed) = input::read_all(&args.files)?;
    let mut tally = tally::Tally::default();
    for _ in 0..unparsed {
        tally.add_unparsed();
    }
    for line in &lines {
        if args.since.is_some_and(|s| line.time < s) || args.until.is_some_and(|u| line.time >= u) {
            continue;
        }
        tally.add(line);
    }
    Ok(tally.finish())
}

fn parse_when(s: &str) -> Result<NaiveDateTime> {
    let s = s.trim();
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t);
        }
    }
    bail!("expected YYYY-MM-DD[ HH:MM[:SS]], got {s:?}")
}
