//! `master.cf` reading: `service type private unpriv chroot wakeup maxproc
//! command [args]`, with the same comment and continuation rules as
//! `main.cf`. `inet` services whose command is `smtpd` become
//! [`SmtpdService`]s with their maxproc and `-o name=value` /
//! `-o { name = value }` overrides; every other service is accepted and
//! ignored with a warning, but `unix` services whose command is `pipe`,
//! which become [`PipeService`]s (delivery transports). Every service's name and `-o` options are kept
//! too, for the load-time report of unused parameters and the fail-closed
//! check.

use crate::error::ConfigError;
use crate::lex::logical_lines;
use crate::pipe_service::PipeService;
use crate::service::{parse_service_field, SmtpdService};

/// The parts of master.cf gatepost uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MasterCf {
    pub services: Vec<SmtpdService>,
    pub warnings: Vec<String>,
    /// Every service's name (delivery transports too), which makes
    /// per-service parameters such as `relay_destination_rate_delay` known.
    pub service_names: Vec<String>,
    /// Every `-o` option of every service, where it was written.
    pub options: Vec<MasterOption>,
    /// `unix` services that run the SMTP client under another name (a
    /// content filter's `amavis unix - - n - 2 smtp`).
    pub smtp_transports: Vec<String>,
    /// `unix` services that run the LMTP client, under any name
    /// (`dovecot-lmtp unix - - n - - lmtp`).
    pub lmtp_transports: Vec<String>,
    /// The pipe(8) delivery services.
    pub pipes: Vec<PipeService>,
}

/// One `-o name=value` of a master.cf service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MasterOption {
    pub service: String,
    /// Whether the service is an smtpd listener (the others are ignored).
    pub smtpd: bool,
    pub name: String,
    pub value: String,
    pub file: String,
    pub line: usize,
}

/// Split on whitespace; `{ ... }` groups stay one token (braces kept).
fn tokens(text: &str) -> Vec<String> {
    crate::list::split_outside_braces(text, char::is_whitespace)
}

/// Parse one `-o` argument: `name=value` or `{ name = value }`.
fn parse_override(arg: &str) -> Option<(String, String)> {
    let (name, value) = match arg.strip_prefix('{').and_then(|a| a.strip_suffix('}')) {
        Some(inner) => {
            let (name, value) = inner.split_once('=')?;
            (name.trim(), value.trim())
        }
        None => {
            let (name, value) = arg.split_once('=')?;
            (name.trim(), value)
        }
    };
    if name.is_empty() {
        return None;
    }
    Some((name.to_string(), value.to_string()))
}

/// Collect the `-o` overrides from a command's arguments.
fn overrides(
    args: &[String],
    file: &str,
    line: usize,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let value = if arg == "-o" {
            match iter.next() {
                Some(v) => v.as_str(),
                None => {
                    return Err(ConfigError::Syntax {
                        file: file.to_string(),
                        line,
                        msg: "-o option requires an argument".to_string(),
                    })
                }
            }
        } else if let Some(glued) = arg.strip_prefix("-o") {
            glued
        } else {
            continue;
        };
        let parsed = parse_override(value).ok_or_else(|| ConfigError::Syntax {
            file: file.to_string(),
            line,
            msg: format!("-o option: missing '=' after attribute name: \"{value}\""),
        })?;
        out.push(parsed);
    }
    Ok(out)
}

/// Parse master.cf text.
pub(crate) fn parse_master_cf(text: &str, file: &str) -> Result<MasterCf, ConfigError> {
    let mut result = MasterCf::default();
    for logical in logical_lines(text, file, &mut result.warnings) {
        let fields = tokens(&logical.text);
        let syntax = |msg: String| ConfigError::Syntax {
            file: file.to_string(),
            line: logical.line,
            msg,
        };
        if fields.len() < 8 {
            return Err(syntax(format!(
                "unexpected end of line: \"{}\"",
                logical.text
            )));
        }
        let (service, kind, command) = (&fields[0], &fields[1], &fields[7]);
        let args = &fields[8..];
        let smtpd = kind == "inet" && (command == "smtpd" || command == "postscreen");
        let options = if smtpd {
            overrides(args, file, logical.line)?
        } else {
            overrides(args, file, logical.line).unwrap_or_default()
        };
        result.service_names.push(service.clone());
        if kind == "unix" && command == "smtp" {
            result.smtp_transports.push(service.clone());
        }
        if kind == "unix" && command == "lmtp" {
            result.lmtp_transports.push(service.clone());
        }
        result
            .options
            .extend(options.iter().map(|(name, value)| MasterOption {
                service: service.clone(),
                smtpd,
                name: name.clone(),
                value: value.clone(),
                file: file.to_string(),
                line: logical.line,
            }));
        if smtpd && (command == "smtpd" || command == "postscreen") {
            let (host, port) = parse_service_field(service).map_err(&syntax)?;
            if command == "postscreen" {
                result.warnings.push(format!(
                    "{file}, line {}: postscreen is not implemented by gatepost; smtpd listens on {service} instead",
                    logical.line
                ));
            }
            // postscreen's own maxproc (usually 1) is not that of the
            // smtpd sessions that stand in for it.
            let process_limit =
                match fields[6].as_str() {
                    _ if command == "postscreen" => None,
                    "-" => None,
                    n => Some(n.parse::<usize>().map_err(|_| {
                        syntax(format!("field \"process limit\": bad value: \"{n}\""))
                    })?),
                };
            result.services.push(SmtpdService {
                name: service.clone(),
                host,
                port,
                overrides: options,
                process_limit,
            });
        } else if kind == "unix" && command == "smtp" {
            // The SMTP client under this name: a transport (smtp_transports).
        } else if kind == "unix" && command == "pipe" {
            result.pipes.push(PipeService::from_args(service, args));
        } else if kind == "unix" && command == "lmtp" {
            // The LMTP client under this name: a transport (lmtp_transports).
        } else {
            result.warnings.push(format!(
                "{file}, line {}: service {service}/{kind} (command {command}) is not implemented by gatepost; ignored",
                logical.line
            ));
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN_MASTER_CF: &str = "\
#
# Postfix master process configuration file.
#
# ==========================================================================
# service type  private unpriv  chroot  wakeup  maxproc command + args
#               (yes)   (yes)   (no)    (never) (100)
# ==========================================================================
smtp      inet  n       -       y       -       -       smtpd
#smtp      inet  n       -       y       -       1       postscreen
submission inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
#  -o smtpd_client_restrictions=$mua_client_restrictions
  -o { smtpd_recipient_restrictions = permit_sasl_authenticated, reject }
  -o milter_macro_daemon_name=ORIGINATING
127.0.0.1:2525 inet n - n - 10 smtpd -o smtpd_helo_required=yes -o content_filter=
pickup    unix  n       -       y       60      1       pickup
cleanup   unix  n       -       y       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
maildrop  unix  -       n       n       -       -       pipe
  flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}
amavis    unix  -       -       n       -       2       smtp
lmtp      unix  -       -       n       -       -       lmtp
dovecot-lmtp unix -     -       n       -       -       lmtp
";

    #[test]
    fn debian_style_master_cf() {
        let got = parse_master_cf(DEBIAN_MASTER_CF, "master.cf").expect("parses");
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            got.services,
            vec![
                SmtpdService::postfix_default(),
                SmtpdService {
                    name: "submission".into(),
                    host: None,
                    port: 587,
                    process_limit: None,
                    overrides: pairs(&[
                        ("syslog_name", "postfix/submission"),
                        ("smtpd_tls_security_level", "encrypt"),
                        ("smtpd_sasl_auth_enable", "yes"),
                        (
                            "smtpd_recipient_restrictions",
                            "permit_sasl_authenticated, reject"
                        ),
                        ("milter_macro_daemon_name", "ORIGINATING"),
                    ]),
                },
                SmtpdService {
                    name: "127.0.0.1:2525".into(),
                    host: Some("127.0.0.1".into()),
                    port: 2525,
                    process_limit: Some(10),
                    overrides: pairs(&[("smtpd_helo_required", "yes"), ("content_filter", "")]),
                },
            ]
        );
        assert_eq!(
            got.warnings,
            vec![
                "master.cf, line 18: service pickup/unix (command pickup) is not implemented by gatepost; ignored",
                "master.cf, line 19: service cleanup/unix (command cleanup) is not implemented by gatepost; ignored",
                "master.cf, line 20: service qmgr/unix (command qmgr) is not implemented by gatepost; ignored",
            ]
        );
        assert_eq!(got.smtp_transports, vec!["amavis".to_string()]);
        assert_eq!(got.lmtp_transports, ["lmtp", "dovecot-lmtp"]);
        assert_eq!(got.pipes.len(), 1);
        assert_eq!(
            (got.pipes[0].name.as_str(), got.pipes[0].flags.as_str()),
            ("maildrop", "DRXhu")
        );
        assert_eq!(
            got.pipes[0].argv,
            ["/usr/bin/maildrop", "-d", "${recipient}"]
        );
    }

    #[test]
    fn master_cf_errors() {
        let cases = [
            (
                "smtp inet n - y - -",
                "master.cf, line 1: unexpected end of line: \"smtp inet n - y - -\"",
            ),
            (
                "pop3 inet n - y - - smtpd",
                "master.cf, line 1: unknown service: pop3/tcp",
            ),
            (
                "#c\nsmtp inet n - y - - smtpd -o novalue",
                "master.cf, line 2: -o option: missing '=' after attribute name: \"novalue\"",
            ),
            (
                "smtp inet n - y - - smtpd -o",
                "master.cf, line 1: -o option requires an argument",
            ),
            (
                "smtp inet n - y - many smtpd",
                "master.cf, line 1: field \"process limit\": bad value: \"many\"",
            ),
        ];
        for (input, want) in cases {
            let err = parse_master_cf(input, "master.cf").expect_err(input);
            assert_eq!(err.to_string(), want);
        }
    }

    #[test]
    fn postscreen_listens_as_smtpd_with_warning() {
        let got = parse_master_cf("smtp inet n - y - 1 postscreen\n", "master.cf").expect("parses");
        assert_eq!(got.services, vec![SmtpdService::postfix_default()]);
        assert_eq!(got.warnings.len(), 1);
    }
}
