//! One TCP connection to a server: connecting (with `smtp_bind_address` /
//! `smtp_bind_address6` and `smtp_connect_timeout`), writing commands, and
//! reading replies under a per-stage timeout. A broken conversation is
//! reported as Postfix words it: `lost connection with HOST[ADDR] while
//! WHERE` or `conversation with HOST[ADDR] timed out while WHERE` (4.4.2).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpSocket;

use crate::smtp::addr_list::Target;
use crate::smtp::reply::{read_reply, Reply, ReplyError};

/// Why a conversation ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Broken {
    Lost(&'static str),
    Timeout(&'static str),
    Malformed(&'static str, String),
}

impl Broken {
    /// Postfix's reason text and DSN.
    pub(crate) fn describe(&self, namaddr: &str) -> (&'static str, String) {
        match self {
            Broken::Lost(w) => ("4.4.2", format!("lost connection with {namaddr} while {w}")),
            Broken::Timeout(w) => (
                "4.4.2",
                format!("conversation with {namaddr} timed out while {w}"),
            ),
            Broken::Malformed(w, line) => (
                "4.5.0",
                format!(
                    "malformed reply from {namaddr} while {w}: {}",
                    gatepost_log::sanitize(line)
                ),
            ),
        }
    }
}

pub(crate) struct Conn {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

/// Connect to `target`; the error is Postfix's `connect to HOST[ADDR]:PORT: REASON`.
pub(crate) async fn connect(
    target: &Target,
    bind4: Option<IpAddr>,
    bind6: Option<IpAddr>,
    timeout: Duration,
) -> Result<Conn, String> {
    let fail = |why: String| format!("connect to {}: {why}", target.relay());
    let peer = SocketAddr::new(target.addr, target.port);
    let (socket, bind) = match target.addr {
        IpAddr::V4(_) => (TcpSocket::new_v4(), bind4.filter(IpAddr::is_ipv4)),
        IpAddr::V6(_) => (TcpSocket::new_v6(), bind6.filter(IpAddr::is_ipv6)),
    };
    let socket = socket.map_err(|e| fail(io_text(&e)))?;
    if let Some(local) = bind {
        socket
            .bind(SocketAddr::new(local, 0))
            .map_err(|e| fail(io_text(&e)))?;
    }
    let connecting = socket.connect(peer);
    let stream = if timeout.is_zero() {
        connecting.await.map_err(|e| fail(io_text(&e)))?
    } else {
        match tokio::time::timeout(timeout, connecting).await {
            Ok(r) => r.map_err(|e| fail(io_text(&e)))?,
            Err(_) => return Err(fail("Connection timed out".to_string())),
        }
    };
    let _ = stream.set_nodelay(true);
    let (r, w) = stream.into_split();
    Ok(Conn {
        reader: BufReader::new(r),
        writer: w,
    })
}

pub(crate) use gatepost_log::io_text;

async fn limited<T>(timeout: Duration, fut: impl std::future::Future<Output = T>) -> Option<T> {
    if timeout.is_zero() {
        Some(fut.await)
    } else {
        tokio::time::timeout(timeout, fut).await.ok()
    }
}

impl Conn {
    pub(crate) async fn send(
        &mut self,
        bytes: &[u8],
        timeout: Duration,
        stage: &'static str,
    ) -> Result<(), Broken> {
        let write = async {
            self.writer.write_all(bytes).await?;
            self.writer.flush().await
        };
        match limited(timeout, write).await {
            None => Err(Broken::Timeout(stage)),
            Some(Err(_)) => Err(Broken::Lost(stage)),
            Some(Ok(())) => Ok(()),
        }
    }

    pub(crate) async fn reply(
        &mut self,
        timeout: Duration,
        stage: &'static str,
    ) -> Result<Reply, Broken> {
        match limited(timeout, read_reply(&mut self.reader)).await {
            None => Err(Broken::Timeout(stage)),
            Some(Ok(r)) => Ok(r),
            Some(Err(ReplyError::Malformed(line))) => Err(Broken::Malformed(stage, line)),
            Some(Err(_)) => Err(Broken::Lost(stage)),
        }
    }

    /// Send one command line (CRLF added) and read its reply.
    pub(crate) async fn command(
        &mut self,
        line: &str,
        timeout: Duration,
        stage: &'static str,
    ) -> Result<Reply, Broken> {
        self.send(format!("{line}\r\n").as_bytes(), timeout, stage)
            .await?;
        self.reply(timeout, stage).await
    }
}
