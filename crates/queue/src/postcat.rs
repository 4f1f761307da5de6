//! `gatepost queue show ID`: a queue file in Postfix's `postcat -q` layout:
//! `*** ENVELOPE RECORDS queue/ID ***` with one `name: value` line per
//! envelope record (`message_size`, `message_arrival_time`, `sender`,
//! `original_recipient`, `recipient` or `done_recipient` once delivered or
//! bounced), then `*** MESSAGE CONTENTS queue/ID ***` with the content, and
//! `*** HEADER EXTRACTED queue/ID ***`, `*** MESSAGE FILE END queue/ID ***`.
//! Maildrop files show the submission as pickup will read it.

use chrono::{DateTime, Local};

use crate::error::QueueError;
use crate::layout::QueueName;
use crate::queue::Queue;
use crate::queue_file::{read_content, read_queue_file, RcptState};
use crate::queue_id::QueueId;

/// `asctime()`-style time, as postcat prints it.
fn asctime(t: std::time::SystemTime) -> String {
    DateTime::<Local>::from(t)
        .format("%a %b %e %H:%M:%S %Y")
        .to_string()
}

impl Queue {
    /// Render message `id` like `postcat -q ID`.
    pub fn show(&self, id: &QueueId) -> Result<String, QueueError> {
        let q = self
            .find(id)
            .ok_or_else(|| QueueError::NoSuchId(id.to_string()))?;
        let tag = format!("{}/{}", q.dir_name(), id);
        let mut out = format!("*** ENVELOPE RECORDS {tag} ***\n");
        let content = if q == QueueName::Maildrop {
            let sub = self.read_maildrop(id)?;
            out.push_str(&format!("message_size: {}\n", sub.content.len()));
            out.push_str(&format!("message_arrival_time: {}\n", asctime(sub.time)));
            out.push_str(&format!("named_attribute: uid={}\n", sub.uid));
            if let Some(name) = &sub.full_name {
                out.push_str(&format!("sender_fullname: {name}\n"));
            }
            out.push_str(&format!("sender: {}\n", sub.sender));
            if sub.extract_recipients {
                out.push_str("named_attribute: extract_recipients=yes\n");
            }
            for r in &sub.recipients {
                out.push_str(&format!("recipient: {r}\n"));
            }
            sub.content
        } else {
            let path = self.path_of(q, id);
            let qf = read_queue_file(&path, id.as_str())?;
            let env = &qf.envelope;
            out.push_str(&format!("message_size: {}\n", qf.content_len));
            out.push_str(&format!("message_arrival_time: {}\n", asctime(env.arrival)));
            out.push_str(&format!("named_attribute: client={}\n", env.client));
            if let Some(ret) = &env.ret {
                out.push_str(&format!("named_attribute: dsn_ret={ret}\n"));
            }
            if let Some(envid) = &env.envid {
                out.push_str(&format!("named_attribute: dsn_envid={envid}\n"));
            }
            out.push_str(&format!("sender: {}\n", env.sender));
            for (r, st) in env.recipients.iter().zip(&qf.states) {
                if let Some(orcpt) = &r.orcpt {
                    out.push_str(&format!("dsn_orig_rcpt: {orcpt}\n"));
                }
                if let Some(n) = &r.notify {
                    out.push_str(&format!("dsn_notify: {n}\n"));
                }
                out.push_str(&format!("original_recipient: {}\n", r.original));
                let name = if st.is_pending() {
                    "recipient"
                } else {
                    "done_recipient"
                };
                out.push_str(&format!("{name}: {}\n", r.address));
                if let RcptState::Pending(Some(why)) = st {
                    out.push_str(&format!("defer_reason: {} ({})\n", why.dsn, why.text));
                }
            }
            read_content(&path, id.as_str())?
        };
        out.push_str(&format!("*** MESSAGE CONTENTS {tag} ***\n"));
        out.push_str(&String::from_utf8_lossy(&content));
        if !content.is_empty() && !content.ends_with(b"\n") {
            out.push('\n');
        }
        out.push_str(&format!("*** HEADER EXTRACTED {tag} ***\n"));
        out.push_str(&format!("*** MESSAGE FILE END {tag} ***\n"));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Envelope, EnvelopeRecipient};
    use crate::maildrop::Submission;
    use std::time::SystemTime;

    #[tokio::test]
    async fn shows_envelope_and_content() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        let mut w = queue.new_message().unwrap();
        w.write_content(b"Subject: hi\n\nbody\n").unwrap();
        let mut r = EnvelopeRecipient::new("bob@spec.test");
        r.original = "bob".into();
        let env = Envelope {
            sender: "alice@spec.test".into(),
            recipients: vec![r],
            arrival: SystemTime::now(),
            client: "local".into(),
            ret: None,
            envid: None,
            filter: None,
        };
        let id = w.commit(&env).await.unwrap();
        let text = queue.show(&id).unwrap();
        let tag = format!("incoming/{id}");
        assert!(text.starts_with(&format!(
            "*** ENVELOPE RECORDS {tag} ***\nmessage_size: 18\nmessage_arrival_time: "
        )));
        assert!(text.ends_with(&format!(
            "named_attribute: client=local\nsender: alice@spec.test\noriginal_recipient: bob\nrecipient: bob@spec.test\n\
             *** MESSAGE CONTENTS {tag} ***\nSubject: hi\n\nbody\n\
             *** HEADER EXTRACTED {tag} ***\n*** MESSAGE FILE END {tag} ***\n"
        )));
        assert!(matches!(
            queue.show(&QueueId("ABCDEF0".into())),
            Err(QueueError::NoSuchId(_))
        ));

        let md = queue
            .post_to_maildrop(&Submission {
                uid: 7,
                time: SystemTime::now(),
                sender: "alice".into(),
                full_name: None,
                extract_recipients: true,
                recipients: vec![],
                content: b"To: bob\n\nx\n".to_vec(),
            })
            .unwrap();
        let text = queue.show(&md).unwrap();
        assert!(text.contains(
            "named_attribute: uid=7\nsender: alice\nnamed_attribute: extract_recipients=yes\n"
        ));
        assert!(text.contains(&format!(
            "*** MESSAGE CONTENTS maildrop/{md} ***\nTo: bob\n\nx\n"
        )));
    }
}
