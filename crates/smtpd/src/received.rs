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
    /// `TLSv1.3 with cipher ... (256/256 bits)` (smtpd_tls_received_header).
    pub tls: Option<String>,
    /// The SASL login (smtpd_sasl_authenticated_header).
    pub authenticated_sender: Option<&'a str>,
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
    let mut out = format!("Received: from {} ({} [{}])", helo, info.client_name, addr);
    if let Some(tls) = &info.tls {
        out.push_str(&format!(
            "\n\t(using {tls})\n\t(No client certificate requested)"
        ));
    }
    if let Some(user) = info.authenticated_sender {
        out.push_str(&format!("\n\t(Authenticated sender: {user})"));
    }
    out.push_str(&format!(
        "\n\tby {} ({}) with {} id {}",
        info.myhostname, info.mail_name, info.protocol, info.queue_id
    ));
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
            tls: None,
            authenticated_sender: None,
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

    #[test]
    fn tls_and_login_lines() {
        let date = Local.with_ymd_and_hms(2026, 11, 27, 20, 34, 8).unwrap();
        let info = ReceivedInfo {
            helo: Some("client.example"),
            client_name: "localhost",
            client_addr: "127.0.0.1".parse().unwrap(),
            myhostname: "mx.spec.test",
            mail_name: "Postfix",
            protocol: "ESMTPSA",
            queue_id: "5562DBE20B",
            single_recipient: None,
            tls: Some("TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)".into()),
            authenticated_sender: Some("alice"),
            date,
        };
        assert!(received_header(&info).starts_with(
            "Received: from client.example (localhost [127.0.0.1])\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\n\t(No client certificate requested)\n\t(Authenticated sender: alice)\n\tby mx.spec.test (Postfix) with ESMTPSA id 5562DBE20B;"
        ));
    }
}
