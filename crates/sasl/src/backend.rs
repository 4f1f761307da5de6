//! Where credentials are checked (`smtpd_sasl_type`): `cyrus` is
//! gatepost's password store, `dovecot` a Dovecot auth server.

use std::net::IpAddr;

use crate::dovecot::{DovecotAuth, DovecotPath};
use crate::mechanism::{Credentials, Mechanism};
use crate::passwd::PasswdFile;

/// The result of one authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Logged in as `username`.
    Ok { username: String },
    /// Wrong credentials: Postfix's reply and warning text, and the login
    /// name when the server names it (logged as `, sasl_username=`).
    Fail {
        reason: String,
        username: Option<String>,
    },
    /// The server could not tell (`454 4.7.0 Temporary authentication failure`).
    Temp { reason: String },
}

#[derive(Debug, Clone)]
pub enum Backend {
    Passwd { file: PasswdFile, realm: String },
    Dovecot(DovecotAuth),
}

impl Backend {
    /// `sasl_type` as `smtpd_sasl_type`; `sasl_path` as `smtpd_sasl_path`
    /// (dovecot: relative to `queue_directory`); `passwd_file` for cyrus;
    /// `realm` is `smtpd_sasl_local_domain`.
    pub fn new(
        sasl_type: &str,
        sasl_path: &str,
        queue_directory: &std::path::Path,
        passwd_file: &str,
        realm: &str,
    ) -> Result<Backend, String> {
        match sasl_type {
            "cyrus" => Ok(Backend::Passwd {
                file: PasswdFile::new(passwd_file),
                realm: realm.to_string(),
            }),
            "dovecot" => Ok(Backend::Dovecot(DovecotAuth::new(DovecotPath::parse(
                sasl_path,
                queue_directory,
            )))),
            other => Err(format!("unsupported SASL server implementation: {other}")),
        }
    }

    /// Check credentials given with `_mechanism` by a client at `client`
    /// (`secured`: the session is encrypted). Both backends check the
    /// name and password, whichever mechanism collected them.
    pub async fn authenticate(
        &self,
        _mechanism: Mechanism,
        creds: &Credentials,
        client: IpAddr,
        secured: bool,
    ) -> Outcome {
        match self {
            Backend::Passwd { file, realm } => {
                let key = if creds.username.contains('@') || realm.is_empty() {
                    creds.username.clone()
                } else {
                    format!("{}@{realm}", creds.username)
                };
                let file = file.clone();
                let password = creds.password.clone();
                let checked =
                    tokio::task::spawn_blocking(move || file.check(&key, &password)).await;
                match checked {
                    Ok(Ok(true)) => Outcome::Ok {
                        username: creds.username.clone(),
                    },
                    Ok(Ok(false)) => Outcome::Fail {
                        reason: "authentication failure".into(),
                        username: None,
                    },
                    Ok(Err(e)) => Outcome::Temp {
                        reason: e.to_string(),
                    },
                    Err(e) => Outcome::Temp {
                        reason: e.to_string(),
                    },
                }
            }
            Backend::Dovecot(auth) => auth.authenticate(creds, client, secured).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: &str, password: &str) -> Credentials {
        Credentials {
            authzid: String::new(),
            username: user.into(),
            password: password.into(),
        }
    }

    #[tokio::test]
    async fn passwd_store_with_local_domain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sasl_passwd");
        PasswdFile::new(&path)
            .set("alice@example.com", "pw")
            .unwrap();
        let backend = Backend::new(
            "cyrus",
            "smtpd",
            dir.path(),
            &path.display().to_string(),
            "example.com",
        )
        .unwrap();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for user in ["alice", "alice@example.com"] {
            assert_eq!(
                backend
                    .authenticate(Mechanism::Plain, &creds(user, "pw"), ip, true)
                    .await,
                Outcome::Ok {
                    username: user.into()
                }
            );
        }
        assert_eq!(
            backend
                .authenticate(Mechanism::Login, &creds("alice", "bad"), ip, true)
                .await,
            Outcome::Fail {
                reason: "authentication failure".into(),
                username: None
            }
        );
        assert!(Backend::new("sql", "", dir.path(), "", "").is_err());
    }
}
