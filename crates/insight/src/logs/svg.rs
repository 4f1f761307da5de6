//! Inline SVG charts for the HTML report: accepted vs rejected per hour
//! (paired columns) and ranked horizontal bars. Plain SVG, no scripts.

use std::fmt::Write;

use super::html::escape;
use super::tally::Count;

pub const ACCEPTED: &str = "#2e7d32";
pub const REJECTED: &str = "#c62828";

/// Paired columns per hour: (label, accepted, rejected).
pub fn timeline(rows: &[(String, u64, u64)]) -> String {
    if rows.is_empty() {
        return "<p>No traffic in this period.</p>".to_string();
    }
    let (left, top, height) = (48.0, 16.0, 180.0);
    let slot = (1000.0 / rows.len() as f64).clamp(8.0, 34.0);
    let bar = slot * 0.38;
    // Label at most about 40 hours so the labels never overlap.
    let label_every = rows.len().div_ceil(40);
    let width = left + slot * rows.len() as f64 + 16.0;
    let max = rows.iter().map(|r| r.1.max(r.2)).max().unwrap_or(0).max(1) as f64;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {h}" width="100%" style="max-width:{width}px" role="img" aria-label="accepted and rejected per hour">"#,
        h = top + height + 60.0
    );
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = top + height - height * f64::from(i) / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" font-size="10" text-anchor="end">{}</text>"##,
            width - 8.0,
            left - 4.0,
            y + 3.0,
            v.round()
        );
    }
    for (i, (label, accepted, rejected)) in rows.iter().enumerate() {
        let x = left + slot * i as f64 + slot * 0.1;
        for (j, (value, color)) in [(*accepted, ACCEPTED), (*rejected, REJECTED)]
            .iter()
            .enumerate()
        {
            let h = height * *value as f64 / max;
            let _ = write!(
                s,
                r#"<rect x="{}" y="{}" width="{bar}" height="{h}" fill="{color}"><title>{} {}: {value}</title></rect>"#,
                x + (bar + 1.0) * j as f64,
                top + height - h,
                escape(label),
                if j == 0 { "accepted" } else { "rejected" }
            );
        }
        if i % label_every != 0 {
            continue;
        }
        let short = label.rsplit(' ').next().unwrap_or(label);
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="10" transform="rotate(-60 {} {})" text-anchor="end">{}</text>"#,
            x + bar,
            top + height + 12.0,
            x + bar,
            top + height + 12.0,
            escape(short)
        );
    }
    s.push_str("</svg>");
    s
}

/// One horizontal bar per row, longest first as given.
pub fn ranking(rows: &[Count], color: &str) -> String {
    if rows.is_empty() {
        return "<p>None.</p>".to_string();
    }
    let (label_w, bar_w, row_h) = (260.0, 320.0, 20.0);
    let max = rows.iter().map(|r| r.count).max().unwrap_or(0).max(1) as f64;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img">"#,
        label_w + bar_w + 60.0,
        row_h * rows.len() as f64 + 4.0
    );
    for (i, row) in rows.iter().enumerate() {
        let y = row_h * i as f64 + 2.0;
        let w = (bar_w * row.count as f64 / max).max(1.0);
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text><rect x="{label_w}" y="{y}" width="{w}" height="{}" fill="{color}"/><text x="{}" y="{}" font-size="12">{}</text>"#,
            label_w - 6.0,
            y + 13.0,
            escape(&clip(&row.key, 40)),
            row_h - 5.0,
            label_w + w + 4.0,
            y + 13.0,
            row.count
        );
    }
    s.push_str("</svg>");
    s
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}
