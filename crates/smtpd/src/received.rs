//! The `Received:` header smtpd puts first in every message, in Postfix's
//! exact layout (docs/smtp-session.md#the-received-header); the date is
//! cleanup's `mail_date`.

use chrono::{DateTime, Local};
use gatepost_cleanup::mail_date;

pub struct ReceivedInfo<'a> {
    pub helo: Option<&'a str>,
    pub client_name: &'a str,
    pub client_addr: std::net::IpAddr,
    pub myhostname: &'a str,
    pub mail_name: &'a str,
    pub protocol: &'a str,
    pub queue_id: &'a str,
    /// The recipient, when there is exactly one (external form).
    pub single_recipient: Option<&'a str>,
    pub date: DateTime<Local>,
}

/// The header lines, each ended by `\n` (continuations begin with a TAB).
pub fn received_header(info: &ReceivedInfo<'_>) -> String {
    let addr = match info.client_addr {
        std::net::IpAddr::V4(a) => a.to_string(),
        std::net::IpAddr::V6(a) => format!("IPv6:{a}"),
    };
    let helo = info.helo.unwrap_or(info.client_name);
    let date = mail_date(info.date);
    let mut out = format!(
        "Received: from {} ({} [{}])\n\tby {} ({}) with {} id {}",
        helo, info.client_name, addr, info.myhostname, info.mail_name, info.protocol, info.queue_id
    );
    match info.single_recipient {
        Some(rcpt) => out.push_str(&format!("\n\tfor <{rcpt}>; {date}\n")),
        None => out.push_str(&format!(";\n\t{date}\n")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn layout_matches_postfix() {
        let date = Local.with_ymd_and_hms(2026, 11, 27, 20, 34, 8).unwrap();
        let mut info = ReceivedInfo {
            helo: Some("client.example"),
            client_name: "localhost",
            client_addr: "127.0.0.1".parse().unwrap(),
            myhostname: "mx.spec.test",
            mail_name: "Postfix",
            protocol: "ESMTP",
            queue_id: "5562DBE20B",
            single_recipient: Some("root@spec.test"),
            date,
        };
        let h = received_header(&info);
        assert!(h.starts_with(
            "Received: from client.example (localhost [127.0.0.1])\n\tby mx.spec.test (Postfix) with ESMTP id 5562DBE20B\n\tfor <root@spec.test>; "
        ));
        info.single_recipient = None;
        let h = received_header(&info);
        assert!(h.contains("id 5562DBE20B;\n\t"));
    }
}
