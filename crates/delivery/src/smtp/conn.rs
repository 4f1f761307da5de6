//! One TCP connection to a server: connecting (with `smtp_bind_address` /
//! `smtp_bind_address6` and `smtp_connect_timeout`), writing commands, and
//! reading replies under a per-stage timeout. A broken conversation is
//! reported as Postfix words it: `lost connection with HOST[ADDR] while
//! WHERE` or `conversation with HOST[ADDR] timed out while WHERE` (4.4.2).
//! After STARTTLS the same connection carries TLS ([`Conn::start_tls`]).
//! An LMTP `unix:` target is a Unix-domain socket (`connect to
//! MYHOSTNAME[PATH]: REASON`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use gatepost_tls::{CertificateDer, ServerName, TlsConnector, TlsSummary};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, UnixStream};

use crate::smtp::addr_list::Target;
use crate::smtp::reply::{read_reply, Reply, ReplyError};

/// Why a conversation ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Broken {
    Lost(&'static str),
    Timeout(&'static str),
    Malformed(&'static str, String),
    /// The TLS handshake after STARTTLS failed.
    TlsHandshake,
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
            Broken::TlsHandshake => ("4.7.5", "Cannot start TLS: handshake failure".to_string()),
        }
    }
}

/// A byte stream to the server: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(crate) struct Conn {
    stream: BufReader<Box<dyn Io>>,
}

/// Connect to `target`; the error is Postfix's `connect to HOST[ADDR]:PORT: REASON`.
pub(crate) async fn connect(
    target: &Target,
    bind4: Option<IpAddr>,
    bind6: Option<IpAddr>,
    timeout: Duration,
) -> Result<Conn, String> {
    let fail = |why: String| format!("connect to {}: {why}", target.relay());
    if let Some(socket) = &target.socket {
        let stream = match limited(timeout, UnixStream::connect(&socket.path)).await {
            None => return Err(fail("Connection timed out".to_string())),
            Some(r) => r.map_err(|e| fail(io_text(&e)))?,
        };
        return Ok(Conn {
            stream: BufReader::new(Box::new(stream)),
        });
    }
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
    Ok(Conn {
        stream: BufReader::new(Box::new(stream)),
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
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
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
        match limited(timeout, read_reply(&mut self.stream)).await {
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

    /// The TLS handshake after the server's 220 to STARTTLS. Bytes the
    /// server sent after that 220 are discarded with the read buffer, never
    /// read as TLS records or replies (the client side of CVE-2011-0411).
    /// A failure leaves the connection closed. Returns what was negotiated
    /// and the server's certificate chain (leaf first).
    pub(crate) async fn start_tls(
        &mut self,
        connector: &TlsConnector,
        name: ServerName<'static>,
        timeout: Duration,
    ) -> Result<(TlsSummary, Vec<CertificateDer<'static>>), String> {
        let (closed, _) = tokio::io::duplex(1);
        let plain = std::mem::replace(&mut self.stream, BufReader::new(Box::new(closed)));
        let handshake = connector.connect(name, plain.into_inner());
        match limited(timeout, handshake).await {
            None => Err("handshake timed out".to_string()),
            Some(Err(e)) => Err(io_text(&e)),
            Some(Ok(tls)) => {
                let session = tls.get_ref().1;
                let summary = TlsSummary::of_client(session);
                let chain = session.peer_certificates().unwrap_or_default().to_vec();
                self.stream = BufReader::new(Box::new(tls));
                Ok((summary, chain))
            }
        }
    }
}
