//! Read log files (plain or gzip, told apart by the gzip magic bytes) or
//! stdin, parse every line, and return them in time order so rotated
//! files may be given in any order.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{Local, NaiveDate};
use flate2::read::MultiGzDecoder;

use super::line::{month_day, parse, year_for, LogLine};

/// Every line of every source, parsed where possible, in time order;
/// plus how many lines could not be parsed.
pub fn read_all(files: &[PathBuf]) -> Result<(Vec<LogLine>, u64)> {
    let today = Local::now().date_naive();
    let mut lines = Vec::new();
    let mut unparsed = 0;
    if files.is_empty() {
        read_one(
            Box::new(std::io::stdin().lock()),
            today,
            &mut lines,
            &mut unparsed,
        )
        .context("reading stdin")?;
    }
    for path in files {
        let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
        let mut reader = BufReader::new(file);
        let gzip = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
        let source: Box<dyn Read> = if gzip {
            Box::new(MultiGzDecoder::new(reader))
        } else {
            Box::new(reader)
        };
        read_one(source, today, &mut lines, &mut unparsed)
            .with_context(|| format!("reading {}", path.display()))?;
    }
    lines.sort_by_key(|l| l.time);
    Ok((lines, unparsed))
}

fn read_one(
    source: Box<dyn Read + '_>,
    today: NaiveDate,
    out: &mut Vec<LogLine>,
    unparsed: &mut u64,
) -> Result<()> {
    let mut reader = BufReader::new(source);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&buf);
        if text.trim().is_empty() {
            continue;
        }
        let year = month_day(&text).map_or(
            today.format("%Y").to_string().parse().unwrap_or(1970),
            |md| year_for(md, today),
        );
        match parse(&text, year) {
            Some(line) => out.push(line),
            None => *unparsed += 1,
        }
    }
}
