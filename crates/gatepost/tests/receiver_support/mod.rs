//! Checking a message as the server that finally receives it would: SPF
//! for the connecting client, then DKIM, ARC and DMARC over the message,
//! against the test's own DNS server.

use std::time::Duration;

use gatepost_testkit::dns_server::DnsServer;

/// The receiving side of a check: who connected, with what, to whom.
pub struct Receiver {
    pub client: &'static str,
    pub helo: &'static str,
    pub sender: &'static str,
    pub myhostname: &'static str,
}

/// The receiver's verdicts on `mail`.
pub fn verify_as_receiver(
    dns: &DnsServer,
    at: &Receiver,
    mail: &str,
) -> gatepost_mailauth::InboundResult<'static> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = gatepost_dns::Resolver::new(gatepost_dns::ResolverSettings {
            nameservers: vec![dns.addr],
            timeout: Duration::from_millis(500),
            attempts: 1,
            use_hosts_file: false,
        });
        let client = at.client.parse().unwrap();
        let check = gatepost_mailauth::SpfCheck {
            client,
            helo: at.helo,
            sender: at.sender,
            myhostname: at.myhostname,
        };
        let spf = gatepost_mailauth::check_spf(&r, &check).await;
        gatepost_mailauth::verify_inbound(&r, client, &spf, mail.as_bytes(), at.myhostname).await
    })
}
