//! Rendering of [`LogEvent`]s into Postfix log text (smtpd_check.c
//! `log_whatsup()`, postfix-compat §7.10):
//! `ID: ACTION: STAGE from name[addr]: TEXT; from=<S> to=<R> proto=P helo=<H>`,
//! each `key=` part only when known; addresses in external (quoted) form.
//! Plain `warning:` and informational events are rendered as is.

use crate::{Facts, LogEvent, Stage};

/// The log line (without the syslog prefix) for one event of a check at
/// `stage`. For DATA / END-OF-MESSAGE the server passes `facts.recipient`
/// only when there is exactly one recipient, as Postfix does.
pub fn format_event(event: &LogEvent, stage: Stage, facts: &Facts) -> String {
    match event.action.as_str() {
        LogEvent::WARNING => format!("warning: {}", event.text),
        LogEvent::NOTE => event.text.clone(),
        action => {
            let mut line = format!(
                "{}: {}: {} from {}[{}]: {};",
                facts.queue_id.as_deref().unwrap_or("NOQUEUE"),
                action,
                stage.log_name(),
                facts.client_name,
                facts.client_addr,
                event.text
            );
            if let Some(s) = &facts.sender {
                line.push_str(&format!(" from=<{}>", external(s)));
            }
            if let Some(r) = &facts.recipient {
                line.push_str(&format!(" to=<{}>", external(r)));
            }
            if !facts.protocol.is_empty() {
                line.push_str(&format!(" proto={}", facts.protocol));
            }
            if let Some(h) = &facts.helo {
                line.push_str(&format!(" helo=<{h}>"));
            }
            line
        }
    }
}

fn external(addr: &str) -> String {
    if addr.is_empty() {
        String::new()
    } else {
        gatepost_rewrite::quote_address(addr)
    }
}
