//! The parameter registry: every `main.cf` parameter gatepost implements,
//! declared once with its Postfix 3.7 default text, value kind and a one-line
//! doc. Defaults are stored raw (as `postconf -d` prints them) and expanded on
//! read; compatibility-level expressions are kept as in Postfix and evaluate
//! with gatepost's `compatibility_level = 3.6`. Deliberate departures from
//! Postfix 3.7: `compatibility_level` defaults to `3.6`,
//! `smtpd_forbid_bare_newline = normalize` and
//! `smtpd_forbid_unauth_pipelining = yes` (the 3.9 defaults).
//!
//! A few parameters are gatepost extensions (their doc starts with
//! `gatepost-only: `), e.g. `dns_nameservers`.
//!
//! Also owns the list of every Postfix 3.7 parameter name
//! (`postfix_parameters.txt`, from `postconf -d`), used to tell a Postfix
//! parameter that gatepost does not implement from a user-defined macro.

use crate::kind::Kind;

/// Defaults that are computed from the system rather than written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Computed {
    /// The system FQDN (`gethostname`, `.$mydomain` or `.localdomain` appended
    /// when it has no dot).
    MyHostname,
    /// `$myhostname` minus its first label; `localdomain` if none.
    MyDomain,
    /// From `mynetworks_style` and the interface addresses.
    MyNetworks,
}

/// A parameter's default value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// Raw default text, expanded on read.
    Text(&'static str),
    /// Computed at run time.
    Computed(Computed),
}

/// One parameter declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub default: DefaultValue,
    pub kind: Kind,
    pub doc: &'static str,
}

/// Every parameter gatepost implements, sorted by nothing in particular;
/// look up with [`param`].
pub static REGISTRY: &[ParamSpec] = &[
    ParamSpec {
        name: "compatibility_level",
        default: DefaultValue::Text("3.6"),
        kind: Kind::Str,
        doc: "Backwards-compatibility level; gatepost behaves as 3.6 when unset.",
    },
    ParamSpec {
        name: "myhostname",
        default: DefaultValue::Computed(Computed::MyHostname),
        kind: Kind::Str,
        doc: "Internet hostname of this mail system (default: the system FQDN).",
    },
    ParamSpec {
        name: "mydomain",
        default: DefaultValue::Computed(Computed::MyDomain),
        kind: Kind::Str,
        doc: "Internet domain name of this mail system (default: $myhostname minus its first label).",
    },
    ParamSpec {
        name: "myorigin",
        default: DefaultValue::Text("$myhostname"),
        kind: Kind::Str,
        doc: "Domain that locally-posted mail appears to come from.",
    },
    ParamSpec {
        name: "mydestination",
        default: DefaultValue::Text("$myhostname, localhost.$mydomain, localhost"),
        kind: Kind::List,
        doc: "Domains this machine delivers locally.",
    },
    ParamSpec {
        name: "mynetworks",
        default: DefaultValue::Computed(Computed::MyNetworks),
        kind: Kind::List,
        doc: "Trusted SMTP client networks (default: computed from mynetworks_style).",
    },
    ParamSpec {
        name: "mynetworks_style",
        default: DefaultValue::Text(r#"${{$compatibility_level} <level {2} ? {subnet} : {host}}"#),
        kind: Kind::Enum(&["host", "subnet", "class"]),
        doc: "How to compute mynetworks when it is not set.",
    },
    ParamSpec {
        name: "inet_interfaces",
        default: DefaultValue::Text("all"),
        kind: Kind::List,
        doc: "Network interface addresses this mail system receives mail on.",
    },
    ParamSpec {
        name: "inet_protocols",
        default: DefaultValue::Text("all"),
        kind: Kind::List,
        doc: "Internet protocols used: all, ipv4, ipv6.",
    },
    ParamSpec {
        name: "proxy_interfaces",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Addresses of proxies/NAT that forward to this system.",
    },
    ParamSpec {
        name: "relay_domains",
        default: DefaultValue::Text(r#"${{$compatibility_level} <level {2} ? {$mydestination} : {}}"#),
        kind: Kind::List,
        doc: "Remote destinations this system relays mail to.",
    },
    ParamSpec {
        name: "relay_recipient_maps",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Valid recipients of relay_domains; empty accepts all.",
    },
    ParamSpec {
        name: "relayhost",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Next-hop destination of non-local mail; empty means direct delivery.",
    },
    ParamSpec {
        name: "fallback_relay",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Obsolete name of smtp_fallback_relay.",
    },
    ParamSpec {
        name: "queue_directory",
        default: DefaultValue::Text("/var/spool/postfix"),
        kind: Kind::Str,
        doc: "Location of the mail queue.",
    },
    ParamSpec {
        name: "data_directory",
        default: DefaultValue::Text("/var/lib/postfix"),
        kind: Kind::Str,
        doc: "Directory with caches and other writable data.",
    },
    ParamSpec {
        name: "config_directory",
        default: DefaultValue::Text("/etc/postfix"),
        kind: Kind::Str,
        doc: "Default configuration directory.",
    },
    ParamSpec {
        name: "mail_spool_directory",
        default: DefaultValue::Text("/var/mail"),
        kind: Kind::Str,
        doc: "Mailbox directory; a trailing / selects Maildir delivery.",
    },
    ParamSpec {
        name: "home_mailbox",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Mailbox file relative to the home directory; a trailing / selects Maildir.",
    },
    ParamSpec {
        name: "mailbox_command",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "External command used for local mailbox delivery.",
    },
    ParamSpec {
        name: "mailbox_transport",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Transport for local mailbox delivery.",
    },
    ParamSpec {
        name: "fallback_transport",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Transport for recipients not found in the UNIX passwd database.",
    },
    ParamSpec {
        name: "mailbox_size_limit",
        default: DefaultValue::Text("51200000"),
        kind: Kind::Size,
        doc: "Maximal size of a mailbox or maildir file, in bytes.",
    },
    ParamSpec {
        name: "mail_name",
        default: DefaultValue::Text("Postfix"),
        kind: Kind::Str,
        doc: "Mail system name used in the SMTP greeting and Received: headers.",
    },
    ParamSpec {
        name: "smtpd_banner",
        default: DefaultValue::Text("$myhostname ESMTP $mail_name"),
        kind: Kind::Str,
        doc: "Text that follows the 220 status code in the SMTP greeting.",
    },
    ParamSpec {
        name: "syslog_name",
        default: DefaultValue::Text(r#"${multi_instance_name?{$multi_instance_name}:{postfix}}"#),
        kind: Kind::Str,
        doc: "Prefix of logged program names.",
    },
    ParamSpec {
        name: "multi_instance_name",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Name of this instance in a multi-instance setup.",
    },
    ParamSpec {
        name: "maillog_file",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Log file name; empty logs to standard error.",
    },
    ParamSpec {
        name: "mail_owner",
        default: DefaultValue::Text("postfix"),
        kind: Kind::Str,
        doc: "Owner of the queue and of most daemon processes.",
    },
    ParamSpec {
        name: "alias_maps",
        default: DefaultValue::Text("hash:/etc/aliases, nis:mail.aliases"),
        kind: Kind::List,
        doc: "Alias databases used for local delivery.",
    },
    ParamSpec {
        name: "alias_database",
        default: DefaultValue::Text("hash:/etc/aliases"),
        kind: Kind::List,
        doc: "Alias databases built by newaliases.",
    },
    ParamSpec {
        name: "local_recipient_maps",
        default: DefaultValue::Text("proxy:unix:passwd.byname $alias_maps"),
        kind: Kind::List,
        doc: "Lookup tables with all local recipients; empty accepts all.",
    },
    ParamSpec {
        name: "forward_path",
        default: DefaultValue::Text(r#"$home/.forward${recipient_delimiter}${extension}, $home/.forward"#),
        kind: Kind::List,
        doc: "Where local delivery looks for .forward files.",
    },
    ParamSpec {
        name: "luser_relay",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Destination for unknown local recipients.",
    },
    ParamSpec {
        name: "owner_request_special",
        default: DefaultValue::Text("yes"),
        kind: Kind::Bool,
        doc: "Give owner- and -request addresses special treatment.",
    },
    ParamSpec {
        name: "expand_owner_alias",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Deliver owner-foo mail to owner-foo expansion.",
    },
    ParamSpec {
        name: "allow_mail_to_commands",
        default: DefaultValue::Text("alias, forward"),
        kind: Kind::List,
        doc: "Origins allowed to deliver to commands.",
    },
    ParamSpec {
        name: "allow_mail_to_files",
        default: DefaultValue::Text("alias, forward"),
        kind: Kind::List,
        doc: "Origins allowed to deliver to /file/name.",
    },
    ParamSpec {
        name: "local_command_shell",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Shell used for delivery to external commands.",
    },
    ParamSpec {
        name: "virtual_maps",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Obsolete name of virtual_alias_maps.",
    },
    ParamSpec {
        name: "virtual_alias_maps",
        default: DefaultValue::Text("$virtual_maps"),
        kind: Kind::List,
        doc: "Virtual alias tables.",
    },
    ParamSpec {
        name: "virtual_alias_domains",
        default: DefaultValue::Text("$virtual_alias_maps"),
        kind: Kind::List,
        doc: "Virtual alias domains.",
    },
    ParamSpec {
        name: "virtual_mailbox_domains",
        default: DefaultValue::Text("$virtual_mailbox_maps"),
        kind: Kind::List,
        doc: "Virtual mailbox domains.",
    },
    ParamSpec {
        name: "virtual_mailbox_maps",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Virtual mailbox lookup tables.",
    },
    ParamSpec {
        name: "virtual_mailbox_base",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Prefix of virtual mailbox paths.",
    },
    ParamSpec {
        name: "virtual_transport",
        default: DefaultValue::Text("virtual"),
        kind: Kind::Str,
        doc: "Default transport for virtual mailbox domains.",
    },
    ParamSpec {
        name: "local_transport",
        default: DefaultValue::Text("local:$myhostname"),
        kind: Kind::Str,
        doc: "Default transport for local domains.",
    },
    ParamSpec {
        name: "relay_transport",
        default: DefaultValue::Text("relay"),
        kind: Kind::Str,
        doc: "Default transport for relay domains.",
    },
    ParamSpec {
        name: "default_transport",
        default: DefaultValue::Text("smtp"),
        kind: Kind::Str,
        doc: "Default transport for all other destinations.",
    },
    ParamSpec {
        name: "transport_maps",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Optional transport lookup tables.",
    },
    ParamSpec {
        name: "recipient_delimiter",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Separators between user names and address extensions.",
    },
    ParamSpec {
        name: "propagate_unmatched_extensions",
        default: DefaultValue::Text("canonical, virtual"),
        kind: Kind::List,
        doc: "Which rewrites propagate an unmatched address extension.",
    },
    ParamSpec {
        name: "canonical_maps",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Canonical address mapping tables (sender and recipient).",
    },
    ParamSpec {
        name: "sender_canonical_maps",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Sender canonical address mapping tables.",
    },
    ParamSpec {
        name: "recipient_canonical_maps",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Recipient canonical address mapping tables.",
    },
    ParamSpec {
        name: "masquerade_domains",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Domains to strip subdomain structure from.",
    },
    ParamSpec {
        name: "append_at_myorigin",
        default: DefaultValue::Text("yes"),
        kind: Kind::Bool,
        doc: "Append @$myorigin to addresses without domain.",
    },
    ParamSpec {
        name: "append_dot_mydomain",
        default: DefaultValue::Text(r#"${{$compatibility_level} <level {1} ? {yes} : {no}}"#),
        kind: Kind::Bool,
        doc: "Append .$mydomain to user@host addresses.",
    },
    ParamSpec {
        name: "allow_percent_hack",
        default: DefaultValue::Text("yes"),
        kind: Kind::Bool,
        doc: "Rewrite user%domain to user@domain.",
    },
    ParamSpec {
        name: "swap_bangpath",
        default: DefaultValue::Text("yes"),
        kind: Kind::Bool,
        doc: "Rewrite site!user to user@site.",
    },
    ParamSpec {
        name: "resolve_dequoted_address",
        default: DefaultValue::Text("yes"),
        kind: Kind::Bool,
        doc: "Resolve the address after removing quotes.",
    },
    ParamSpec {
        name: "resolve_null_domain",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Resolve user@ like user.",
    },
    ParamSpec {
        name: "resolve_numeric_domain",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Resolve user@ipaddress as user@[ipaddress].",
    },
    ParamSpec {
        name: "allow_min_user",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Allow a recipient address to start with '-'.",
    },
    ParamSpec {
        name: "allow_untrusted_routing",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Forward mail with sender-specified routing from untrusted clients.",
    },
    ParamSpec {
        name: "parent_domain_matches_subdomains",
        default: DefaultValue::Text("debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps"),
        kind: Kind::List,
        doc: "Features where domain.tld also matches subdomains.",
    },
    ParamSpec {
        name: "empty_address_recipient",
        default: DefaultValue::Text("MAILER-DAEMON"),
        kind: Kind::Str,
        doc: "Recipient of mail addressed to the null address.",
    },
    ParamSpec {
        name: "double_bounce_sender",
        default: DefaultValue::Text("double-bounce"),
        kind: Kind::Str,
        doc: "Sender address of double bounces.",
    },
    ParamSpec {
        name: "message_size_limit",
        default: DefaultValue::Text("10240000"),
        kind: Kind::Size,
        doc: "Maximal size of a message including envelope, in bytes.",
    },
    ParamSpec {
        name: "line_length_limit",
        default: DefaultValue::Text("2048"),
        kind: Kind::Int,
        doc: "Maximal length of a line before it is split into records.",
    },
    ParamSpec {
        name: "header_size_limit",
        default: DefaultValue::Text("102400"),
        kind: Kind::Int,
        doc: "Maximal bytes in one message header.",
    },
    ParamSpec {
        name: "hopcount_limit",
        default: DefaultValue::Text("50"),
        kind: Kind::Int,
        doc: "Maximal number of Received: headers.",
    },
    ParamSpec {
        name: "queue_minfree",
        default: DefaultValue::Text("0"),
        kind: Kind::Size,
        doc: "Minimal free queue file system space, in bytes.",
    },
    ParamSpec {
        name: "smtpd_recipient_limit",
        default: DefaultValue::Text("1000"),
        kind: Kind::Int,
        doc: "Maximal recipients per message.",
    },
    ParamSpec {
        name: "smtpd_recipient_overshoot_limit",
        default: DefaultValue::Text("1000"),
        kind: Kind::Int,
        doc: "Recipients beyond the limit that count as errors.",
    },
    ParamSpec {
        name: "smtpd_timeout",
        default: DefaultValue::Text(r#"${stress?{10}:{300}}s"#),
        kind: Kind::Time('s'),
        doc: "SMTP server timeout for sending a reply or receiving a request.",
    },
    ParamSpec {
        name: "smtpd_starttls_timeout",
        default: DefaultValue::Text(r#"${stress?{10}:{300}}s"#),
        kind: Kind::Time('s'),
        doc: "Timeout for the STARTTLS handshake.",
    },
    ParamSpec {
        name: "smtpd_proxy_timeout",
        default: DefaultValue::Text("100s"),
        kind: Kind::Time('s'),
        doc: "Timeout for the smtpd proxy filter.",
    },
    ParamSpec {
        name: "stress",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Set by the master daemon under overload.",
    },
    ParamSpec {
        name: "smtpd_client_connection_count_limit",
        default: DefaultValue::Text("50"),
        kind: Kind::Int,
        doc: "Simultaneous connections one client may make.",
    },
    ParamSpec {
        name: "smtpd_client_connection_rate_limit",
        default: DefaultValue::Text("0"),
        kind: Kind::Int,
        doc: "Connection attempts per time unit per client.",
    },
    ParamSpec {
        name: "smtpd_client_message_rate_limit",
        default: DefaultValue::Text("0"),
        kind: Kind::Int,
        doc: "Message deliveries per time unit per client.",
    },
    ParamSpec {
        name: "smtpd_client_recipient_rate_limit",
        default: DefaultValue::Text("0"),
        kind: Kind::Int,
        doc: "Recipient addresses per time unit per client.",
    },
    ParamSpec {
        name: "smtpd_client_event_limit_exceptions",
        default: DefaultValue::Text(r#"${smtpd_client_connection_limit_exceptions:$mynetworks}"#),
        kind: Kind::List,
        doc: "Clients exempt from the per-client limits.",
    },
    ParamSpec {
        name: "smtpd_soft_error_limit",
        default: DefaultValue::Text("10"),
        kind: Kind::Int,
        doc: "Errors before the server sleeps before each reply.",
    },
    ParamSpec {
        name: "smtpd_hard_error_limit",
        default: DefaultValue::Text(r#"${stress?{1}:{20}}"#),
        kind: Kind::Int,
        doc: "Errors before the server disconnects.",
    },
    ParamSpec {
        name: "smtpd_error_sleep_time",
        default: DefaultValue::Text("1s"),
        kind: Kind::Time('s'),
        doc: "Delay before an error reply once over the soft limit.",
    },
    ParamSpec {
        name: "smtpd_junk_command_limit",
        default: DefaultValue::Text(r#"${stress?{1}:{100}}"#),
        kind: Kind::Int,
        doc: "NOOP/VRFY/ETRN/RSET commands before they count as errors.",
    },
    ParamSpec {
        name: "smtpd_helo_required",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Require HELO or EHLO before MAIL.",
    },
    ParamSpec {
        name: "smtpd_delay_reject",
        default: DefaultValue::Text("yes"),
        kind: Kind::Bool,
        doc: "Wait until RCPT TO before evaluating client/helo/sender restrictions.",
    },
    ParamSpec {
        name: "smtpd_peername_lookup",
        default: DefaultValue::Text("yes"),
        kind: Kind::Bool,
        doc: "Look up the client hostname.",
    },
    ParamSpec {
        name: "smtpd_client_restrictions",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Restrictions applied at connect time.",
    },
    ParamSpec {
        name: "smtpd_helo_restrictions",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Restrictions applied to HELO/EHLO.",
    },
    ParamSpec {
        name: "smtpd_sender_restrictions",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Restrictions applied to MAIL FROM.",
    },
    ParamSpec {
        name: "smtpd_relay_restrictions",
        default: DefaultValue::Text(r#"${{$compatibility_level} <level {1} ? {} : {permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination}}"#),
        kind: Kind::List,
        doc: "Relay control restrictions applied to RCPT TO.",
    },
    ParamSpec {
        name: "smtpd_recipient_restrictions",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Spam blocking restrictions applied to RCPT TO.",
    },
    ParamSpec {
        name: "smtpd_data_restrictions",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Restrictions applied to DATA.",
    },
    ParamSpec {
        name: "smtpd_end_of_data_restrictions",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Restrictions applied at end of DATA.",
    },
    ParamSpec {
        name: "smtpd_etrn_restrictions",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Restrictions applied to ETRN.",
    },
    ParamSpec {
        name: "smtpd_restriction_classes",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "User-defined aliases for groups of restrictions.",
    },
    ParamSpec {
        name: "smtpd_relay_before_recipient_restrictions",
        default: DefaultValue::Text(r#"${{$compatibility_level} <level {3.6} ? {no} : {yes}}"#),
        kind: Kind::Bool,
        doc: "Evaluate relay restrictions before recipient restrictions.",
    },
    ParamSpec {
        name: "smtpd_reject_unlisted_recipient",
        default: DefaultValue::Text("yes"),
        kind: Kind::Bool,
        doc: "Reject recipients unknown in their address class.",
    },
    ParamSpec {
        name: "smtpd_reject_unlisted_sender",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Reject senders unknown in their address class.",
    },
    ParamSpec {
        name: "smtpd_policy_service_default_action",
        default: DefaultValue::Text("451 4.3.5 Server configuration problem"),
        kind: Kind::Str,
        doc: "Action when a policy service cannot answer (check_policy_service).",
    },
    ParamSpec {
        name: "smtpd_policy_service_max_idle",
        default: DefaultValue::Text("300s"),
        kind: Kind::Time('s'),
        doc: "Time an idle policy service connection is kept open.",
    },
    ParamSpec {
        name: "smtpd_policy_service_max_ttl",
        default: DefaultValue::Text("1000s"),
        kind: Kind::Time('s'),
        doc: "Time a policy service connection may be used (accepted; connections are reused while idle time allows).",
    },
    ParamSpec {
        name: "smtpd_policy_service_policy_context",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Text sent as the policy_context attribute of policy requests.",
    },
    ParamSpec {
        name: "smtpd_policy_service_request_limit",
        default: DefaultValue::Text("0"),
        kind: Kind::Int,
        doc: "Requests per policy service connection (0: no limit; accepted).",
    },
    ParamSpec {
        name: "smtpd_policy_service_retry_delay",
        default: DefaultValue::Text("1s"),
        kind: Kind::Time('s'),
        doc: "Delay before trying a failed policy request again.",
    },
    ParamSpec {
        name: "smtpd_policy_service_timeout",
        default: DefaultValue::Text("100s"),
        kind: Kind::Time('s'),
        doc: "Time limit for connecting to a policy service and for one exchange.",
    },
    ParamSpec {
        name: "smtpd_policy_service_try_limit",
        default: DefaultValue::Text("2"),
        kind: Kind::Int,
        doc: "Attempts per policy request before the default action applies.",
    },
    ParamSpec {
        name: "smtpd_null_access_lookup_key",
        default: DefaultValue::Text("<>"),
        kind: Kind::Str,
        doc: "Lookup key for the null sender address.",
    },
    ParamSpec {
        name: "smtpd_log_access_permit_actions",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Permit actions that are logged.",
    },
    ParamSpec {
        name: "smtpd_reject_footer",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Text appended to reject replies.",
    },
    ParamSpec {
        name: "smtpd_noop_commands",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Commands treated as NOOP.",
    },
    ParamSpec {
        name: "smtpd_forbidden_commands",
        default: DefaultValue::Text(r#"CONNECT GET POST regexp:{{/^[^A-Z]/ Bogus}}"#),
        kind: Kind::List,
        doc: "Commands that cause immediate disconnection.",
    },
    ParamSpec {
        name: "smtpd_discard_ehlo_keywords",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "EHLO keywords not announced and not accepted.",
    },
    ParamSpec {
        name: "smtpd_sender_login_maps",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Owners of MAIL FROM addresses for SASL login checks.",
    },
    ParamSpec {
        name: "smtpd_authorized_xclient_hosts",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Clients allowed to use XCLIENT.",
    },
    ParamSpec {
        name: "smtpd_sasl_auth_enable",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Enable SASL authentication in the SMTP server.",
    },
    ParamSpec {
        name: "smtpd_sasl_type",
        default: DefaultValue::Text("cyrus"),
        kind: Kind::Str,
        doc: "SASL plug-in type.",
    },
    ParamSpec {
        name: "smtpd_sasl_path",
        default: DefaultValue::Text("smtpd"),
        kind: Kind::Str,
        doc: "SASL server socket (dovecot: unix path relative to queue_directory, or inet:host:port).",
    },
    ParamSpec {
        name: "smtpd_sasl_security_options",
        default: DefaultValue::Text("noanonymous"),
        kind: Kind::List,
        doc: "SASL mechanism restrictions before TLS (noanonymous, noplaintext).",
    },
    ParamSpec {
        name: "smtpd_sasl_tls_security_options",
        default: DefaultValue::Text("$smtpd_sasl_security_options"),
        kind: Kind::List,
        doc: "SASL mechanism restrictions in TLS sessions.",
    },
    ParamSpec {
        name: "smtpd_sasl_local_domain",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Realm appended to SASL login names without one.",
    },
    ParamSpec {
        name: "smtpd_sasl_exceptions_networks",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Clients that are not offered AUTH in the EHLO reply.",
    },
    ParamSpec {
        name: "smtpd_sasl_authenticated_header",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Put the SASL login name in the Received: header.",
    },
    ParamSpec {
        name: "broken_sasl_auth_clients",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Also announce AUTH in the old AUTH= form.",
    },
    ParamSpec {
        name: "gatepost_sasl_passwd_file",
        default: DefaultValue::Text("$config_directory/sasl_passwd"),
        kind: Kind::Str,
        doc: "gatepost-only: password store of smtpd_sasl_type = cyrus, managed with gatepost saslpasswd.",
    },
    ParamSpec {
        name: "gatepost_tls_self_signed",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "gatepost-only: generate a self-signed certificate at smtpd_tls_cert_file/smtpd_tls_key_file when they do not exist; yes in the embedded defaults.",
    },
    ParamSpec {
        name: "smtpd_tls_security_level",
        default: DefaultValue::Text(""),
        kind: Kind::Enum(&["", "none", "may", "encrypt"]),
        doc: "SMTP server TLS security level (empty: smtpd_use_tls/smtpd_enforce_tls decide).",
    },
    ParamSpec {
        name: "smtpd_use_tls",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Legacy: offer STARTTLS (security level may).",
    },
    ParamSpec {
        name: "smtpd_enforce_tls",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Legacy: require STARTTLS (security level encrypt).",
    },
    ParamSpec {
        name: "smtpd_tls_wrappermode",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Implicit TLS from the first byte (port 465, master.cf -o).",
    },
    ParamSpec {
        name: "smtpd_tls_cert_file",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Server certificate chain file (PEM, RSA or ECDSA).",
    },
    ParamSpec {
        name: "smtpd_tls_key_file",
        default: DefaultValue::Text("$smtpd_tls_cert_file"),
        kind: Kind::Str,
        doc: "Server private key file (PEM).",
    },
    ParamSpec {
        name: "smtpd_tls_chain_files",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Files holding the server key and certificate chain (PEM).",
    },
    ParamSpec {
        name: "smtpd_tls_protocols",
        default: DefaultValue::Text("!SSLv2, !SSLv3"),
        kind: Kind::List,
        doc: "TLS protocols accepted with opportunistic TLS.",
    },
    ParamSpec {
        name: "smtpd_tls_mandatory_protocols",
        default: DefaultValue::Text("!SSLv2, !SSLv3"),
        kind: Kind::List,
        doc: "TLS protocols accepted with mandatory TLS.",
    },
    ParamSpec {
        name: "smtpd_tls_loglevel",
        default: DefaultValue::Text("0"),
        kind: Kind::Int,
        doc: "SMTP server TLS logging (1: one summary line per handshake).",
    },
    ParamSpec {
        name: "smtpd_tls_received_header",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Put the TLS protocol and cipher in the Received: header.",
    },
    ParamSpec {
        name: "smtpd_tls_auth_only",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Offer and accept AUTH only after STARTTLS (yes in gatepost's embedded defaults).",
    },
    ParamSpec {
        name: "disable_vrfy_command",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Disable the VRFY command.",
    },
    ParamSpec {
        name: "strict_rfc821_envelopes",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Require RFC 821 style addresses in MAIL and RCPT.",
    },
    ParamSpec {
        name: "smtputf8_enable",
        default: DefaultValue::Text(r#"${{$compatibility_level} <level {1} ? {no} : {yes}}"#),
        kind: Kind::Bool,
        doc: "Enable SMTPUTF8 support.",
    },
    ParamSpec {
        name: "soft_bounce",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Turn 5xx replies into 4xx (safety net).",
    },
    ParamSpec {
        name: "show_user_unknown_table_name",
        default: DefaultValue::Text("yes"),
        kind: Kind::Bool,
        doc: r#"Name the table in "User unknown" replies."#,
    },
    ParamSpec {
        name: "smtpd_forbid_bare_newline",
        default: DefaultValue::Text("normalize"),
        kind: Kind::Enum(&["no", "yes", "normalize", "reject"]),
        doc: "Handling of bare <LF> (SMTP smuggling defence).",
    },
    ParamSpec {
        name: "smtpd_forbid_bare_newline_exclusions",
        default: DefaultValue::Text("$mynetworks"),
        kind: Kind::List,
        doc: "Clients exempt from smtpd_forbid_bare_newline.",
    },
    ParamSpec {
        name: "smtpd_forbid_bare_newline_reject_code",
        default: DefaultValue::Text("550"),
        kind: Kind::Int,
        doc: "Reply code for bare <LF> in reject mode.",
    },
    ParamSpec {
        name: "smtpd_forbid_unauth_pipelining",
        default: DefaultValue::Text("yes"),
        kind: Kind::Bool,
        doc: "Disconnect clients that pipeline improperly.",
    },
    ParamSpec {
        name: "smtpd_delay_open_until_valid_rcpt",
        default: DefaultValue::Text("yes"),
        kind: Kind::Bool,
        doc: "Create the queue file only after a valid recipient.",
    },
    ParamSpec {
        name: "smtpd_client_port_logging",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Log the client port number.",
    },
    ParamSpec {
        name: "enable_long_queue_ids",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Use long, non-repeating queue IDs.",
    },
    ParamSpec {
        name: "queue_run_delay",
        default: DefaultValue::Text("300s"),
        kind: Kind::Time('s'),
        doc: "Time between deferred queue scans.",
    },
    ParamSpec {
        name: "minimal_backoff_time",
        default: DefaultValue::Text("300s"),
        kind: Kind::Time('s'),
        doc: "Minimal time between delivery attempts of a deferred message.",
    },
    ParamSpec {
        name: "maximal_backoff_time",
        default: DefaultValue::Text("4000s"),
        kind: Kind::Time('s'),
        doc: "Maximal time between delivery attempts of a deferred message.",
    },
    ParamSpec {
        name: "maximal_queue_lifetime",
        default: DefaultValue::Text("5d"),
        kind: Kind::Time('d'),
        doc: "Time after which an undeliverable message is returned.",
    },
    ParamSpec {
        name: "bounce_queue_lifetime",
        default: DefaultValue::Text("5d"),
        kind: Kind::Time('d'),
        doc: "Queue lifetime of undeliverable bounce messages.",
    },
    ParamSpec {
        name: "delay_warning_time",
        default: DefaultValue::Text("0h"),
        kind: Kind::Time('h'),
        doc: "Time after which the sender gets a delay notice (0: never).",
    },
    ParamSpec {
        name: "qmgr_message_active_limit",
        default: DefaultValue::Text("20000"),
        kind: Kind::Int,
        doc: "Maximal messages in the active queue.",
    },
    ParamSpec {
        name: "default_process_limit",
        default: DefaultValue::Text("100"),
        kind: Kind::Int,
        doc: "Default maximal number of processes per service.",
    },
    ParamSpec {
        name: "max_idle",
        default: DefaultValue::Text("100s"),
        kind: Kind::Time('s'),
        doc: "Time a daemon waits for a new request.",
    },
    ParamSpec {
        name: "max_use",
        default: DefaultValue::Text("100"),
        kind: Kind::Int,
        doc: "Requests a daemon serves before it exits.",
    },
    ParamSpec {
        name: "ipc_timeout",
        default: DefaultValue::Text("3600s"),
        kind: Kind::Time('s'),
        doc: "Timeout for internal communication.",
    },
    ParamSpec {
        name: "in_flow_delay",
        default: DefaultValue::Text("1s"),
        kind: Kind::Time('s'),
        doc: "Delay of message arrival when the queue is congested.",
    },
    ParamSpec {
        name: "bounce_size_limit",
        default: DefaultValue::Text("50000"),
        kind: Kind::Int,
        doc: "Maximal bytes of the original message returned in a bounce.",
    },
    ParamSpec {
        name: "bounce_notice_recipient",
        default: DefaultValue::Text("postmaster"),
        kind: Kind::Str,
        doc: "Recipient of bounce postmaster notices.",
    },
    ParamSpec {
        name: "2bounce_notice_recipient",
        default: DefaultValue::Text("postmaster"),
        kind: Kind::Str,
        doc: "Recipient of undeliverable bounce notices.",
    },
    ParamSpec {
        name: "delay_notice_recipient",
        default: DefaultValue::Text("postmaster"),
        kind: Kind::Str,
        doc: "Recipient of delay postmaster notices.",
    },
    ParamSpec {
        name: "error_notice_recipient",
        default: DefaultValue::Text("postmaster"),
        kind: Kind::Str,
        doc: "Recipient of error postmaster notices.",
    },
    ParamSpec {
        name: "notify_classes",
        default: DefaultValue::Text("resource, software"),
        kind: Kind::List,
        doc: "Problem classes reported to the postmaster.",
    },
    ParamSpec {
        name: "default_destination_concurrency_limit",
        default: DefaultValue::Text("20"),
        kind: Kind::Int,
        doc: "Default parallel deliveries per destination.",
    },
    ParamSpec {
        name: "local_destination_concurrency_limit",
        default: DefaultValue::Text("2"),
        kind: Kind::Int,
        doc: "Parallel local deliveries per recipient.",
    },
    ParamSpec {
        name: "default_destination_recipient_limit",
        default: DefaultValue::Text("50"),
        kind: Kind::Int,
        doc: "Default maximal recipients per delivery request.",
    },
    ParamSpec {
        name: "local_destination_recipient_limit",
        default: DefaultValue::Text("1"),
        kind: Kind::Int,
        doc: "Maximal recipients per local delivery request.",
    },
    ParamSpec {
        name: "local_header_rewrite_clients",
        default: DefaultValue::Text("permit_inet_interfaces"),
        kind: Kind::List,
        doc: "Clients whose headers are rewritten with local domains.",
    },
    ParamSpec {
        name: "always_add_missing_headers",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Add missing From:, To:, Date:, Message-ID: headers always.",
    },
    ParamSpec {
        name: "cleanup_replace_stray_cr_lf",
        default: DefaultValue::Text("yes"),
        kind: Kind::Bool,
        doc: "Replace stray CR and LF in message content with space.",
    },
    ParamSpec {
        name: "biff",
        default: DefaultValue::Text("yes"),
        kind: Kind::Bool,
        doc: "Notify the local biff service.",
    },
    ParamSpec {
        name: "header_checks",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Header content inspection tables.",
    },
    ParamSpec {
        name: "body_checks",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Body content inspection tables.",
    },
    ParamSpec {
        name: "debug_peer_list",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Clients or servers that get extra logging.",
    },
    ParamSpec {
        name: "debug_peer_level",
        default: DefaultValue::Text("2"),
        kind: Kind::Int,
        doc: "Extra verbosity for debug_peer_list matches.",
    },
    ParamSpec {
        name: "fast_flush_domains",
        default: DefaultValue::Text("$relay_domains"),
        kind: Kind::List,
        doc: "Destinations eligible for ETRN fast flush.",
    },
    ParamSpec {
        name: "qmqpd_authorized_clients",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Clients allowed to use QMQP.",
    },
    ParamSpec {
        name: "permit_mx_backup_networks",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "Networks of primary MX hosts for permit_mx_backup.",
    },
    ParamSpec {
        name: "disable_dns_lookups",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Disable DNS lookups in the SMTP client (obsolete).",
    },
    ParamSpec {
        name: "smtp_host_lookup",
        default: DefaultValue::Text("dns"),
        kind: Kind::List,
        doc: "How the SMTP client finds hosts: dns, native.",
    },
    ParamSpec {
        name: "smtp_helo_name",
        default: DefaultValue::Text("$myhostname"),
        kind: Kind::Str,
        doc: "Hostname sent by the SMTP client in HELO/EHLO.",
    },
    ParamSpec {
        name: "smtp_line_length_limit",
        default: DefaultValue::Text("998"),
        kind: Kind::Int,
        doc: "Length at which the SMTP client folds long lines.",
    },
    ParamSpec {
        name: "smtp_skip_5xx_greeting",
        default: DefaultValue::Text("yes"),
        kind: Kind::Bool,
        doc: "Skip servers that greet with 5xx.",
    },
    ParamSpec {
        name: "smtp_fallback_relay",
        default: DefaultValue::Text("$fallback_relay"),
        kind: Kind::List,
        doc: "Relays tried when the destination is unreachable.",
    },
    ParamSpec {
        name: "smtp_connect_timeout",
        default: DefaultValue::Text("30s"),
        kind: Kind::Time('s'),
        doc: "SMTP client connect timeout.",
    },
    ParamSpec {
        name: "smtp_helo_timeout",
        default: DefaultValue::Text("300s"),
        kind: Kind::Time('s'),
        doc: "SMTP client timeout for the greeting and HELO reply.",
    },
    ParamSpec {
        name: "smtp_mail_timeout",
        default: DefaultValue::Text("300s"),
        kind: Kind::Time('s'),
        doc: "SMTP client timeout for the MAIL FROM reply.",
    },
    ParamSpec {
        name: "smtp_rcpt_timeout",
        default: DefaultValue::Text("300s"),
        kind: Kind::Time('s'),
        doc: "SMTP client timeout for the RCPT TO reply.",
    },
    ParamSpec {
        name: "smtp_data_init_timeout",
        default: DefaultValue::Text("120s"),
        kind: Kind::Time('s'),
        doc: "SMTP client timeout for the DATA reply.",
    },
    ParamSpec {
        name: "smtp_data_xfer_timeout",
        default: DefaultValue::Text("180s"),
        kind: Kind::Time('s'),
        doc: "SMTP client timeout for sending content.",
    },
    ParamSpec {
        name: "smtp_data_done_timeout",
        default: DefaultValue::Text("600s"),
        kind: Kind::Time('s'),
        doc: "SMTP client timeout for the end-of-data reply.",
    },
    ParamSpec {
        name: "smtp_quit_timeout",
        default: DefaultValue::Text("300s"),
        kind: Kind::Time('s'),
        doc: "SMTP client timeout for the QUIT reply.",
    },
    ParamSpec {
        name: "smtp_bind_address",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Local IPv4 address for outbound SMTP connections.",
    },
    ParamSpec {
        name: "smtp_bind_address6",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Local IPv6 address for outbound SMTP connections.",
    },
    ParamSpec {
        name: "smtp_tcp_port",
        default: DefaultValue::Text("smtp"),
        kind: Kind::Str,
        doc: "Default TCP port (number or service) of the SMTP client.",
    },
    ParamSpec {
        name: "smtp_mx_address_limit",
        default: DefaultValue::Text("5"),
        kind: Kind::Int,
        doc: "Most MX addresses the SMTP client tries per destination (0 = no limit).",
    },
    ParamSpec {
        name: "smtp_mx_session_limit",
        default: DefaultValue::Text("2"),
        kind: Kind::Int,
        doc: "Most SMTP sessions per destination in one delivery (0 = no limit).",
    },
    ParamSpec {
        name: "smtp_randomize_addresses",
        default: DefaultValue::Text("yes"),
        kind: Kind::Bool,
        doc: "Randomize the order of equal-preference MX host addresses.",
    },
    ParamSpec {
        name: "ignore_mx_lookup_error",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "Fall back to A/AAAA lookups when an MX lookup fails.",
    },
    ParamSpec {
        name: "reject_code",
        default: DefaultValue::Text("554"),
        kind: Kind::Int,
        doc: "Reply code for the reject restriction.",
    },
    ParamSpec {
        name: "defer_code",
        default: DefaultValue::Text("450"),
        kind: Kind::Int,
        doc: "Reply code for the defer restriction.",
    },
    ParamSpec {
        name: "access_map_reject_code",
        default: DefaultValue::Text("554"),
        kind: Kind::Int,
        doc: "Reply code for access map REJECT.",
    },
    ParamSpec {
        name: "access_map_defer_code",
        default: DefaultValue::Text("450"),
        kind: Kind::Int,
        doc: "Reply code for access map DEFER and friends.",
    },
    ParamSpec {
        name: "relay_domains_reject_code",
        default: DefaultValue::Text("554"),
        kind: Kind::Int,
        doc: "Reply code for reject_unauth_destination.",
    },
    ParamSpec {
        name: "local_mailbox_for_unknown_users",
        default: DefaultValue::Text("no"),
        kind: Kind::Bool,
        doc: "gatepost-only: give a local name that has no passwd entry and no alias a mailbox under mail_spool_directory (when local_recipient_maps is empty or lists it) instead of bouncing it as Postfix's local(8) does; yes in the embedded defaults.",
    },
    ParamSpec {
        name: "dns_nameservers",
        default: DefaultValue::Text(""),
        kind: Kind::List,
        doc: "gatepost-only: DNS servers to ask (ip, ip:port or [ipv6]:port); empty = those of /etc/resolv.conf; /etc/hosts is consulted first for A/AAAA/PTR.",
    },
    ParamSpec {
        name: "dns_query_timeout",
        default: DefaultValue::Text("5s"),
        kind: Kind::Time('s'),
        doc: "gatepost-only: time to wait for one DNS server's reply to one query.",
    },
    ParamSpec {
        name: "dns_query_attempts",
        default: DefaultValue::Text("2"),
        kind: Kind::Int,
        doc: "gatepost-only: rounds over the DNS servers before a lookup fails temporarily (at most 5).",
    },
    ParamSpec {
        name: "maps_rbl_reject_code",
        default: DefaultValue::Text("554"),
        kind: Kind::Int,
        doc: "Reply code for DNS block list rejects.",
    },
    ParamSpec {
        name: "invalid_hostname_reject_code",
        default: DefaultValue::Text("501"),
        kind: Kind::Int,
        doc: "Reply code for invalid hostnames.",
    },
    ParamSpec {
        name: "non_fqdn_reject_code",
        default: DefaultValue::Text("504"),
        kind: Kind::Int,
        doc: "Reply code for non-FQDN hostnames and addresses.",
    },
    ParamSpec {
        name: "unknown_hostname_reject_code",
        default: DefaultValue::Text("450"),
        kind: Kind::Int,
        doc: "Reply code for reject_unknown_helo_hostname.",
    },
    ParamSpec {
        name: "unknown_address_reject_code",
        default: DefaultValue::Text("450"),
        kind: Kind::Int,
        doc: "Reply code for unknown sender/recipient domains.",
    },
    ParamSpec {
        name: "unknown_client_reject_code",
        default: DefaultValue::Text("450"),
        kind: Kind::Int,
        doc: "Reply code for unknown client hostnames.",
    },
    ParamSpec {
        name: "unknown_local_recipient_reject_code",
        default: DefaultValue::Text("550"),
        kind: Kind::Int,
        doc: "Reply code for unknown local recipients.",
    },
    ParamSpec {
        name: "unknown_virtual_alias_reject_code",
        default: DefaultValue::Text("550"),
        kind: Kind::Int,
        doc: "Reply code for unknown virtual alias recipients.",
    },
    ParamSpec {
        name: "unknown_virtual_mailbox_reject_code",
        default: DefaultValue::Text("550"),
        kind: Kind::Int,
        doc: "Reply code for unknown virtual mailbox recipients.",
    },
    ParamSpec {
        name: "unknown_relay_recipient_reject_code",
        default: DefaultValue::Text("550"),
        kind: Kind::Int,
        doc: "Reply code for unknown relay recipients.",
    },
    ParamSpec {
        name: "multi_recipient_bounce_reject_code",
        default: DefaultValue::Text("550"),
        kind: Kind::Int,
        doc: "Reply code for reject_multi_recipient_bounce.",
    },
    ParamSpec {
        name: "plaintext_reject_code",
        default: DefaultValue::Text("450"),
        kind: Kind::Int,
        doc: "Reply code for reject_plaintext_session.",
    },
    ParamSpec {
        name: "unverified_recipient_reject_code",
        default: DefaultValue::Text("450"),
        kind: Kind::Int,
        doc: "Reply code when a recipient probe bounced.",
    },
    ParamSpec {
        name: "unverified_sender_reject_code",
        default: DefaultValue::Text("450"),
        kind: Kind::Int,
        doc: "Reply code when a sender probe bounced.",
    },
    ParamSpec {
        name: "unverified_recipient_defer_code",
        default: DefaultValue::Text("450"),
        kind: Kind::Int,
        doc: "Reply code when a recipient probe is pending.",
    },
    ParamSpec {
        name: "unverified_sender_defer_code",
        default: DefaultValue::Text("450"),
        kind: Kind::Int,
        doc: "Reply code when a sender probe is pending.",
    },
    ParamSpec {
        name: "unverified_recipient_reject_reason",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Reply text replacing a failed recipient probe's text.",
    },
    ParamSpec {
        name: "unverified_sender_reject_reason",
        default: DefaultValue::Text(""),
        kind: Kind::Str,
        doc: "Reply text replacing a failed sender probe's text.",
    },
    ParamSpec {
        name: "reject_tempfail_action",
        default: DefaultValue::Text("defer_if_permit"),
        kind: Kind::Enum(&["defer_if_permit", "defer"]),
        doc: "Default action for temporary lookup failures.",
    },
    ParamSpec {
        name: "unknown_helo_hostname_tempfail_action",
        default: DefaultValue::Text("$reject_tempfail_action"),
        kind: Kind::Enum(&["defer_if_permit", "defer"]),
        doc: "Action on DNS tempfail for the HELO hostname.",
    },
    ParamSpec {
        name: "unknown_address_tempfail_action",
        default: DefaultValue::Text("$reject_tempfail_action"),
        kind: Kind::Enum(&["defer_if_permit", "defer"]),
        doc: "Action on DNS tempfail for address domains.",
    },
    ParamSpec {
        name: "unverified_recipient_tempfail_action",
        default: DefaultValue::Text("$reject_tempfail_action"),
        kind: Kind::Enum(&["defer_if_permit", "defer"]),
        doc: "Action when recipient verification fails temporarily.",
    },
    ParamSpec {
        name: "unverified_sender_tempfail_action",
        default: DefaultValue::Text("$reject_tempfail_action"),
        kind: Kind::Enum(&["defer_if_permit", "defer"]),
        doc: "Action when sender verification fails temporarily.",
    },
];

/// Every Postfix 3.7 parameter name, one per line.
const POSTFIX_PARAMETERS: &str = include_str!("postfix_parameters.txt");

/// All parameters gatepost implements.
pub fn registry() -> &'static [ParamSpec] {
    REGISTRY
}

/// The declaration of an implemented parameter.
pub fn param(name: &str) -> Option<&'static ParamSpec> {
    REGISTRY.iter().find(|p| p.name == name)
}

/// True for any parameter name Postfix 3.7 knows (implemented here or not).
pub fn is_postfix_parameter(name: &str) -> bool {
    POSTFIX_PARAMETERS.lines().any(|line| line == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_known_to_postfix() {
        let mut seen = HashSet::new();
        for p in REGISTRY {
            assert!(seen.insert(p.name), "duplicate {}", p.name);
            assert!(
                is_postfix_parameter(p.name) || p.doc.starts_with("gatepost-only: "),
                "{} is not a Postfix name",
                p.name
            );
            assert!(!p.doc.is_empty(), "{} has no doc", p.name);
        }
    }

    #[test]
    fn literal_defaults_are_valid_for_their_kind() {
        for p in REGISTRY {
            if let DefaultValue::Text(text) = p.default {
                if !text.contains('$') {
                    assert!(p.kind.check(text).is_ok(), "{} = {text}", p.name);
                }
            }
        }
    }

    #[test]
    fn postfix_name_list() {
        assert!(is_postfix_parameter("readme_directory"));
        assert!(is_postfix_parameter("smtpd_tls_cert_file"));
        assert!(is_postfix_parameter("mailbox_size_limit"));
        assert!(!is_postfix_parameter("my_restriction_class"));
        assert!(!is_postfix_parameter(""));
    }

    #[test]
    fn selected_defaults() {
        let cases = [
            ("smtpd_banner", "$myhostname ESMTP $mail_name"),
            ("message_size_limit", "10240000"),
            ("line_length_limit", "2048"),
            ("smtpd_client_connection_count_limit", "50"),
            ("smtpd_forbid_bare_newline", "normalize"),
            ("smtpd_forbid_unauth_pipelining", "yes"),
            ("smtpd_forbid_bare_newline_exclusions", "$mynetworks"),
            ("virtual_alias_domains", "$virtual_alias_maps"),
            ("delay_warning_time", "0h"),
            ("unknown_local_recipient_reject_code", "550"),
            ("reject_tempfail_action", "defer_if_permit"),
            ("unknown_address_tempfail_action", "$reject_tempfail_action"),
        ];
        for (name, want) in cases {
            let p = param(name).expect(name);
            assert_eq!(p.default, DefaultValue::Text(want), "{name}");
        }
        assert_eq!(
            param("delay_warning_time").map(|p| p.kind),
            Some(Kind::Time('h'))
        );
        assert_eq!(
            param("maximal_queue_lifetime").map(|p| p.kind),
            Some(Kind::Time('d'))
        );
    }
}
