//! The report as plain text, laid out like pflogsumm's: grand totals,
//! per-hour traffic, per-domain tables, rejects by reason, then the abuse
//! view.

use std::fmt::Write;

use super::tally::{Count, Report};

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let t = &r.totals;
    let _ = writeln!(o, "Postfix log summary");
    let _ = writeln!(
        o,
        "  {} .. {}  ({} lines, {} not understood)\n",
        r.first.as_deref().unwrap_or("-"),
        r.last.as_deref().unwrap_or("-"),
        r.lines,
        r.unparsed
    );
    heading(&mut o, "Grand Totals");
    let _ = writeln!(o, "{:>8}  received", t.received);
    let _ = writeln!(o, "{:>8}  delivered", t.delivered);
    let _ = writeln!(
        o,
        "{:>8}  deferred  ({} deferrals)",
        t.deferred, t.deferrals
    );
    let _ = writeln!(o, "{:>8}  bounced", t.bounced);
    let _ = writeln!(o, "{:>8}  rejected", t.rejected);
    let _ = writeln!(o, "{:>8}  bytes received", t.bytes_received);
    let _ = writeln!(o, "{:>8}  connections\n", t.connections);

    heading(&mut o, "Per-Hour Traffic");
    let _ = writeln!(
        o,
        "  {:<16} {:>8} {:>9} {:>8} {:>7} {:>8}",
        "hour", "received", "delivered", "deferred", "bounced", "rejected"
    );
    for h in r.per_hour.iter().filter(|h| h.has_traffic()) {
        let _ = writeln!(
            o,
            "  {:<16} {:>8} {:>9} {:>8} {:>7} {:>8}",
            h.hour, h.received, h.delivered, h.deferred, h.bounced, h.rejected
        );
    }
    o.push('\n');
    table(
        &mut o,
        "Messages received by sender domain",
        &r.received_by_sender_domain,
    );
    table(
        &mut o,
        "Recipients delivered by domain",
        &r.delivered_by_domain,
    );
    table(
        &mut o,
        "Deferrals by recipient domain",
        &r.deferred_by_domain,
    );
    table(&mut o, "Bounces by recipient domain", &r.bounced_by_domain);
    table(&mut o, "Rejects by reason", &r.rejects_by_reason);

    let a = &r.abuse;
    heading(&mut o, "ABUSE");
    let _ = writeln!(
        o,
        "  relay attempts: {} refused (5xx), {} deferred (4xx)\n",
        a.relay_denied, a.relay_deferred
    );
    table(&mut o, "Relay attempts by client", &a.relay_by_client);
    table(
        &mut o,
        "Relay attempts by target domain",
        &a.relay_by_domain,
    );
    heading(&mut o, "Top rejected clients");
    if a.rejected_clients.is_empty() {
        let _ = writeln!(o, "  none");
    }
    for c in &a.rejected_clients {
        let _ = writeln!(o, "{:>8}  {}", c.total, c.client);
        for why in &c.reasons {
            let _ = writeln!(o, "{:>14}  {}", why.count, why.key);
        }
    }
    o.push('\n');
    let _ = writeln!(o, "  SASL authentication failures: {}\n", a.sasl_failures);
    table(&mut o, "SASL failures by client", &a.sasl_by_client);
    table(&mut o, "SASL failures by user", &a.sasl_by_user);
    heading(&mut o, "Connection bursts");
    let _ = writeln!(
        o,
        "  median {} connections in a busy minute; bursts are minutes above {}x that",
        a.median_connections_per_minute,
        super::tally::BURST_FACTOR
    );
    for b in &a.bursts {
        let clients: Vec<String> = b
            .top_clients
            .iter()
            .map(|c| format!("{} ({})", c.key, c.count))
            .collect();
        let _ = writeln!(
            o,
            "{:>8}  {}  {}",
            b.connections,
            b.minute,
            clients.join(", ")
        );
    }
    o.push('\n');
    heading(&mut o, "Warnings by domain");
    if a.warnings.is_empty() {
        let _ = writeln!(o, "  none");
    }
    for w in &a.warnings {
        let _ = writeln!(o, "{:>8}  {}", w.total, w.text);
        for d in &w.by_domain {
            let _ = writeln!(o, "{:>14}  {}", d.count, d.key);
        }
    }
    o
}

fn heading(o: &mut String, title: &str) {
    let _ = writeln!(o, "{title}\n{}", "-".repeat(title.len()));
}

fn table(o: &mut String, title: &str, rows: &[Count]) {
    heading(o, title);
    if rows.is_empty() {
        let _ = writeln!(o, "  none");
    }
    for c in rows {
        let _ = writeln!(o, "{:>8}  {}", c.count, c.key);
    }
    o.push('\n');
}
