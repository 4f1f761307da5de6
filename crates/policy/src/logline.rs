//! Rendering of [`LogEvent`]s into Postfix log text (smtpd_check.c
//! `log_whatsup()`, docs/logging.md#reject-lines):
//! `ID: ACTION: STAGE from name[addr]: TEXT; from=<S> to=<R> proto=P helo=<H>`,
//! each `key=` part only when known; addresses in external (quoted) form.
//! Plain `warning:` and informational events are rendered as is.

use crate::{Facts, LogEvent, Stage};

/// The log line (without the syslog prefix) for one event of a check at
/// `stage`. For DATA / END-OF-MESSAGE the server passes `facts.recipient`
/// only when there is exactly one recipient, as Postfix does. The layout
/// itself is [`gatepost_log::ActionLine`]'s, the one renderer of these lines.
pub fn format_event(event: &LogEvent, stage: Stage, facts: &Facts) -> String {
    match event.action.as_str() {
        LogEvent::WARNING => format!("warning: {}", event.text),
        LogEvent::NOTE => event.text.clone(),
        action => {
            let client = format!("{}[{}]", facts.client_name, facts.client_addr);
            let from = facts.sender.as_deref().map(external);
            let to = facts.recipient.as_deref().map(external);
            gatepost_log::ActionLine {
                queue_id: facts.queue_id.as_deref(),
                action,
                stage: stage.log_name(),
                client: &client,
                text: &event.text,
                from: from.as_deref(),
                to: to.as_deref(),
                proto: (!facts.protocol.is_empty()).then_some(facts.protocol.as_str()),
                helo: facts.helo.as_deref(),
            }
            .render()
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
