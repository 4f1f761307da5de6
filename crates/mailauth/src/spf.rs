//! SPF (RFC 7208) for smtpd: the MAIL FROM identity (or the HELO identity
//! for the null sender) of one client, with the result names of RFC 7208
//! section 2.6 and the `Authentication-Results:` clause (RFC 8601).

use crate::bridge::{authenticator, evaluate};
use gatepost_dns::Resolver;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::AuthenticationResults;
use mail_auth::{SpfOutput, SpfResult};
use std::net::IpAddr;

/// What SPF is asked about.
#[derive(Debug, Clone)]
pub struct SpfCheck<'a> {
    pub client: IpAddr,
    /// The HELO/EHLO argument ("" when none was given).
    pub helo: &'a str,
    /// The envelope sender ("" for the null sender).
    pub sender: &'a str,
    /// `$myhostname`: the receiving host (`%{r}`) and the authserv-id.
    pub myhostname: &'a str,
}

/// The SPF result of one check.
#[derive(Debug, Clone)]
pub struct SpfVerdict {
    output: SpfOutput,
    client: IpAddr,
    helo: String,
    sender: String,
}

impl SpfVerdict {
    /// `pass`, `fail`, `softfail`, `neutral`, `none`, `temperror`, `permerror`.
    pub fn result(&self) -> &'static str {
        match self.output.result() {
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::Neutral => "neutral",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
            SpfResult::None => "none",
        }
    }

    /// The domain whose policy decided (the sender's, or the HELO name).
    pub fn domain(&self) -> &str {
        self.output.domain()
    }

    /// The identity checked: the sender, or `postmaster@HELO`.
    pub fn identity(&self) -> String {
        if self.sender.is_empty() {
            format!("postmaster@{}", self.helo)
        } else {
            self.sender.clone()
        }
    }

    /// The domain's explanation (`exp=`), when it gave one.
    pub fn explanation(&self) -> Option<&str> {
        self.output.explanation()
    }

    pub(crate) fn output(&self) -> &SpfOutput {
        &self.output
    }

    /// The `spf=` clause alone, for a header that also carries other results.
    pub(crate) fn add_to<'x>(&self, ar: AuthenticationResults<'x>) -> AuthenticationResults<'x> {
        if self.sender.is_empty() {
            ar.with_spf_ehlo_result(&self.output, self.client, &self.helo)
        } else {
            ar.with_spf_mailfrom_result(&self.output, self.client, &self.sender, &self.helo)
        }
    }

    /// `Authentication-Results: $myhostname; spf=...` with LF line ends.
    pub fn header(&self, myhostname: &str) -> String {
        crate::inbound::lf(
            &self
                .add_to(AuthenticationResults::new(myhostname))
                .to_header(),
        )
    }
}

/// Evaluate SPF for the MAIL FROM identity (RFC 7208 section 2.4), or the
/// HELO identity when the sender is null (section 2.3).
pub async fn check_spf(resolver: &Resolver, check: &SpfCheck<'_>) -> SpfVerdict {
    let helo = check
        .helo
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let sender = check.sender.to_string();
    let output = match authenticator() {
        Some(auth) => {
            evaluate(resolver, check.client, |caches| {
                let (helo, sender, host) = (helo.clone(), sender.clone(), check.myhostname);
                async move {
                    let params = if sender.is_empty() {
                        SpfParameters::verify_ehlo(check.client, &helo, host)
                    } else {
                        SpfParameters::verify_mail_from(check.client, &helo, host, &sender)
                    };
                    auth.verify_spf(caches.params(params)).await
                }
            })
            .await
        }
        None => SpfOutput::new(String::new()).with_result(SpfResult::TempError),
    };
    SpfVerdict {
        output,
        client: check.client,
        helo,
        sender,
    }
}
