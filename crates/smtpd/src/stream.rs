//! The client connection's byte stream: reading command lines with
//! `smtpd_timeout`, telling whether the client has sent more than it should
//! have (unread input waiting: the "improper pipelining" test), reading DATA
//! content through the framer, and writing replies.
//!
//! The stream is a TCP connection, or any byte stream (standard input and
//! output for `sendmail -bs`); only a socket can be peeked for waiting input.
//!
//! Bounds: command lines are limited by `line_length_limit` (LineReader);
//! each socket read is at most 16 KiB; every read and write has a deadline.
//! The read buffer starts at 512 bytes (an idle session waits on that
//! much), doubles while reads fill it (DATA), and halves again when reads
//! use less than a quarter of it.

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use gatepost_proto::{CommandLine, DataReader, LineReader, Reply};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A client byte stream.
pub trait ClientIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ClientIo for T {}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("timeout")]
    Timeout,
    #[error("lost connection")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub struct ClientStream {
    io: Box<dyn ClientIo>,
    /// The socket's descriptor, for peeking at waiting input (owned by `io`).
    peek_fd: Option<RawFd>,
    lines: LineReader,
    timeout: Duration,
    /// The buffer socket reads go into (see the module header).
    read_buf: Vec<u8>,
    /// Bytes the last read put into it.
    last_read: usize,
}

/// The read buffer's smallest and largest size.
const READ_MIN: usize = 512;
const READ_MAX: usize = 16384;

impl ClientStream {
    pub fn new(sock: TcpStream, line_length_limit: usize, timeout: Duration) -> ClientStream {
        let fd = sock.as_raw_fd();
        ClientStream {
            io: Box::new(sock),
            peek_fd: Some(fd),
            lines: LineReader::new(line_length_limit),
            timeout,
            read_buf: vec![0; READ_MIN],
            last_read: 0,
        }
    }

    /// A stream that cannot be peeked (pipes): only input already read
    /// counts as waiting.
    pub fn from_io(
        io: Box<dyn ClientIo>,
        line_length_limit: usize,
        timeout: Duration,
    ) -> ClientStream {
        ClientStream {
            io,
            peek_fd: None,
            lines: LineReader::new(line_length_limit),
            timeout,
            read_buf: vec![0; READ_MIN],
            last_read: 0,
        }
    }

    /// Unread input is waiting: in our buffer, or in the socket.
    pub fn input_pending(&self) -> bool {
        self.lines.has_pending() || self.socket_has_data()
    }

    /// Up to `max` bytes of the waiting input, for the log line.
    pub fn pending_preview(&self, max: usize) -> Vec<u8> {
        let mut out: Vec<u8> = self.lines.pending().iter().take(max).copied().collect();
        if out.len() < max {
            let mut buf = vec![0u8; max - out.len()];
            let n = self.peek(&mut buf);
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    fn peek(&self, buf: &mut [u8]) -> usize {
        self.peek_fd.map_or(0, |fd| peek_socket(fd, buf))
    }

    fn socket_has_data(&self) -> bool {
        let mut probe = [0u8; 1];
        self.peek(&mut probe) > 0
    }

    /// Read the next command line.
    pub async fn read_line(&mut self) -> Result<CommandLine, StreamError> {
        loop {
            if let Some(line) = self.lines.next_line() {
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> Result<(), StreamError> {
        let n = self.read_some().await?;
        self.lines.feed(&self.read_buf[..n]);
        Ok(())
    }

    /// One socket read into `read_buf` (sized first by how full the last
    /// read filled it); the number of bytes read.
    async fn read_some(&mut self) -> Result<usize, StreamError> {
        let size = self.read_buf.len();
        if self.last_read == size && size < READ_MAX {
            self.read_buf.resize(size * 2, 0);
        } else if self.last_read < size / 4 && size > READ_MIN {
            self.read_buf.truncate(size / 2);
            self.read_buf.shrink_to_fit();
        }
        let buf = &mut self.read_buf;
        let n = match tokio::time::timeout(self.timeout, self.io.read(buf)).await {
            Err(_) => return Err(StreamError::Timeout),
            Ok(Err(e)) => return Err(StreamError::Io(e)),
            Ok(Ok(n)) => n,
        };
        if n == 0 {
            return Err(StreamError::Closed);
        }
        self.last_read = n;
        Ok(n)
    }

    /// Read message content until the end-of-data line, handing each line
    /// (or piece of a long line, with `false`) to `sink` straight from the
    /// read buffer. Input after the end stays buffered for the next command.
    pub async fn read_data(
        &mut self,
        framer: &mut DataReader,
        mut sink: impl FnMut(&[u8], bool),
    ) -> Result<(), StreamError> {
        // What came in with the DATA command line (pipelining) first.
        let input = self.lines.take_pending();
        if !input.is_empty() {
            if let Some(used) = framer.feed_lines(&input, &mut sink) {
                self.lines.feed(&input[used..]);
                return Ok(());
            }
        }
        loop {
            let n = self.read_some().await?;
            if let Some(used) = framer.feed_lines(&self.read_buf[..n], &mut sink) {
                self.lines.feed(&self.read_buf[used..n]);
                return Ok(());
            }
        }
    }

    /// Read exactly `size` bytes of BDAT chunk content (input already
    /// buffered first), handing them to `sink` piece by piece; `read` is
    /// raised as bytes arrive (for `lost connection after BDAT (N bytes)`).
    /// Input after the chunk stays buffered for the next command.
    pub async fn read_chunk(
        &mut self,
        size: u64,
        read: &mut u64,
        mut sink: impl FnMut(&[u8]),
    ) -> Result<(), StreamError> {
        let mut left = size;
        loop {
            let input = self.lines.take_pending();
            let take = input.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            if take > 0 {
                sink(&input[..take]);
                left -= take as u64;
                *read += take as u64;
            }
            self.lines.feed(&input[take..]);
            if left == 0 {
                return Ok(());
            }
            self.fill().await?;
        }
    }

    pub async fn write_reply(&mut self, reply: &Reply) -> Result<(), StreamError> {
        let wire = reply.to_wire();
        match tokio::time::timeout(self.timeout, self.io.write_all(wire.as_bytes())).await {
            Err(_) => Err(StreamError::Timeout),
            Ok(r) => r.map_err(StreamError::Io),
        }
    }

    /// Switch the connection to TLS (STARTTLS or wrapper mode). Input the
    /// client sent before the handshake is thrown away, never read as TLS
    /// plaintext (CVE-2011-0411), and peeking at the socket stops (it
    /// would see ciphertext). On failure the stream is unusable.
    pub async fn start_tls(
        &mut self,
        acceptor: &gatepost_tls::TlsAcceptor,
        timeout: Duration,
    ) -> Result<gatepost_tls::TlsSummary, std::io::Error> {
        self.lines.discard_pending();
        self.peek_fd = None;
        let plain = std::mem::replace(&mut self.io, Box::new(tokio::io::empty()));
        let tls = match tokio::time::timeout(timeout, acceptor.accept(plain)).await {
            Err(_) => return Err(std::io::ErrorKind::TimedOut.into()),
            Ok(r) => r?,
        };
        let summary = gatepost_tls::TlsSummary::of(tls.get_ref().1);
        self.io = Box::new(tls);
        Ok(summary)
    }

    pub async fn shutdown(&mut self) {
        let _ = self.io.flush().await;
        let _ = self.io.shutdown().await;
    }
}

/// Non-blocking MSG_PEEK on a socket: how many bytes are waiting (up to
/// `buf.len()`), 0 when none or on error.
fn peek_socket(fd: RawFd, buf: &mut [u8]) -> usize {
    use nix::sys::socket::{recv, MsgFlags};
    recv(fd, buf, MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT).unwrap_or(0)
}
