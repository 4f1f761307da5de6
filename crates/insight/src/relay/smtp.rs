//! A minimal blocking SMTP client for probing: connect, read multi-line
//! replies, send one command at a time. It speaks to whatever server the
//! operator names; nothing here is specific to gatepost.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// One SMTP reply: the code and the text of every line.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// The reply as one line: `250 2.1.5 Ok` (continuation lines joined by ` / `).
    pub fn one_line(&self) -> String {
        let text = self.lines.join(" / ");
        if text.is_empty() {
            self.code.to_string()
        } else {
            format!("{} {}", self.code, text)
        }
    }

    pub fn positive(&self) -> bool {
        (200..400).contains(&self.code)
    }
}

pub struct Session {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    pub peer: SocketAddr,
}

impl Session {
    pub fn connect(addr: SocketAddr, timeout: Duration) -> Result<Session> {
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .with_context(|| format!("connect to {addr}"))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let writer = stream.try_clone()?;
        Ok(Session {
            reader: BufReader::new(stream),
            writer,
            peer: addr,
        })
    }

    pub fn read_reply(&mut self) -> Result<Reply> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .context("reading the reply")?;
            if n == 0 {
                bail!("connection closed by {}", self.peer);
            }
            let line = line.trim_end_matches(['\r', '\n']);
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .with_context(|| format!("malformed reply line {line:?}"))?;
            lines.push(line.get(4..).unwrap_or("").to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(Reply { code, lines });
            }
        }
    }

    /// Send one command line and read its reply.
    pub fn command(&mut self, line: &str) -> Result<Reply> {
        self.send_raw(&format!("{line}\r\n"))?;
        self.read_reply()
    }

    pub fn send_raw(&mut self, text: &str) -> Result<()> {
        self.writer
            .write_all(text.as_bytes())
            .with_context(|| format!("writing to {}", self.peer))
    }
}
