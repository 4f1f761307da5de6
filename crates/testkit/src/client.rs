//! A plain blocking SMTP client for tests: binds the chosen loopback source
//! address, reads multi-line replies, and can send raw bytes (for bare LF,
//! pipelining and smuggling tests).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// A reply: code and lines (without the `CODE-` prefixes).
#[derive(Debug, Clone)]
pub struct SmtpReply {
    pub code: u16,
    /// Complete lines as received, e.g. `250-PIPELINING`.
    pub lines: Vec<String>,
}

impl SmtpReply {
    pub fn last_line(&self) -> &str {
        self.lines.last().map(String::as_str).unwrap_or("")
    }

    pub fn full(&self) -> String {
        self.lines.join("\n")
    }
}

pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    /// Connect from 127.0.0.1.
    pub fn connect(server: SocketAddr) -> Result<Client> {
        Client::connect_from("127.0.0.1", server)
    }

    /// Connect from a chosen loopback source address (e.g. `127.0.0.2` to
    /// play a client outside mynetworks).
    pub fn connect_from(source: &str, server: SocketAddr) -> Result<Client> {
        let ip: IpAddr = source.parse().context("source address")?;
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        socket.bind(&SocketAddr::new(ip, 0).into())?;
        socket.connect_timeout(&server.into(), Duration::from_secs(5))?;
        let stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        stream.set_write_timeout(Some(Duration::from_secs(20)))?;
        let writer = stream.try_clone()?;
        Ok(Client {
            reader: BufReader::new(stream),
            writer,
        })
    }

    pub fn read_reply(&mut self) -> Result<SmtpReply> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line)?;
            if n == 0 {
                bail!("connection closed (after {:?})", lines);
            }
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            let more = line.as_bytes().get(3) == Some(&b'-');
            let code: u16 = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .context("reply code")?;
            lines.push(line);
            if !more {
                return Ok(SmtpReply { code, lines });
            }
        }
    }

    /// Send one command line (CRLF added) and read the reply.
    pub fn command(&mut self, line: &str) -> Result<SmtpReply> {
        self.send_line(line)?;
        self.read_reply()
    }

    pub fn send_line(&mut self, line: &str) -> Result<()> {
        self.send_raw(format!("{line}\r\n").as_bytes())
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()?;
        Ok(())
    }

    /// Whether the server closed the connection (reads until EOF or timeout).
    pub fn is_closed(&mut self) -> bool {
        let _ = self.writer.set_read_timeout(Some(Duration::from_secs(5)));
        let mut buf = [0u8; 256];
        matches!(self.reader.read(&mut buf), Ok(0))
    }

    /// Send a whole message after MAIL/RCPT: DATA, content, final dot.
    pub fn send_message(&mut self, content: &str) -> Result<SmtpReply> {
        let r = self.command("DATA")?;
        if r.code != 354 {
            return Ok(r);
        }
        let mut body = String::new();
        for line in content.lines() {
            if line.starts_with('.') {
                body.push('.');
            }
            body.push_str(line);
            body.push_str("\r\n");
        }
        body.push_str(".\r\n");
        self.send_raw(body.as_bytes())?;
        self.read_reply()
    }
}
