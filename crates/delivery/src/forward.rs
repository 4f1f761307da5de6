//! Forwarding alias targets that are not local (Postfix local `forward.c`):
//! the message is resubmitted as a new queue file with the same envelope
//! sender, DSN `RET`/`ENVID`, the original recipient and the `NOTIFY` list
//! without `SUCCESS`, and a content that starts with
//! `Received: by MYHOSTNAME (MAIL_NAME)` / `id NEWID; DATE` and (with
//! `prepend_delivered_header` containing `forward`) `Delivered-To:` for
//! loop detection. The result text is `forwarded as NEWID`.

use std::sync::Arc;
use std::time::SystemTime;

use gatepost_cleanup::local_received_header;
use gatepost_qmgr::QueuedMessage;
use gatepost_queue::{Envelope, EnvelopeRecipient, Queue};

use crate::settings::Settings;
use crate::verdict::Verdict;

/// Drop `SUCCESS` from a NOTIFY list (alias expansion already reported it);
/// nothing left means `NEVER`.
pub(crate) fn notify_without_success(notify: Option<&str>) -> Option<String> {
    let notify = notify?;
    let kept: Vec<&str> = notify
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty() && !k.eq_ignore_ascii_case("SUCCESS"))
        .collect();
    Some(if kept.is_empty() {
        "NEVER".to_string()
    } else {
        kept.join(",")
    })
}

/// The prepended lines of a forwarded copy.
pub(crate) fn forward_header(settings: &Settings, new_id: &str, delivered: &str) -> String {
    let mut header = local_received_header(
        &settings.myhostname,
        &settings.mail_name,
        None,
        new_id,
        SystemTime::now(),
    );
    if settings.delivered_header.forward {
        header.push_str(&format!("Delivered-To: {}\n", delivered.to_lowercase()));
    }
    header
}

/// Resubmit `content` to `addresses` on behalf of recipient `rcpt` of `msg`.
pub(crate) async fn forward(
    queue: &Arc<Queue>,
    settings: &Arc<Settings>,
    msg: &QueuedMessage,
    rcpt: &EnvelopeRecipient,
    content: Arc<Vec<u8>>,
    delivered: &str,
    addresses: &[String],
) -> Verdict {
    let queue_for_write = Arc::clone(queue);
    let settings_for_write = Arc::clone(settings);
    let delivered_owned = delivered.to_string();
    let written = tokio::task::spawn_blocking(move || {
        let mut writer = queue_for_write.new_message().map_err(|e| e.to_string())?;
        let header = forward_header(
            &settings_for_write,
            &writer.id().to_string(),
            &delivered_owned,
        );
        let result = writer
            .write_content(header.as_bytes())
            .and_then(|()| writer.write_content(&content));
        match result {
            Ok(()) => Ok(writer),
            Err(err) => {
                writer.abort();
                Err(err.to_string())
            }
        }
    })
    .await;
    let writer = match written {
        Ok(Ok(writer)) => writer,
        Ok(Err(err)) => {
            return Verdict::deferred("4.3.0", format!("cannot forward message: {err}"))
        }
        Err(err) => return Verdict::deferred("4.3.0", format!("cannot forward message: {err}")),
    };
    let envelope = Envelope {
        sender: msg.envelope.sender.clone(),
        recipients: addresses
            .iter()
            .map(|address| EnvelopeRecipient {
                address: address.clone(),
                original: rcpt.original.clone(),
                notify: notify_without_success(rcpt.notify.as_deref()),
                orcpt: rcpt.orcpt.clone(),
            })
            .collect(),
        arrival: SystemTime::now(),
        client: "local".to_string(),
        ret: msg.envelope.ret.clone(),
        envid: msg.envelope.envid.clone(),
        filter: None,
    };
    match writer.commit(&envelope).await {
        Ok(id) => Verdict::sent("2.0.0", format!("forwarded as {id}")),
        Err(err) => Verdict::deferred("4.3.0", format!("cannot forward message: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn date_format() {
        let t = chrono::Local
            .with_ymd_and_hms(2026, 12, 5, 20, 34, 8)
            .unwrap();
        let header = local_received_header("mx.spec.test", "Postfix", None, "ID", t);
        assert!(
            header.starts_with(
                "Received: by mx.spec.test (Postfix)\n\tid ID; Sat,  5 Dec 2026 20:34:08 "
            ),
            "{header}"
        );
    }

    #[test]
    fn notify_lists() {
        for (given, want) in [
            (None, None),
            (Some("SUCCESS"), Some("NEVER")),
            (Some("SUCCESS,FAILURE"), Some("FAILURE")),
            (Some("DELAY, FAILURE"), Some("DELAY,FAILURE")),
            (Some("NEVER"), Some("NEVER")),
        ] {
            assert_eq!(notify_without_success(given).as_deref(), want, "{given:?}");
        }
    }
}
