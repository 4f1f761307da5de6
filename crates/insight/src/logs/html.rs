//! The report as one self-contained HTML page: inline CSS and inline SVG
//! charts (accepted vs rejected per hour, top rejected clients, relay
//! attempts by domain) and tables; no scripts, nothing fetched.

use std::fmt::Write;

use super::svg;
use super::tally::{Count, Report};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}\
h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}\
.cards{display:flex;flex-wrap:wrap;gap:.8em}.card{border:1px solid #ddd;border-radius:6px;padding:.5em 1em;min-width:7em}\
.card b{display:block;font-size:1.5em}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left}td.n{text-align:right}\
.legend span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 1em}.abuse h2{color:#8e0000}";

pub fn page(r: &Report) -> String {
    let t = &r.totals;
    let a = &r.abuse;
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Mail log report</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        o,
        "<h1>Mail log report</h1><p>{} to {} &middot; {} lines ({} not understood)</p><div class=\"cards\">",
        escape(r.first.as_deref().unwrap_or("-")),
        escape(r.last.as_deref().unwrap_or("-")),
        r.lines,
        r.unparsed
    );
    for (label, value) in [
        ("received", t.received),
        ("delivered", t.delivered),
        ("deferred", t.deferred),
        ("bounced", t.bounced),
        ("rejected", t.rejected),
        ("relay attempts", a.relay_denied + a.relay_deferred),
        ("SASL failures", a.sasl_failures),
        ("connections", t.connections),
    ] {
        let _ = write!(o, "<div class=\"card\"><b>{value}</b>{label}</div>");
    }
    o.push_str("</div><h2>Accepted vs rejected per hour</h2>");
    let _ = write!(
        o,
        "<p class=\"legend\"><span style=\"background:{}\"></span>accepted (received)<span style=\"background:{}\"></span>rejected</p>",
        svg::ACCEPTED,
        svg::REJECTED
    );
    let hours: Vec<(String, u64, u64)> = r
        .per_hour
        .iter()
        .map(|h| (h.hour.clone(), h.received, h.rejected))
        .collect();
    o.push_str(&svg::timeline(&hours));
    o.push_str("<table><tr><th>hour</th><th>received</th><th>delivered</th><th>deferred</th><th>bounced</th><th>rejected</th></tr>");
    for h in r.per_hour.iter().filter(|h| h.has_traffic()) {
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            escape(&h.hour), h.received, h.delivered, h.deferred, h.bounced, h.rejected
        );
    }
    o.push_str("</table>");
    counts(&mut o, "Rejects by reason", &r.rejects_by_reason);
    counts(
        &mut o,
        "Recipients delivered by domain",
        &r.delivered_by_domain,
    );
    counts(
        &mut o,
        "Deferrals by recipient domain",
        &r.deferred_by_domain,
    );
    counts(&mut o, "Bounces by recipient domain", &r.bounced_by_domain);

    o.push_str("<div class=\"abuse\"><h2>Top rejected clients</h2>");
    let clients: Vec<Count> = a
        .rejected_clients
        .iter()
        .map(|c| Count {
            key: c.client.clone(),
            count: c.total,
        })
        .collect();
    o.push_str(&svg::ranking(&clients, svg::REJECTED));
    o.push_str("<table><tr><th>client</th><th>rejects</th><th>why</th></tr>");
    for c in &a.rejected_clients {
        let why: Vec<String> = c
            .reasons
            .iter()
            .map(|w| format!("{} &times; {}", w.count, escape(&w.key)))
            .collect();
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=n>{}</td><td>{}</td></tr>",
            escape(&c.client),
            c.total,
            why.join("<br>")
        );
    }
    o.push_str("</table>");
    let _ = write!(
        o,
        "<h2>Relay attempts by target domain</h2><p>{} refused (5xx), {} deferred (4xx)</p>",
        a.relay_denied, a.relay_deferred
    );
    o.push_str(&svg::ranking(&a.relay_by_domain, "#ef6c00"));
    counts(&mut o, "Relay attempts by client", &a.relay_by_client);
    counts(&mut o, "SASL failures by client", &a.sasl_by_client);
    counts(&mut o, "SASL failures by user", &a.sasl_by_user);
    let _ = write!(
        o,
        "<h2>Connection bursts</h2><p>Median {} connections in a minute with traffic; a burst is a minute above {}&times; that.</p><table><tr><th>minute</th><th>connections</th><th>top clients</th></tr>",
        a.median_connections_per_minute,
        super::tally::BURST_FACTOR
    );
    for b in &a.bursts {
        let who: Vec<String> = b
            .top_clients
            .iter()
            .map(|c| format!("{} ({})", escape(&c.key), c.count))
            .collect();
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=n>{}</td><td>{}</td></tr>",
            escape(&b.minute),
            b.connections,
            who.join(", ")
        );
    }
    o.push_str("</table><h2>Warnings by domain</h2><table><tr><th>warning</th><th>domain</th><th>count</th></tr>");
    for w in &a.warnings {
        for d in &w.by_domain {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td class=n>{}</td></tr>",
                escape(w.text),
                escape(&d.key),
                d.count
            );
        }
    }
    o.push_str("</table></div></body></html>\n");
    o
}

fn counts(o: &mut String, title: &str, rows: &[Count]) {
    let _ = write!(o, "<h2>{}</h2><table>", escape(title));
    if rows.is_empty() {
        o.push_str("<tr><td>none</td></tr>");
    }
    for c in rows {
        let _ = write!(
            o,
            "<tr><td class=n>{}</td><td>{}</td></tr>",
            c.count,
            escape(&c.key)
        );
    }
    o.push_str("</table>");
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
