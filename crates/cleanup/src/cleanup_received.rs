//! The trace header of mail made on this host rather than received over
//! SMTP: `Received: by HOST (MAIL_NAME, from userid N)` for local
//! submissions, `Received: by HOST (MAIL_NAME)` for bounces and forwarded
//! copies, then `\tid QUEUEID; DATE`. Parameters honoured: `myhostname`,
//! `mail_name` (passed in by the caller).

use chrono::{DateTime, Local};

use crate::mail_date::mail_date;

/// The header lines, ended by `\n`; `uid` for a local submission.
pub fn local_received_header(
    myhostname: &str,
    mail_name: &str,
    uid: Option<u32>,
    queue_id: &str,
    when: impl Into<DateTime<Local>>,
) -> String {
    let from = uid
        .map(|u| format!(", from userid {u}"))
        .unwrap_or_default();
    format!(
        "Received: by {myhostname} ({mail_name}{from})\n\tid {queue_id}; {}\n",
        mail_date(when)
    )
}
