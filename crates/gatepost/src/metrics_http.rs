//! The Prometheus endpoint of `gatepost serve`: with
//! `gatepost_metrics_listen = host:port` set, a minimal HTTP/1.1 responder
//! answers `GET /metrics` with `gatepost_metrics::render()` (one request
//! per connection, then close). The queue sizes are counted from the
//! queue directories at each scrape. Only loopback addresses are accepted
//! unless `gatepost_metrics_allow_remote = yes`: the counters tell who
//! probes the server and how, which is nobody else's business.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use gatepost_config::{params, Config};
use gatepost_queue::{Queue, QueueName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longest request head read; anything longer is refused.
const MAX_REQUEST_HEAD: usize = 8192;
/// Time a scraper has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The address `gatepost_metrics_listen` asks for, `None` when empty;
/// an error for a bad value or a non-loopback address that
/// `gatepost_metrics_allow_remote` does not allow.
pub fn listen_address(cfg: &Config) -> Result<Option<SocketAddr>> {
    let value = cfg.get(&params::GATEPOST_METRICS_LISTEN);
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let addr = parse_address(value).with_context(|| {
        format!("gatepost_metrics_listen = {value}: expected host:port, e.g. 127.0.0.1:9154")
    })?;
    if !addr.ip().is_loopback() && !cfg.get(&params::GATEPOST_METRICS_ALLOW_REMOTE) {
        bail!(
            "gatepost_metrics_listen = {value}: not a loopback address; set gatepost_metrics_allow_remote = yes to serve metrics to other hosts"
        );
    }
    Ok(Some(addr))
}

/// `127.0.0.1:9154`, `[::1]:9154` or `localhost:9154`.
fn parse_address(value: &str) -> Result<SocketAddr> {
    if let Ok(addr) = value.parse() {
        return Ok(addr);
    }
    match value.rsplit_once(':') {
        Some((host, port)) if host.eq_ignore_ascii_case("localhost") => {
            Ok(SocketAddr::from(([127, 0, 0, 1], port.parse::<u16>()?)))
        }
        _ => bail!("not an address"),
    }
}

/// Bind the endpoint (before the server says it is up, so that a busy
/// port refuses the start).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("gatepost_metrics_listen: bind {addr}"))
}

/// Answer scrapes on `listener` until the process ends.
pub async fn serve(listener: TcpListener, queue: Arc<Queue>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let queue = queue.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, &queue)).await;
                });
            }
            Err(e) => {
                gatepost_log::warning("master", format!("metrics endpoint: accept: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Read one request head and answer it.
async fn answer(mut stream: TcpStream, queue: &Queue) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_REQUEST_HEAD {
            return respond(&mut stream, "431 Request Header Fields Too Large", "", "").await;
        }
    }
    let request_line = String::from_utf8_lossy(&head);
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            count_queues(queue);
            let body = gatepost_metrics::render();
            let content_type = gatepost_metrics::CONTENT_TYPE;
            if method == "HEAD" {
                let head = response_head("200 OK", content_type, body.len());
                stream.write_all(head.as_bytes()).await?;
                return stream.shutdown().await;
            }
            respond(&mut stream, "200 OK", content_type, &body).await
        }
        (_, "/metrics") => respond(&mut stream, "405 Method Not Allowed", "", "").await,
        _ => respond(&mut stream, "404 Not Found", "text/plain", "try /metrics\n").await,
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let response = response_head(status, content_type, body.len()) + body;
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// The status line and headers of a response with a body of `length`.
fn response_head(status: &str, content_type: &str, length: usize) -> String {
    let mut head =
        format!("HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n");
    if !content_type.is_empty() {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Set the queue size gauges from the (flat) queue directories, counting
/// in `incoming` the new messages that have no file yet
/// (docs/durability.md, "Unwritten queue files").
fn count_queues(queue: &Queue) {
    for q in QueueName::ALL {
        let files = std::fs::read_dir(queue.root().join(q.dir_name()))
            .map(|entries| entries.filter(|e| e.is_ok()).count())
            .unwrap_or(0) as u64;
        let unwritten = match q {
            QueueName::Incoming => queue.unwritten_count() as u64,
            _ => 0,
        };
        gatepost_metrics::set_queue_size(q.dir_name(), files + unwritten);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only_unless_allowed() {
        let cfg = |text: &str| Config::parse_main_cf(text, "main.cf").unwrap();
        let addr = |text: &str| listen_address(&cfg(text));
        assert_eq!(addr("").unwrap(), None);
        assert_eq!(
            addr("gatepost_metrics_listen = 127.0.0.1:9154\n").unwrap(),
            Some("127.0.0.1:9154".parse().unwrap())
        );
        assert_eq!(
            addr("gatepost_metrics_listen = localhost:9154\n").unwrap(),
            Some("127.0.0.1:9154".parse().unwrap())
        );
        assert!(addr("gatepost_metrics_listen = [::1]:9154\n").is_ok());
        let refused = addr("gatepost_metrics_listen = 0.0.0.0:9154\n").unwrap_err();
        assert!(format!("{refused:#}").contains("gatepost_metrics_allow_remote = yes"));
        assert!(addr(
            "gatepost_metrics_listen = 0.0.0.0:9154\ngatepost_metrics_allow_remote = yes\n"
        )
        .is_ok());
        assert!(addr("gatepost_metrics_listen = 9154\n").is_err());
    }
}
