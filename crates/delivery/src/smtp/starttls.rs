//! The SMTP client's STARTTLS step at the next hop's TLS level
//! (`tls_policy.rs`; Postfix `smtp_proto.c`):
//!
//! | level | STARTTLS offered | not offered | handshake fails |
//! |---|---|---|---|
//! | `none` | ignored | plaintext | - |
//! | `may` | used, certificate not required to verify | plaintext | deferred (next MX) |
//! | `encrypt` | likewise | deferred: `TLS is required, but was not offered by host H[A]` (4.7.4) | deferred: `Cannot start TLS: handshake failure` (4.7.5) |
//! | `verify`, `secure` | used; a certificate that is not trusted or does not match: deferred `Server certificate not verified` (4.7.5) | as `encrypt` | as `encrypt` |
//!
//! A failed handshake also logs `warning: TLS library problem: REASON`.
//! A STARTTLS reply other than 220 continues in plaintext at `may` and
//! defers above (`TLS is required, but host H[A] refused to start TLS:
//! REPLY`). After the handshake EHLO is sent again. At `verify` and
//! `secure` a certificate that fails is logged as Postfix's TLS library
//! logs it (`certificate verification failed for H[A]:PORT: untrusted
//! issuer /CN=...`, `server certificate verification failed for
//! H[A]:PORT: num=62:hostname mismatch`). With `smtp_tls_loglevel >= 1`
//! the session is logged `Verified TLS connection established to
//! H[A]:PORT: TLSv1.3 with cipher X (256/256 bits)` (names matched at
//! `verify`/`secure`), `Trusted ...` (chain trusted, names not checked at
//! `may`/`encrypt`) or `Untrusted ...`.

use gatepost_tls::ServerName;

use crate::smtp::addr_list::Target;
use crate::smtp::conn::{Broken, Conn};
use crate::smtp::destination::Destination;
use crate::smtp::ehlo::Features;
use crate::smtp::tls_policy::{DestPolicy, TlsLevel};
use crate::verdict::Verdict;

/// What the STARTTLS step decided.
pub(crate) enum Step {
    /// Go on with these features (plaintext).
    Plain(Features),
    /// TLS is up (the certificate verified when `verified`): send EHLO again.
    Encrypted { verified: bool },
    /// Every recipient got this verdict; send QUIT.
    Stop(Verdict),
}

/// Run STARTTLS when the policy and the server's features call for it.
pub(crate) async fn starttls(
    conn: &mut Conn,
    target: &Target,
    dest: &Destination,
    policy: &DestPolicy,
    timeout: std::time::Duration,
    features: Features,
) -> Result<Step, Broken> {
    let Some(connector) = policy.connector.as_ref() else {
        return Ok(Step::Plain(features));
    };
    let namaddr = target.namaddr();
    let required = policy.level > TlsLevel::May;
    if !features.starttls {
        if required {
            return Ok(Step::Stop(Verdict::deferred(
                "4.7.4",
                format!("TLS is required, but was not offered by host {namaddr}"),
            )));
        }
        return Ok(Step::Plain(features));
    }
    let reply = conn
        .command("STARTTLS", timeout, "sending the STARTTLS command")
        .await?;
    if reply.code != 220 {
        if required {
            return Ok(Step::Stop(Verdict::deferred(
                "4.7.5",
                format!(
                    "TLS is required, but host {namaddr} refused to start TLS: {}",
                    gatepost_log::sanitize(&reply.text())
                ),
            )));
        }
        return Ok(Step::Plain(features));
    }
    let name = ServerName::try_from(target.host.clone())
        .unwrap_or_else(|_| ServerName::IpAddress(target.addr.into()));
    let (summary, chain) = match conn.start_tls(connector, name, timeout).await {
        Ok(up) => up,
        Err(problem) => {
            gatepost_log::warning("smtp", format!("TLS library problem: {problem}"));
            return Err(Broken::TlsHandshake);
        }
    };
    let must_match = policy.level.must_match();
    let names = if must_match {
        policy.match_names(dest, &target.host)
    } else {
        Vec::new()
    };
    let check = gatepost_tls::check_peer(&chain, &policy.anchors, &names);
    if must_match && !check.matched {
        if let Some(problem) = &check.problem {
            gatepost_log::info("smtp", problem.log_line(&target.relay()));
        }
    }
    if policy.loglevel >= 1 {
        let word = if must_match && check.matched {
            "Verified"
        } else if !must_match && check.trusted {
            "Trusted"
        } else {
            "Untrusted"
        };
        gatepost_log::info(
            "smtp",
            format!(
                "{word} TLS connection established to {}: {}",
                target.relay(),
                summary.describe()
            ),
        );
    }
    if must_match && !check.matched {
        return Ok(Step::Stop(Verdict::deferred(
            "4.7.5",
            "Server certificate not verified",
        )));
    }
    Ok(Step::Encrypted {
        verified: must_match,
    })
}
