//! `smtpd_tls_protocols` / `smtpd_tls_mandatory_protocols`: Postfix's two
//! forms, the exclusion list (`!SSLv2, !SSLv3, !TLSv1`) and the range
//! (`>=TLSv1.2`, `<=TLSv1.3`), reduced to the versions rustls speaks
//! (TLS 1.2 and 1.3).

use crate::TlsError;

/// The TLS versions a service accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolFloor {
    pub tls12: bool,
    pub tls13: bool,
}

const KNOWN: &[&str] = &["SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

fn rank(name: &str, param: &str) -> Result<usize, TlsError> {
    KNOWN
        .iter()
        .position(|k| k.eq_ignore_ascii_case(name))
        .ok_or_else(|| TlsError::Protocols {
            name: param.to_string(),
            detail: format!("unknown TLS protocol name \"{name}\""),
        })
}

/// Parse one protocol parameter's value (`param` names it in errors).
pub fn parse_protocols(value: &str, param: &str) -> Result<ProtocolFloor, TlsError> {
    let mut allowed = [true; 6];
    for word in value.split([',', ' ', '\t', ':']).filter(|w| !w.is_empty()) {
        if let Some(v) = word.strip_prefix(">=") {
            let r = rank(v, param)?;
            allowed.iter_mut().take(r).for_each(|a| *a = false);
        } else if let Some(v) = word.strip_prefix("<=") {
            let r = rank(v, param)?;
            allowed.iter_mut().skip(r + 1).for_each(|a| *a = false);
        } else if let Some(v) = word.strip_prefix('!') {
            allowed[rank(v, param)?] = false;
        } else {
            // A bare name lists a protocol to allow: everything not listed
            // is excluded (the pre-2.6 inclusion form).
            let r = rank(word, param)?;
            if allowed.iter().all(|a| *a) {
                allowed = [false; 6];
            }
            allowed[r] = true;
        }
    }
    let floor = ProtocolFloor {
        tls12: allowed[4],
        tls13: allowed[5],
    };
    if !floor.tls12 && !floor.tls13 {
        return Err(TlsError::Protocols {
            name: param.to_string(),
            detail: format!("\"{value}\" leaves no protocol gatepost supports (TLSv1.2, TLSv1.3)"),
        });
    }
    Ok(floor)
}

impl ProtocolFloor {
    pub(crate) fn versions(self) -> Vec<&'static rustls::SupportedProtocolVersion> {
        let mut out = Vec::new();
        if self.tls13 {
            out.push(&rustls::version::TLS13);
        }
        if self.tls12 {
            out.push(&rustls::version::TLS12);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_forms() {
        let both = ProtocolFloor {
            tls12: true,
            tls13: true,
        };
        assert_eq!(parse_protocols("!SSLv2, !SSLv3", "p").unwrap(), both);
        assert_eq!(parse_protocols(">=TLSv1.2", "p").unwrap(), both);
        assert_eq!(parse_protocols("", "p").unwrap(), both);
        let only13 = parse_protocols(">=TLSv1.3", "p").unwrap();
        assert!(only13.tls13 && !only13.tls12);
        let no13 = parse_protocols("!SSLv2 !SSLv3 !TLSv1.3", "p").unwrap();
        assert!(no13.tls12 && !no13.tls13);
        assert!(parse_protocols("<=TLSv1.1", "p").is_err());
        assert!(parse_protocols("!TLSv9", "p").is_err());
    }
}
