//! Policy delegation (`check_policy_service`, docs/restrictions.md#policy-delegation): the
//! client side of Postfix's policy protocol. One request is `name=value`
//! lines in Postfix 3.7's attribute order and an empty line; the reply is
//! `action=...` and an empty line, and the action is then read like an
//! access-table result. Connections are kept open and reused
//! (`smtpd_policy_service_max_idle`), a failed request is tried again
//! (`smtpd_policy_service_try_limit`, `_retry_delay`), and when the service
//! cannot answer the caller applies `smtpd_policy_service_default_action`.
//!
//! Endpoints: `inet:host:port`, `unix:/absolute/path` or `unix:name`
//! (relative to `queue_directory`, e.g. `unix:private/policy`); the
//! restriction may carry per-service settings in braces:
//! `check_policy_service { inet:127.0.0.1:10040, timeout=5s, default_action=DUNNO }`.
//!
//! Bounds: a reply is at most 16 KiB and every exchange has the timeout.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// Longest reply accepted from a policy server.
const MAX_REPLY: usize = 16 * 1024;

/// One configured policy service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PolicyService {
    pub endpoint: String,
    pub timeout: Duration,
    pub try_limit: u32,
    pub retry_delay: Duration,
    pub max_idle: Duration,
    /// Overrides `smtpd_policy_service_default_action` when set.
    pub default_action: Option<String>,
    pub policy_context: String,
}

/// Service-wide defaults, from the `smtpd_policy_service_*` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PolicyDefaults {
    pub timeout: Duration,
    pub try_limit: u32,
    pub retry_delay: Duration,
    pub max_idle: Duration,
    pub policy_context: String,
}

impl PolicyService {
    /// Parse the restriction argument: `inet:host:port` or
    /// `{ endpoint, name=value, ... }`.
    pub fn parse(arg: &str, d: &PolicyDefaults) -> Result<PolicyService, String> {
        let inner = arg
            .strip_prefix('{')
            .and_then(|a| a.strip_suffix('}'))
            .unwrap_or(arg);
        let mut parts = inner.split(',').map(str::trim).filter(|p| !p.is_empty());
        let endpoint = parts.next().unwrap_or("").to_string();
        if !endpoint.starts_with("inet:") && !endpoint.starts_with("unix:") {
            return Err(format!("unsupported policy server type: {endpoint}"));
        }
        let mut svc = PolicyService {
            endpoint,
            timeout: d.timeout,
            try_limit: d.try_limit,
            retry_delay: d.retry_delay,
            max_idle: d.max_idle,
            default_action: None,
            policy_context: d.policy_context.clone(),
        };
        for part in parts {
            let (name, value) = part
                .split_once('=')
                .map(|(n, v)| (n.trim(), v.trim()))
                .ok_or_else(|| format!("missing '=' in policy setting: {part}"))?;
            match name {
                "timeout" => svc.timeout = parse_time(value)?,
                "retry_delay" => svc.retry_delay = parse_time(value)?,
                "max_idle" => svc.max_idle = parse_time(value)?,
                "max_ttl" | "request_limit" => {}
                "try_limit" => {
                    svc.try_limit = value
                        .parse()
                        .map_err(|_| format!("bad try_limit: {value}"))?
                }
                "default_action" => svc.default_action = Some(value.to_string()),
                "policy_context" => svc.policy_context = value.to_string(),
                other => return Err(format!("unknown policy setting: {other}")),
            }
        }
        Ok(svc)
    }
}

/// A time setting of the service (default unit: seconds).
fn parse_time(value: &str) -> Result<Duration, String> {
    gatepost_config::parse_time(value, 's').map_err(|why| format!("bad time value: {value}: {why}"))
}

trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// An open connection and when it was last used.
struct Idle {
    conn: BufReader<Box<dyn Conn>>,
    since: Instant,
}

/// Idle connections per endpoint, shared by all sessions.
#[derive(Default)]
pub(crate) struct PolicyClients {
    idle: Mutex<HashMap<String, Vec<Idle>>>,
}

impl std::fmt::Debug for PolicyClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PolicyClients")
    }
}

impl PolicyClients {
    /// Ask `svc`; `Ok(action)` or `Err(why)` once every try failed.
    pub async fn query(
        &self,
        svc: &PolicyService,
        queue_directory: &str,
        attrs: &[(&str, String)],
    ) -> Result<String, String> {
        let mut request = String::new();
        for (name, value) in attrs {
            request.push_str(name);
            request.push('=');
            request.push_str(&value.replace(['\n', '\r'], " "));
            request.push('\n');
        }
        request.push('\n');
        let mut last = String::from("no attempt");
        for attempt in 0..svc.try_limit.max(1) {
            if attempt > 0 {
                tokio::time::sleep(svc.retry_delay).await;
            }
            let conn = match self.take_idle(svc) {
                Some(c) => c,
                None => match connect(&svc.endpoint, queue_directory, svc.timeout).await {
                    Ok(c) => c,
                    Err(e) => {
                        last = e;
                        continue;
                    }
                },
            };
            match tokio::time::timeout(svc.timeout, exchange(conn, &request)).await {
                Ok(Ok((action, conn))) => {
                    self.put_idle(svc, conn);
                    return Ok(action);
                }
                Ok(Err(e)) => last = e,
                Err(_) => last = "timeout".to_string(),
            }
        }
        Err(last)
    }

    fn take_idle(&self, svc: &PolicyService) -> Option<BufReader<Box<dyn Conn>>> {
        let mut map = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = map.get_mut(&svc.endpoint)?;
        while let Some(idle) = list.pop() {
            if idle.since.elapsed() < svc.max_idle {
                return Some(idle.conn);
            }
        }
        None
    }

    fn put_idle(&self, svc: &PolicyService, conn: BufReader<Box<dyn Conn>>) {
        let mut map = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(svc.endpoint.clone()).or_default().push(Idle {
            conn,
            since: Instant::now(),
        });
    }
}

async fn connect(
    endpoint: &str,
    queue_directory: &str,
    timeout: Duration,
) -> Result<BufReader<Box<dyn Conn>>, String> {
    let fut = async {
        if let Some(addr) = endpoint.strip_prefix("inet:") {
            let addr = addr.trim_start_matches('[').replacen("]:", ":", 1);
            let s = tokio::net::TcpStream::connect(addr.as_str())
                .await
                .map_err(|e| format!("connect to {addr}: {e}"))?;
            Ok(BufReader::new(Box::new(s) as Box<dyn Conn>))
        } else if let Some(path) = endpoint.strip_prefix("unix:") {
            let full = if path.starts_with('/') {
                Path::new(path).to_path_buf()
            } else {
                Path::new(queue_directory).join(path)
            };
            let s = tokio::net::UnixStream::connect(&full)
                .await
                .map_err(|e| format!("connect to {}: {e}", full.display()))?;
            Ok(BufReader::new(Box::new(s) as Box<dyn Conn>))
        } else {
            Err(format!("unsupported policy server type: {endpoint}"))
        }
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(format!("connect to {endpoint}: timeout")),
    }
}

/// Send one request and read the reply up to its empty line.
async fn exchange(
    mut conn: BufReader<Box<dyn Conn>>,
    request: &str,
) -> Result<(String, BufReader<Box<dyn Conn>>), String> {
    conn.get_mut()
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut action = None;
    let mut total = 0;
    loop {
        let mut line = String::new();
        let n = conn
            .read_line(&mut line)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("lost connection".to_string());
        }
        total += n;
        if total > MAX_REPLY {
            return Err("reply too long".to_string());
        }
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            break;
        }
        if let Some(a) = line.strip_prefix("action=") {
            action = Some(a.to_string());
        }
    }
    match action {
        Some(a) => Ok((a, conn)),
        None => Err("reply has no action attribute".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> PolicyDefaults {
        PolicyDefaults {
            timeout: Duration::from_secs(100),
            try_limit: 2,
            retry_delay: Duration::from_secs(1),
            max_idle: Duration::from_secs(300),
            policy_context: String::new(),
        }
    }

    #[test]
    fn parses_plain_and_braced_arguments() {
        let s = PolicyService::parse("inet:127.0.0.1:10040", &defaults()).unwrap();
        assert_eq!(s.endpoint, "inet:127.0.0.1:10040");
        assert_eq!(s.timeout, Duration::from_secs(100));
        let s = PolicyService::parse(
            "{ inet:127.0.0.1:10040, timeout=5s, default_action=DUNNO, try_limit=1 }",
            &defaults(),
        )
        .unwrap();
        assert_eq!(s.timeout, Duration::from_secs(5));
        assert_eq!(s.default_action.as_deref(), Some("DUNNO"));
        assert_eq!(s.try_limit, 1);
        assert!(PolicyService::parse("tcp:x:1", &defaults()).is_err());
        assert!(PolicyService::parse("{ inet:x:1, bogus=1 }", &defaults()).is_err());
    }

    #[tokio::test]
    async fn asks_a_server_and_reuses_the_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let mut r = BufReader::new(sock);
            let mut seen = Vec::new();
            for _ in 0..2 {
                let mut req = Vec::new();
                loop {
                    let mut line = String::new();
                    r.read_line(&mut line).await.unwrap();
                    if line == "\n" {
                        break;
                    }
                    req.push(line.trim_end().to_string());
                }
                r.get_mut()
                    .write_all(b"action=REJECT policy says no\n\n")
                    .await
                    .unwrap();
                seen.push(req);
            }
            seen
        });
        let clients = PolicyClients::default();
        let svc = PolicyService::parse(&format!("inet:{addr}"), &defaults()).unwrap();
        let attrs = [
            ("request", "smtpd_access_policy".to_string()),
            ("recipient", "a@b".to_string()),
        ];
        for _ in 0..2 {
            let action = clients.query(&svc, "/nonexistent", &attrs).await.unwrap();
            assert_eq!(action, "REJECT policy says no");
        }
        let seen = server.await.unwrap();
        assert_eq!(
            seen[0],
            vec!["request=smtpd_access_policy", "recipient=a@b"]
        );
        assert_eq!(seen.len(), 2, "one connection served both requests");
    }

    #[tokio::test]
    async fn unreachable_service_is_an_error() {
        let clients = PolicyClients::default();
        let mut d = defaults();
        d.retry_delay = Duration::from_millis(10);
        let svc = PolicyService::parse("inet:127.0.0.1:1", &d).unwrap();
        let err = clients.query(&svc, "/", &[]).await.unwrap_err();
        assert!(err.contains("connect to 127.0.0.1:1"), "{err}");
    }
}
