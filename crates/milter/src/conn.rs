//! One socket to a filter: `inet:host:port` or `unix:/path` (`local:` is
//! the same), connected within `milter_connect_timeout`; packets written
//! and read with a time limit each. Errors carry the text Postfix puts
//! after the colon in its warnings (`Connection refused`, `Connection
//! timed out`).

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::timeout;

use crate::protocol::{packet, MAX_PACKET};

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Why talking to the filter failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The endpoint is not `inet:`/`unix:`/`local:` (a configuration error).
    #[error("Milter service needs transport:endpoint instead of \"{0}\"")]
    BadEndpoint(String),
    #[error("invalid transport name: {0} in Milter service: {1}")]
    BadTransport(String, String),
    #[error("Connection timed out")]
    Timeout,
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("bad packet length: {0}")]
    BadLength(usize),
    #[error("unreasonable packet length: {0}")]
    TooLong(usize),
}

fn io_text(e: io::Error) -> ConnError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        ConnError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "Connection reset by peer",
        ))
    } else {
        ConnError::Io(e)
    }
}

pub struct Conn {
    io: Box<dyn Io>,
}

impl Conn {
    /// Connect to `name` (`inet:127.0.0.1:8891`, `unix:/run/x.sock`).
    pub async fn open(name: &str, limit: Duration) -> Result<Conn, ConnError> {
        let Some((transport, endpoint)) = name.split_once(':') else {
            return Err(ConnError::BadEndpoint(name.to_string()));
        };
        if transport.is_empty() || endpoint.is_empty() {
            return Err(ConnError::BadEndpoint(name.to_string()));
        }
        let io: Box<dyn Io> = match transport {
            "inet" => {
                let (host, port) = endpoint
                    .rsplit_once(':')
                    .ok_or_else(|| ConnError::BadEndpoint(name.to_string()))?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let host = if host.is_empty() { "localhost" } else { host };
                let port: u16 = port
                    .parse()
                    .map_err(|_| ConnError::BadEndpoint(name.to_string()))?;
                let stream = timeout(limit, TcpStream::connect((host, port)))
                    .await
                    .map_err(|_| ConnError::Timeout)??;
                Box::new(stream)
            }
            "unix" | "local" => {
                let stream = timeout(limit, UnixStream::connect(endpoint))
                    .await
                    .map_err(|_| ConnError::Timeout)??;
                Box::new(stream)
            }
            other => return Err(ConnError::BadTransport(other.to_string(), name.to_string())),
        };
        Ok(Conn { io })
    }

    /// Write one packet within `limit`.
    pub async fn send(
        &mut self,
        command: u8,
        data: &[u8],
        limit: Duration,
    ) -> Result<(), ConnError> {
        let bytes = packet(command, data);
        timeout(limit, async {
            self.io.write_all(&bytes).await?;
            self.io.flush().await
        })
        .await
        .map_err(|_| ConnError::Timeout)?
        .map_err(ConnError::Io)
    }

    /// Read one packet within `limit`: its command byte and data.
    pub async fn read(&mut self, limit: Duration) -> Result<(u8, Vec<u8>), ConnError> {
        timeout(limit, async {
            let mut len = [0u8; 4];
            self.io.read_exact(&mut len).await.map_err(io_text)?;
            let len = u32::from_be_bytes(len) as usize;
            if len < 1 {
                return Err(ConnError::BadLength(len));
            }
            if len > MAX_PACKET {
                return Err(ConnError::TooLong(len));
            }
            let mut buf = vec![0u8; len];
            self.io.read_exact(&mut buf).await.map_err(io_text)?;
            let data = buf.split_off(1);
            Ok((buf[0], data))
        })
        .await
        .map_err(|_| ConnError::Timeout)?
    }
}
