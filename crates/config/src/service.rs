//! `SmtpdService`: one SMTP listener from `master.cf` (or the built-in
//! defaults), and the `service` field syntax: `smtp`, `submission`, `smtps`,
//! `submissions`, a bare port, or `host:port` (`[ipv6]:port`).

/// One `inet` service of type `smtpd` (from master.cf or the embedded default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpdService {
    /// The service field as written: `smtp`, `submission`, `2525`, `127.0.0.1:2525`.
    pub name: String,
    /// Host part when given as `host:port` (IPv6 without brackets); `None`
    /// means every `inet_interfaces` address.
    pub host: Option<String>,
    pub port: u16,
    /// `-o name=value` overrides, in order.
    pub overrides: Vec<(String, String)>,
    /// master.cf's maxproc: `None` for `-` (`default_process_limit`),
    /// `Some(0)` for no limit.
    pub process_limit: Option<usize>,
}

/// Port of a well-known service name or a decimal port. Port `0` is a
/// gatepost extension: listen on an ephemeral port (the server prints the
/// one it got), which tests and benchmarks use.
fn port_of(service: &str) -> Option<u16> {
    match service {
        "smtp" => Some(25),
        "submission" => Some(587),
        "smtps" | "submissions" => Some(465),
        _ => service.parse::<u16>().ok(),
    }
}

/// Split a master.cf `inet` service field into optional host and port.
/// `Err` names the unknown part in Postfix's words (`unknown service: X/tcp`).
pub(crate) fn parse_service_field(field: &str) -> Result<(Option<String>, u16), String> {
    let (host, service) = match field.rsplit_once(':') {
        Some((host, service)) => {
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            if host.is_empty() {
                return Err(format!("missing host name in service: {field}"));
            }
            (Some(host.to_string()), service)
        }
        None => (None, field),
    };
    let port = port_of(service).ok_or_else(|| format!("unknown service: {service}/tcp"))?;
    Ok((host, port))
}

impl SmtpdService {
    /// Postfix's stock `smtp inet n - y - - smtpd`: port 25 on every
    /// `inet_interfaces` address.
    pub fn postfix_default() -> SmtpdService {
        SmtpdService {
            name: "smtp".to_string(),
            host: None,
            port: 25,
            overrides: Vec::new(),
            process_limit: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_service_field;

    /// (field, expected (host, port) or error)
    type ServiceCase = (
        &'static str,
        Result<(Option<&'static str>, u16), &'static str>,
    );

    #[test]
    fn service_fields() {
        let cases: &[ServiceCase] = &[
            ("smtp", Ok((None, 25))),
            ("submission", Ok((None, 587))),
            ("smtps", Ok((None, 465))),
            ("submissions", Ok((None, 465))),
            ("2525", Ok((None, 2525))),
            ("127.0.0.1:2525", Ok((Some("127.0.0.1"), 2525))),
            ("127.0.0.1:smtp", Ok((Some("127.0.0.1"), 25))),
            ("[::1]:25", Ok((Some("::1"), 25))),
            ("localhost:587", Ok((Some("localhost"), 587))),
            ("pop3", Err("unknown service: pop3/tcp")),
            ("127.0.0.1:0", Ok((Some("127.0.0.1"), 0))),
            ("70000", Err("unknown service: 70000/tcp")),
            (":25", Err("missing host name in service: :25")),
        ];
        for (input, want) in cases {
            let got = parse_service_field(input);
            let want = want
                .map(|(h, p)| (h.map(str::to_string), p))
                .map_err(str::to_string);
            assert_eq!(got, want, "input {input:?}");
        }
    }
}
