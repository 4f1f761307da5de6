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
//! An idle session holds no read buffer: before waiting for the next
//! command the buffers are given back, and on a plain socket the wait is
//! for the socket to become readable; the buffer is then taken at 512
//! bytes, doubles while reads fill it (DATA), and halves again when reads
//! use less than a quarter of it.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use gatepost_proto::{CommandLine, DataReader, LineReader, Reply};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
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
    io: Io,
    lines: LineReader,
    timeout: Duration,
    /// The buffer socket reads go into (see the module header); empty while
    /// the session waits for a command.
    read_buf: Vec<u8>,
    /// Bytes the last read put into it.
    last_read: usize,
}

/// The connection: a plain socket (which can be peeked at and waited on
/// without a buffer), or any other stream (TLS, pipes).
enum Io {
    Plain(TcpStream),
    Other(Box<dyn ClientIo>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Other(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Other(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Other(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Other(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Other(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Other(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// The read buffer's smallest and largest size.
const READ_MIN: usize = 512;
const READ_MAX: usize = 16384;

impl ClientStream {
    pub fn new(sock: TcpStream, line_length_limit: usize, timeout: Duration) -> ClientStream {
        ClientStream {
            io: Io::Plain(sock),
            lines: LineReader::new(line_length_limit),
            timeout,
            read_buf: Vec::new(),
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
            io: Io::Other(io),
            lines: LineReader::new(line_length_limit),
            timeout,
            read_buf: Vec::new(),
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
        match &self.io {
            Io::Plain(sock) => peek_socket(sock.as_raw_fd(), buf),
            Io::Other(_) => 0,
        }
    }

    fn socket_has_data(&self) -> bool {
        let mut probe = [0u8; 1];
        self.peek(&mut probe) > 0
    }

    /// Read the next command line. While it waits for one, the session
    /// holds no buffer memory.
    pub async fn read_line(&mut self) -> Result<CommandLine, StreamError> {
        loop {
            if let Some(line) = self.lines.next_line() {
                return Ok(line);
            }
            self.read_buf = Vec::new();
            self.last_read = 0;
            self.lines.release_idle();
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> Result<(), StreamError> {
        let n = self.read_some().await?;
        self.lines.feed(&self.read_buf[..n]);
        Ok(())
    }

    /// One socket read into `read_buf` (sized first by how full the last
    /// read filled it, taken when there is none); the number of bytes read.
    async fn read_some(&mut self) -> Result<usize, StreamError> {
        let size = self.read_buf.len();
        if self.last_read == size && size > 0 && size < READ_MAX {
            self.read_buf.resize(size * 2, 0);
        } else if self.last_read < size / 4 && size > READ_MIN {
            self.read_buf.truncate(size / 2);
            self.read_buf.shrink_to_fit();
        }
        let timeout = self.timeout;
        let read = async {
            if self.read_buf.is_empty() {
                if let Io::Plain(sock) = &self.io {
                    sock.readable().await?;
                }
                self.read_buf.resize(READ_MIN, 0);
            }
            self.io.read(&mut self.read_buf).await
        };
        let n = match tokio::time::timeout(timeout, read).await {
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
        let plain = std::mem::replace(&mut self.io, Io::Other(Box::new(tokio::io::empty())));
        let tls = match tokio::time::timeout(timeout, acceptor.accept(plain)).await {
            Err(_) => return Err(std::io::ErrorKind::TimedOut.into()),
            Ok(r) => r?,
        };
        let summary = gatepost_tls::TlsSummary::of(tls.get_ref().1);
        self.io = Io::Other(Box::new(tls));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;

    /// A stream waiting for a command holds no read buffer; the command
    /// that then arrives is read whole.
    #[tokio::test]
    async fn a_stream_waiting_for_a_command_holds_no_read_buffer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (sock, _) = listener.accept().await.unwrap();
        let mut stream = ClientStream::new(sock, 2048, Duration::from_secs(30));
        client.write_all(b"EHLO a.example\r\n").await.unwrap();
        assert_eq!(stream.read_line().await.unwrap().bytes, b"EHLO a.example");
        assert_eq!(stream.read_buf.len(), READ_MIN);

        let mut cx = Context::from_waker(std::task::Waker::noop());
        {
            let mut waiting = std::pin::pin!(stream.read_line());
            assert!(waiting.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(stream.read_buf.capacity(), 0);

        client.write_all(b"NOOP\r\n").await.unwrap();
        assert_eq!(stream.read_line().await.unwrap().bytes, b"NOOP");
    }
}
