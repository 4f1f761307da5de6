//! Client name resolution at connect, as Postfix's smtpd does it: the
//! reverse (PTR) name, then a forward lookup that must lead back to the same
//! address; otherwise the verified name is `unknown`. Uses the system
//! resolver until the DNS module brings its own; each step is bounded by a
//! timeout so a dead name server cannot stall the greeting.

use std::net::IpAddr;
use std::time::Duration;

const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// (verified name, reverse name); `unknown` where there is none.
pub async fn lookup_client_name(addr: IpAddr) -> (String, String) {
    let reverse = match tokio::time::timeout(
        LOOKUP_TIMEOUT,
        tokio::task::spawn_blocking(move || dns_lookup::lookup_addr(&addr)),
    )
    .await
    {
        Ok(Ok(Ok(name))) if !name.is_empty() && name.parse::<IpAddr>().is_err() => name,
        _ => return ("unknown".into(), "unknown".into()),
    };
    let forward_name = reverse.clone();
    let confirmed = match tokio::time::timeout(
        LOOKUP_TIMEOUT,
        tokio::task::spawn_blocking(move || dns_lookup::lookup_host(&forward_name)),
    )
    .await
    {
        Ok(Ok(Ok(addrs))) => addrs.contains(&addr),
        _ => false,
    };
    if confirmed {
        (reverse.clone(), reverse)
    } else {
        ("unknown".into(), reverse)
    }
}
