//! The PLAIN (RFC 4616) and LOGIN mechanism exchanges: what to send the
//! client next, and the credentials once it has said everything. Bytes in
//! and out are decoded; base64 is the SMTP layer's business
//! ([`decode_response`] helps with it).

use base64::Engine;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
}

impl Mechanism {
    pub fn parse(name: &str) -> Option<Mechanism> {
        if name.eq_ignore_ascii_case("PLAIN") {
            Some(Mechanism::Plain)
        } else if name.eq_ignore_ascii_case("LOGIN") {
            Some(Mechanism::Login)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }
}

/// A login name and password the client gave.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Authorization identity (PLAIN only; empty when not given).
    pub authzid: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What happens next in the exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this challenge (raw bytes; base64 on the wire).
    Challenge(Vec<u8>),
    /// The client has said everything.
    Done(Credentials),
    /// The response is malformed: the reason, as Postfix's failure text.
    Malformed(&'static str),
}

/// One mechanism exchange in progress.
#[derive(Debug)]
pub struct Exchange {
    mechanism: Mechanism,
    login_user: Option<String>,
}

fn text(bytes: &[u8]) -> Option<String> {
    String::from_utf8(bytes.to_vec()).ok()
}

impl Exchange {
    /// Start; `initial` is the initial response of `AUTH MECH RESPONSE`.
    pub fn start(mechanism: Mechanism, initial: Option<&[u8]>) -> (Exchange, Step) {
        let mut ex = Exchange {
            mechanism,
            login_user: None,
        };
        let step = match (mechanism, initial) {
            (_, Some(data)) => ex.respond(data),
            (Mechanism::Plain, None) => Step::Challenge(Vec::new()),
            (Mechanism::Login, None) => Step::Challenge(b"Username:".to_vec()),
        };
        (ex, step)
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The client's next response.
    pub fn respond(&mut self, data: &[u8]) -> Step {
        match self.mechanism {
            Mechanism::Plain => plain(data),
            Mechanism::Login => match self.login_user.take() {
                None => match text(data) {
                    Some(user) => {
                        self.login_user = Some(user);
                        Step::Challenge(b"Password:".to_vec())
                    }
                    None => Step::Malformed("authentication failure"),
                },
                Some(username) => match text(data) {
                    Some(password) => Step::Done(Credentials {
                        authzid: String::new(),
                        username,
                        password,
                    }),
                    None => Step::Malformed("authentication failure"),
                },
            },
        }
    }
}

/// `[authzid] NUL authcid NUL passwd`.
fn plain(data: &[u8]) -> Step {
    let parts: Vec<&[u8]> = data.split(|b| *b == 0).collect();
    match parts.as_slice() {
        [authz, user, pass] if !user.is_empty() => match (text(authz), text(user), text(pass)) {
            (Some(authzid), Some(username), Some(password)) => Step::Done(Credentials {
                authzid,
                username,
                password,
            }),
            _ => Step::Malformed("authentication failure"),
        },
        _ => Step::Malformed("authentication failure"),
    }
}

/// Decode a client response line: base64, or `=` for an empty initial
/// response. `None` when it is not base64.
pub fn decode_response(line: &str) -> Option<Vec<u8>> {
    let line = line.trim();
    if line == "=" {
        return Some(Vec::new());
    }
    base64::engine::general_purpose::STANDARD.decode(line).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_with_initial_response() {
        let (_, step) = Exchange::start(Mechanism::Plain, Some(b"\0alice\0secret"));
        match step {
            Step::Done(c) => {
                assert_eq!(c.username, "alice");
                assert_eq!(c.password, "secret");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plain_without_initial_response_asks_empty_challenge() {
        let (mut ex, step) = Exchange::start(Mechanism::Plain, None);
        assert_eq!(step, Step::Challenge(Vec::new()));
        assert!(matches!(ex.respond(b"bob\0bob\0pw"), Step::Done(_)));
        assert!(matches!(ex.respond(b"nonul"), Step::Malformed(_)));
    }

    #[test]
    fn login_asks_username_then_password() {
        let (mut ex, step) = Exchange::start(Mechanism::Login, None);
        assert_eq!(step, Step::Challenge(b"Username:".to_vec()));
        assert_eq!(ex.respond(b"alice"), Step::Challenge(b"Password:".to_vec()));
        match ex.respond(b"pw") {
            Step::Done(c) => {
                assert_eq!((c.username.as_str(), c.password.as_str()), ("alice", "pw"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decoding() {
        assert_eq!(decode_response("="), Some(Vec::new()));
        assert_eq!(decode_response("YWxpY2U="), Some(b"alice".to_vec()));
        assert_eq!(decode_response("not base64!"), None);
    }
}
