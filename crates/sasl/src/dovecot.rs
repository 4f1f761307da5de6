//! A client of Dovecot's authentication protocol (the protocol Postfix's
//! `smtpd_sasl_type = dovecot` speaks): `VERSION`/`CPID` handshake, the
//! server's `MECH` list, then one `AUTH` answered by `OK` or `FAIL`. The
//! credentials are collected by our own mechanism exchange and handed to
//! Dovecot as a PLAIN response, so LOGIN works against any Dovecot.
//! One connection per authentication.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::backend::Outcome;
use crate::mechanism::Credentials;

const TIMEOUT: Duration = Duration::from_secs(30);

/// Where the auth server listens (`smtpd_sasl_path`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DovecotPath {
    Unix(PathBuf),
    Inet(String),
}

impl DovecotPath {
    /// `inet:host:port`, `unix:path` or a path (relative to
    /// `queue_directory`, e.g. `private/auth`).
    pub fn parse(value: &str, queue_directory: &Path) -> DovecotPath {
        if let Some(addr) = value.strip_prefix("inet:") {
            return DovecotPath::Inet(addr.to_string());
        }
        let path = Path::new(value.strip_prefix("unix:").unwrap_or(value));
        if path.is_absolute() {
            DovecotPath::Unix(path.to_path_buf())
        } else {
            DovecotPath::Unix(queue_directory.join(path))
        }
    }
}

impl std::fmt::Display for DovecotPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DovecotPath::Unix(p) => write!(f, "{}", p.display()),
            DovecotPath::Inet(a) => write!(f, "inet:{a}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DovecotAuth {
    path: DovecotPath,
}

/// `\t` and `\n` may not appear in a field; Dovecot escapes with `\x01`.
fn escape(value: &str) -> String {
    value
        .replace('\x01', "\x011")
        .replace('\t', "\x01t")
        .replace('\n', "\x01n")
}

impl DovecotAuth {
    pub fn new(path: DovecotPath) -> DovecotAuth {
        DovecotAuth { path }
    }

    /// Check credentials (collected by any of our mechanisms).
    pub async fn authenticate(
        &self,
        creds: &Credentials,
        client: IpAddr,
        secured: bool,
    ) -> Outcome {
        let result = match &self.path {
            DovecotPath::Unix(p) => match tokio::net::UnixStream::connect(p).await {
                Ok(s) => self.exchange(s, creds, client, secured).await,
                Err(e) => Err(e.to_string()),
            },
            DovecotPath::Inet(a) => match tokio::net::TcpStream::connect(a.as_str()).await {
                Ok(s) => self.exchange(s, creds, client, secured).await,
                Err(e) => Err(e.to_string()),
            },
        };
        result.unwrap_or_else(|e| Outcome::Temp {
            reason: format!("Connection lost to authentication server: {e}"),
        })
    }

    async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
        creds: &Credentials,
        client: IpAddr,
        secured: bool,
    ) -> Result<Outcome, String> {
        let mut conn = BufReader::new(stream);
        let hello = format!("VERSION\t1\t2\nCPID\t{}\n", std::process::id());
        write(&mut conn, &hello).await?;
        let mut plain_offered = false;
        loop {
            let line = read_line(&mut conn).await?;
            let fields: Vec<&str> = line.split('\t').collect();
            match fields.as_slice() {
                ["VERSION", major, ..] if *major != "1" => {
                    return Err(format!("unsupported protocol version {major}"))
                }
                ["MECH", name, ..] if name.eq_ignore_ascii_case("PLAIN") => plain_offered = true,
                ["DONE", ..] => break,
                _ => {}
            }
        }
        if !plain_offered {
            return Err("the server does not offer PLAIN".into());
        }
        let mut response = Vec::new();
        response.extend_from_slice(creds.authzid.as_bytes());
        response.push(0);
        response.extend_from_slice(creds.username.as_bytes());
        response.push(0);
        response.extend_from_slice(creds.password.as_bytes());
        let resp = base64::engine::general_purpose::STANDARD.encode(response);
        let mut request = format!("AUTH\t1\tPLAIN\tservice=smtp\tnologin\trip={}", client);
        if secured {
            request.push_str("\tsecured");
        }
        request.push_str(&format!("\tresp={resp}\n"));
        write(&mut conn, &request).await?;
        let line = read_line(&mut conn).await?;
        let fields: Vec<&str> = line.split('\t').collect();
        let param = |key: &str| {
            fields
                .iter()
                .skip(2)
                .find_map(|f| f.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
                .map(str::to_string)
        };
        match fields.first().copied() {
            Some("OK") => Ok(Outcome::Ok {
                username: param("user").unwrap_or_else(|| creds.username.clone()),
            }),
            Some("FAIL") if fields.contains(&"temp") => Ok(Outcome::Temp {
                reason: param("reason").unwrap_or_else(|| "(reason unavailable)".into()),
            }),
            Some("FAIL") => Ok(Outcome::Fail {
                reason: param("reason").unwrap_or_else(|| "(reason unavailable)".into()),
                username: param("user"),
            }),
            _ => Err(format!("unexpected reply: {}", escape(&line))),
        }
    }
}

async fn write<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut BufReader<S>,
    text: &str,
) -> Result<(), String> {
    match tokio::time::timeout(TIMEOUT, conn.get_mut().write_all(text.as_bytes())).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("timeout".into()),
    }
}

async fn read_line<S: AsyncRead + Unpin>(conn: &mut BufReader<S>) -> Result<String, String> {
    let mut line = String::new();
    match tokio::time::timeout(TIMEOUT, conn.read_line(&mut line)).await {
        Err(_) => Err("timeout".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(0)) => Err("connection closed".into()),
        Ok(Ok(_)) => Ok(line.trim_end_matches(['\r', '\n']).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let q = Path::new("/var/spool/postfix");
        assert_eq!(
            DovecotPath::parse("private/auth", q),
            DovecotPath::Unix(PathBuf::from("/var/spool/postfix/private/auth"))
        );
        assert_eq!(
            DovecotPath::parse("inet:127.0.0.1:12345", q),
            DovecotPath::Inet("127.0.0.1:12345".into())
        );
    }
}
