//! The DNS answers of a `policy-test` run: every question the restriction
//! engine asks ([`DnsChecks`]) is answered by the real resolver, or with
//! `--no-dns` from the `--fact` list, and written down so that the trace
//! shows it with its answer.
//!
//! Fact syntax (`--fact KIND:NAME=VALUE`, repeatable):
//! `host:NAME=STATUS` (the A/AAAA/MX lookup of a HELO name),
//! `domain:NAME=STATUS` (the MX/A/AAAA lookup of a sender or recipient
//! domain), with STATUS `ok`, `notfound`, `retry`, `fail`, `inval` or
//! `nullmx` (`yes` = ok, `no` = notfound); `rbl:ZONE=ADDR[,ADDR...]` (every
//! query under ZONE is listed with these A records; `no` = not listed;
//! `rbl-txt:ZONE=TEXT` adds the TXT answer); `mx:DOMAIN=HOST[,HOST...]`
//! and `ns:DOMAIN=HOST[,HOST...]` (for `check_*_mx_access` and
//! `check_*_ns_access`; `nullmx` for a null MX); `addr:HOST=IP[,IP...]`
//! (a server host's addresses); `backup:DOMAIN=STATUS` (`permit_mx_backup`);
//! `ptr:IP=NAME` (the client's verified name; `retry` for a temporary
//! failure); `spf:DOMAIN=RESULT` (the SPF result for a sender or HELO
//! domain: `pass`, `fail`, `softfail`, `neutral`, `none`, `temperror`,
//! `permerror`). What no fact answers is "not found" (SPF: `none`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use gatepost_policy::{
    DnsChecks, DnsStatus, RblAnswer, ResolverDns, ServerHosts, ServerKind, SpfAnswer,
};

/// The `--fact` answers, by kind and lower-cased name.
#[derive(Debug, Default)]
pub struct FactTable {
    facts: HashMap<(String, String), String>,
}

const KINDS: [&str; 10] = [
    "host", "domain", "rbl", "rbl-txt", "mx", "ns", "addr", "backup", "ptr", "spf",
];

impl FactTable {
    /// Parse `KIND:NAME=VALUE` items.
    pub fn parse(items: &[String]) -> Result<FactTable> {
        let mut facts = HashMap::new();
        for item in items {
            let (key, value) = item
                .split_once('=')
                .with_context(|| format!("--fact {item}: expected KIND:NAME=VALUE"))?;
            let (kind, name) = key
                .split_once(':')
                .with_context(|| format!("--fact {item}: expected KIND:NAME=VALUE"))?;
            let kind = kind.trim().to_ascii_lowercase();
            if !KINDS.contains(&kind.as_str()) {
                bail!(
                    "--fact {item}: unknown kind {kind:?} (one of {})",
                    KINDS.join(", ")
                );
            }
            if matches!(kind.as_str(), "host" | "domain" | "backup") {
                parse_status(value).with_context(|| format!("--fact {item}"))?;
            }
            if kind == "spf" && spf_result(value).is_none() {
                bail!("--fact {item}: unknown SPF result (pass, fail, softfail, neutral, none, temperror or permerror)");
            }
            let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
            facts.insert((kind, name), value.trim().to_string());
        }
        Ok(FactTable { facts })
    }

    fn get(&self, kind: &str, name: &str) -> Option<&str> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.facts
            .get(&(kind.to_string(), name))
            .map(String::as_str)
    }

    /// The fact for the zone that `query` is under (`rbl`, `rbl-txt`).
    fn zone_fact(&self, kind: &str, query: &str) -> Option<&str> {
        let query = query.trim_end_matches('.').to_ascii_lowercase();
        self.facts.iter().find_map(|((k, zone), value)| {
            let under = query == *zone || query.ends_with(&format!(".{zone}"));
            (k == kind && under).then_some(value.as_str())
        })
    }

    /// The client's name from a `ptr:` fact: (name, temporary failure).
    pub fn client_name(&self, addr: IpAddr) -> Option<(String, bool)> {
        let value = self.get("ptr", &addr.to_string())?;
        if value.eq_ignore_ascii_case("retry") {
            return Some(("unknown".to_string(), true));
        }
        Some((value.to_string(), false))
    }
}

fn parse_status(value: &str) -> Result<DnsStatus> {
    Ok(match value.trim().to_ascii_lowercase().as_str() {
        "ok" | "yes" => DnsStatus::Ok,
        "notfound" | "no" => DnsStatus::NotFound,
        "retry" => DnsStatus::Retry,
        "fail" => DnsStatus::Fail,
        "inval" => DnsStatus::Inval,
        "nullmx" => DnsStatus::NullMx,
        other => bail!("unknown DNS status {other:?} (ok, notfound, retry, fail, inval, nullmx)"),
    })
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Who answers.
#[derive(Debug)]
enum Answerer {
    Resolver(ResolverDns),
    Facts(FactTable),
}

/// [`DnsChecks`] that writes down each question and its answer.
#[derive(Debug)]
pub struct TracedDns {
    answerer: Answerer,
    log: Mutex<Vec<String>>,
}

impl TracedDns {
    pub fn resolver(resolver: ResolverDns) -> Arc<TracedDns> {
        Arc::new(TracedDns {
            answerer: Answerer::Resolver(resolver),
            log: Mutex::new(Vec::new()),
        })
    }

    pub fn facts(facts: FactTable) -> Arc<TracedDns> {
        Arc::new(TracedDns {
            answerer: Answerer::Facts(facts),
            log: Mutex::new(Vec::new()),
        })
    }

    /// The lines written since the last call.
    pub fn take(&self) -> Vec<String> {
        match self.log.lock() {
            Ok(mut log) => std::mem::take(&mut *log),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    /// Note one question and its answer; `given` says whether a fact
    /// answered (always true for the resolver).
    pub fn note_answer(&self, question: String, answer: String, given: bool) {
        self.note(question, answer, given);
    }

    fn note(&self, question: String, answer: String, given: bool) {
        let source = match (&self.answerer, given) {
            (Answerer::Resolver(_), _) => "",
            (Answerer::Facts(_), true) => " (--fact)",
            (Answerer::Facts(_), false) => " (--no-dns: no --fact given)",
        };
        let line = format!("{question} => {answer}{source}");
        match self.log.lock() {
            Ok(mut log) => log.push(line),
            Err(poisoned) => poisoned.into_inner().push(line),
        }
    }

    fn fact_status(facts: &FactTable, kind: &str, name: &str) -> (DnsStatus, bool) {
        match facts.get(kind, name).map(parse_status) {
            Some(Ok(status)) => (status, true),
            _ => (DnsStatus::NotFound, false),
        }
    }
}

fn status_text(s: DnsStatus) -> &'static str {
    match s {
        DnsStatus::Ok => "OK",
        DnsStatus::NotFound => "NOTFOUND",
        DnsStatus::Retry => "RETRY (temporary failure)",
        DnsStatus::Fail => "FAIL",
        DnsStatus::Inval => "INVAL (malformed reply)",
        DnsStatus::NullMx => "NULLMX",
        DnsStatus::Policy => "POLICY",
    }
}

/// An SPF result name as the restrictions know it.
fn spf_result(text: &str) -> Option<&'static str> {
    [
        "pass",
        "fail",
        "softfail",
        "neutral",
        "none",
        "temperror",
        "permerror",
    ]
    .into_iter()
    .find(|r| r.eq_ignore_ascii_case(text.trim()))
}

#[async_trait::async_trait]
impl DnsChecks for TracedDns {
    async fn spf(&self, client: IpAddr, helo: &str, sender: &str) -> SpfAnswer {
        let domain = match sender.rsplit_once('@') {
            Some((_, d)) => d.to_string(),
            None => helo.to_string(),
        };
        let (answer, given) = match &self.answerer {
            Answerer::Resolver(r) => (r.spf(client, helo, sender).await, true),
            Answerer::Facts(f) => {
                let fact = f.get("spf", &domain).and_then(spf_result);
                let answer = SpfAnswer {
                    result: fact.unwrap_or("none"),
                    domain: domain.clone(),
                    explanation: None,
                };
                (answer, fact.is_some())
            }
        };
        self.note(
            format!("SPF for {domain} from {client}"),
            answer.result.to_string(),
            given,
        );
        answer
    }

    async fn host_status(&self, name: &str) -> DnsStatus {
        let (status, given) = match &self.answerer {
            Answerer::Resolver(r) => (r.host_status(name).await, true),
            Answerer::Facts(f) => TracedDns::fact_status(f, "host", name),
        };
        self.note(
            format!("host {name} (A, AAAA, MX)"),
            status_text(status).into(),
            given,
        );
        status
    }

    async fn mail_domain_status(&self, domain: &str) -> DnsStatus {
        let (status, given) = match &self.answerer {
            Answerer::Resolver(r) => (r.mail_domain_status(domain).await, true),
            Answerer::Facts(f) => TracedDns::fact_status(f, "domain", domain),
        };
        self.note(
            format!("mail domain {domain} (MX, A, AAAA)"),
            status_text(status).into(),
            given,
        );
        status
    }

    async fn rbl_lookup(&self, query: &str) -> RblAnswer {
        let (answer, given) = match &self.answerer {
            Answerer::Resolver(r) => (r.rbl_lookup(query).await, true),
            Answerer::Facts(f) => match f.zone_fact("rbl", query) {
                None => (RblAnswer::NotListed, false),
                Some(v) if v.eq_ignore_ascii_case("no") => (RblAnswer::NotListed, true),
                Some(v) => {
                    let addrs: Vec<Ipv4Addr> =
                        list(v).iter().filter_map(|a| a.parse().ok()).collect();
                    let txt = f.zone_fact("rbl-txt", query).map(str::to_string);
                    (RblAnswer::Listed { addrs, txt }, true)
                }
            },
        };
        let text = match &answer {
            RblAnswer::Listed { addrs, txt } => {
                let addrs: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
                match txt {
                    Some(t) => format!("listed {} TXT \"{t}\"", addrs.join(",")),
                    None => format!("listed {}", addrs.join(",")),
                }
            }
            RblAnswer::NotListed => "not listed".to_string(),
            RblAnswer::Error(e) => format!("error: {e} (treated as not listed)"),
        };
        self.note(format!("DNS list {query} (A)"), text, given);
        answer
    }

    async fn mx_backup_status(&self, domain: &str) -> DnsStatus {
        let (status, given) = match &self.answerer {
            Answerer::Resolver(r) => (r.mx_backup_status(domain).await, true),
            Answerer::Facts(f) => TracedDns::fact_status(f, "backup", domain),
        };
        self.note(
            format!("backup MX for {domain}"),
            status_text(status).into(),
            given,
        );
        status
    }

    async fn server_hosts(&self, domain: &str, kind: ServerKind) -> ServerHosts {
        let (hosts, given) = match &self.answerer {
            Answerer::Resolver(r) => (r.server_hosts(domain, kind).await, true),
            Answerer::Facts(f) => {
                let fact_kind = match kind {
                    ServerKind::Mx => "mx",
                    ServerKind::Ns => "ns",
                    ServerKind::A => "",
                };
                match (kind, f.get(fact_kind, domain)) {
                    (ServerKind::A, _) => (ServerHosts::Hosts(vec![domain.to_string()]), true),
                    (_, Some(v)) if v.eq_ignore_ascii_case("nullmx") => (ServerHosts::NullMx, true),
                    (_, Some(v)) => (ServerHosts::Hosts(list(v)), true),
                    // No MX: the domain is its own mail host.
                    (ServerKind::Mx, None) => (ServerHosts::Hosts(vec![domain.to_string()]), false),
                    (_, None) => (ServerHosts::NoneFound("Host not found".to_string()), false),
                }
            }
        };
        let text = match &hosts {
            ServerHosts::Hosts(h) => h.join(", "),
            ServerHosts::NullMx => "null MX".to_string(),
            ServerHosts::Failed(e) => format!("failed: {e}"),
            ServerHosts::NoneFound(e) => format!("none: {e}"),
        };
        self.note(
            format!("{} hosts of {domain}", kind.dns_type()),
            text,
            given,
        );
        hosts
    }

    async fn host_addresses(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let (addrs, given) = match &self.answerer {
            Answerer::Resolver(r) => (r.host_addresses(host).await, true),
            Answerer::Facts(f) => match f.get("addr", host) {
                Some(v) => (
                    Ok(list(v).iter().filter_map(|a| a.parse().ok()).collect()),
                    true,
                ),
                None => (Err("Name or service not known".to_string()), false),
            },
        };
        let text = match &addrs {
            Ok(a) => a
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => format!("failed: {e}"),
        };
        self.note(format!("addresses of {host}"), text, given);
        addrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn facts_answer_and_are_traced() {
        let facts = FactTable::parse(&[
            "host:helo.example=no".to_string(),
            "domain:sender.example=ok".to_string(),
            "rbl:zen.example=127.0.0.2".to_string(),
            "ptr:192.0.2.9=mail.client.example".to_string(),
        ])
        .unwrap();
        assert_eq!(
            facts.client_name("192.0.2.9".parse().unwrap()),
            Some(("mail.client.example".to_string(), false))
        );
        let dns = TracedDns::facts(facts);
        assert_eq!(dns.host_status("HELO.example.").await, DnsStatus::NotFound);
        assert_eq!(
            dns.mail_domain_status("sender.example").await,
            DnsStatus::Ok
        );
        assert_eq!(
            dns.mail_domain_status("other.example").await,
            DnsStatus::NotFound
        );
        assert!(matches!(
            dns.rbl_lookup("9.2.0.192.zen.example").await,
            RblAnswer::Listed { .. }
        ));
        assert_eq!(
            dns.take(),
            [
                "host HELO.example. (A, AAAA, MX) => NOTFOUND (--fact)",
                "mail domain sender.example (MX, A, AAAA) => OK (--fact)",
                "mail domain other.example (MX, A, AAAA) => NOTFOUND (--no-dns: no --fact given)",
                "DNS list 9.2.0.192.zen.example (A) => listed 127.0.0.2 (--fact)",
            ]
        );
        assert!(dns.take().is_empty());
        assert!(FactTable::parse(&["helo-has-a=no".to_string()]).is_err());
        assert!(FactTable::parse(&["host:x=maybe".to_string()]).is_err());
    }
}
