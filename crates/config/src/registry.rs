//! The parameter registry: every `main.cf` parameter gatepost implements,
//! declared once as a typed handle (`params::SMTPD_TIMEOUT: Param<Duration>`)
//! with its Postfix 3.7 default text, value kind, start-up range and a
//! one-line doc. Defaults are stored raw (as `postconf -d` prints them) and
//! expanded on read; compatibility-level expressions are kept as in Postfix and evaluate
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

use std::time::Duration;

use crate::kind::Kind::{Bool, Enum, Int, List, Size, Str, Time};
use crate::param::Computed::{MyDomain, MyHostname, MyNetworks};
use crate::param::DefaultValue::{Computed, Text};
pub use crate::param::{Param, ParamSpec, ParamValue};

/// Declares each parameter once: a `pub const` handle and its entry in
/// [`REGISTRY`]. Syntax per parameter:
/// `/// doc` `[[informational]|[unimplemented]] HANDLE: Type = "name", Kind, Default [, min N] [, max N];`
/// (`[informational]`: shown by postconf and used in expansion, read by no
/// code, and that is fine; `[unimplemented]`: likewise read by no code, but
/// because gatepost lacks the feature, so an explicit non-default setting is
/// reported at load as not implemented).
macro_rules! params {
    ($(
        $(#[doc = $doc:literal])+
        $([$marker:ident])? $handle:ident : $ty:ty = $name:literal, $kind:expr, $default:expr
        $(, min $min:expr)? $(, max $max:expr)?;
    )*) => {
        $(
            $(#[doc = $doc])+
            pub const $handle: Param<$ty> = Param::new(ParamSpec {
                name: $name,
                default: $default,
                kind: $kind,
                min: params!(@min $ty $(, $min)?),
                max: params!(@opt $($max)?),
                informational: params!(@unread $($marker)?),
                unimplemented: params!(@unimplemented $($marker)?),
                doc: concat!($($doc),+).trim_ascii_start(),
            });
        )*

        /// Every parameter gatepost implements; look up with [`param`].
        pub(crate) static REGISTRY: &[ParamSpec] = &[$($handle.spec),*];

        /// Each handle's name, its parameter, and whether its Rust type can
        /// hold the parameter's kind (checked by a test).
        #[cfg(test)]
        pub(crate) fn handles() -> Vec<(&'static str, &'static str, bool)> {
            vec![$((stringify!($handle), $name, <$ty as ParamValue>::fits($kind))),*]
        }
    };
    (@min $ty:ty) => { <$ty as ParamValue>::LOWEST };
    (@min $ty:ty, $min:expr) => { Some($min) };
    (@opt) => { None };
    (@opt $value:expr) => { Some($value) };
    (@unread) => { false };
    (@unread informational) => { true };
    (@unread unimplemented) => { true };
    (@unimplemented) => { false };
    (@unimplemented informational) => { false };
    (@unimplemented unimplemented) => { true };
}

params! {
    /// Backwards-compatibility level; gatepost behaves as 3.6 when unset.
    [informational] COMPATIBILITY_LEVEL: String = "compatibility_level", Str, Text("3.6");
    /// Internet hostname of this mail system (default: the system FQDN).
    MYHOSTNAME: String = "myhostname", Str, Computed(MyHostname), min 1;
    /// Internet domain name of this mail system (default: $myhostname minus its first label).
    MYDOMAIN: String = "mydomain", Str, Computed(MyDomain), min 1;
    /// Domain that locally-posted mail appears to come from.
    MYORIGIN: String = "myorigin", Str, Text("$myhostname"), min 1;
    /// Domains this machine delivers locally.
    MYDESTINATION: Vec<String> = "mydestination", List, Text("$myhostname, localhost.$mydomain, localhost");
    /// Trusted SMTP client networks (default: computed from mynetworks_style).
    MYNETWORKS: Vec<String> = "mynetworks", List, Computed(MyNetworks);
    /// How to compute mynetworks when it is not set.
    MYNETWORKS_STYLE: String = "mynetworks_style", Enum(&["host", "subnet", "class"]), Text(r#"${{$compatibility_level} <level {2} ? {subnet} : {host}}"#);
    /// Network interface addresses this mail system receives mail on.
    INET_INTERFACES: Vec<String> = "inet_interfaces", List, Text("all");
    /// Internet protocols used: all, ipv4, ipv6.
    INET_PROTOCOLS: Vec<String> = "inet_protocols", List, Text("all");
    /// Addresses of proxies/NAT that forward to this system.
    PROXY_INTERFACES: Vec<String> = "proxy_interfaces", List, Text("");
    /// Remote destinations this system relays mail to.
    RELAY_DOMAINS: Vec<String> = "relay_domains", List, Text(r#"${{$compatibility_level} <level {2} ? {$mydestination} : {}}"#);
    /// Valid recipients of relay_domains; empty accepts all.
    RELAY_RECIPIENT_MAPS: Vec<String> = "relay_recipient_maps", List, Text("");
    /// Next-hop destination of non-local mail; empty means direct delivery.
    RELAYHOST: String = "relayhost", Str, Text("");
    /// Obsolete name of smtp_fallback_relay (its default, `$fallback_relay`).
    [informational] FALLBACK_RELAY: Vec<String> = "fallback_relay", List, Text("");
    /// Location of the mail queue.
    QUEUE_DIRECTORY: String = "queue_directory", Str, Text("/var/spool/postfix"), min 1;
    /// Directory with caches and other writable data.
    DATA_DIRECTORY: String = "data_directory", Str, Text("/var/lib/postfix");
    /// Default configuration directory.
    [informational] CONFIG_DIRECTORY: String = "config_directory", Str, Text("/etc/postfix");
    /// Mailbox directory; a trailing / selects Maildir delivery.
    MAIL_SPOOL_DIRECTORY: String = "mail_spool_directory", Str, Text("/var/mail");
    /// Mailbox file relative to the home directory; a trailing / selects Maildir.
    HOME_MAILBOX: String = "home_mailbox", Str, Text("");
    /// External command used for local mailbox delivery.
    MAILBOX_COMMAND: String = "mailbox_command", Str, Text("");
    /// Per-user mailbox_command lookup tables.
    MAILBOX_COMMAND_MAPS: Vec<String> = "mailbox_command_maps", List, Text("");
    /// Working directory of local delivery to external commands.
    COMMAND_EXECUTION_DIRECTORY: String = "command_execution_directory", Str, Text("");
    /// Transport (`transport[:nexthop]`) that local(8) hands mailbox delivery to.
    MAILBOX_TRANSPORT: String = "mailbox_transport", Str, Text("");
    /// Per-user mailbox_transport lookup tables.
    MAILBOX_TRANSPORT_MAPS: Vec<String> = "mailbox_transport_maps", List, Text("");
    /// Transport for recipients not found in the aliases or UNIX passwd database.
    FALLBACK_TRANSPORT: String = "fallback_transport", Str, Text("");
    /// Per-user fallback_transport lookup tables.
    FALLBACK_TRANSPORT_MAPS: Vec<String> = "fallback_transport_maps", List, Text("");
    /// Locks local(8) takes on a mailbox file: fcntl, flock, dotlock.
    MAILBOX_DELIVERY_LOCK: Vec<String> = "mailbox_delivery_lock", List, Text("fcntl, dotlock");
    /// Locks virtual(8) takes on a mailbox file: fcntl, flock, dotlock.
    VIRTUAL_MAILBOX_LOCK: Vec<String> = "virtual_mailbox_lock", List, Text("fcntl, dotlock");
    /// Maximal size of a mailbox or maildir file, in bytes.
    MAILBOX_SIZE_LIMIT: u64 = "mailbox_size_limit", Size, Text("51200000");
    /// Mail system name used in the SMTP greeting and Received: headers.
    MAIL_NAME: String = "mail_name", Str, Text("Postfix"), min 1;
    /// Text that follows the 220 status code in the SMTP greeting.
    SMTPD_BANNER: String = "smtpd_banner", Str, Text("$myhostname ESMTP $mail_name");
    /// Prefix of logged program names.
    SYSLOG_NAME: String = "syslog_name", Str, Text(r#"${multi_instance_name?{$multi_instance_name}:{postfix}}"#);
    /// Name of this instance in a multi-instance setup.
    [informational] MULTI_INSTANCE_NAME: String = "multi_instance_name", Str, Text("");
    /// Log file name; empty: syslog when started with `start`, else standard error.
    MAILLOG_FILE: String = "maillog_file", Str, Text("");
    /// Program that compresses a rotated maillog_file (`logrotate`).
    MAILLOG_FILE_COMPRESSOR: String = "maillog_file_compressor", Str, Text("gzip");
    /// strftime(3) format of the suffix a rotated maillog_file gets (`logrotate`).
    MAILLOG_FILE_ROTATE_SUFFIX: String = "maillog_file_rotate_suffix", Str, Text("%Y%m%d-%H%M%S");
    /// Syslog facility of the log lines when logging to syslog.
    SYSLOG_FACILITY: String = "syslog_facility", Enum(&[
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
        "authpriv", "ftp", "local0", "local1", "local2", "local3", "local4", "local5",
        "local6", "local7",
    ]), Text("mail");
    /// Owner of the queue and of most daemon processes.
    MAIL_OWNER: String = "mail_owner", Str, Text("postfix");
    /// Alias databases used for local delivery.
    ALIAS_MAPS: Vec<String> = "alias_maps", List, Text("hash:/etc/aliases, nis:mail.aliases");
    /// Alias databases built by newaliases.
    [informational] ALIAS_DATABASE: Vec<String> = "alias_database", List, Text("hash:/etc/aliases");
    /// Lookup tables with all local recipients; empty accepts all.
    LOCAL_RECIPIENT_MAPS: Vec<String> = "local_recipient_maps", List, Text("proxy:unix:passwd.byname $alias_maps");
    /// Where local delivery looks for .forward files.
    FORWARD_PATH: Vec<String> = "forward_path", List, Text(r#"$home/.forward${recipient_delimiter}${extension}, $home/.forward"#);
    /// Destination for unknown local recipients.
    LUSER_RELAY: String = "luser_relay", Str, Text("");
    /// Give owner- and -request addresses special treatment.
    [unimplemented] OWNER_REQUEST_SPECIAL: bool = "owner_request_special", Bool, Text("yes");
    /// Deliver owner-foo mail to owner-foo expansion.
    [unimplemented] EXPAND_OWNER_ALIAS: bool = "expand_owner_alias", Bool, Text("no");
    /// Origins allowed to deliver to commands.
    ALLOW_MAIL_TO_COMMANDS: Vec<String> = "allow_mail_to_commands", List, Text("alias, forward");
    /// Origins allowed to deliver to /file/name.
    ALLOW_MAIL_TO_FILES: Vec<String> = "allow_mail_to_files", List, Text("alias, forward");
    /// Shell used for delivery to external commands.
    LOCAL_COMMAND_SHELL: String = "local_command_shell", Str, Text("");
    /// Obsolete name of virtual_alias_maps.
    [informational] VIRTUAL_MAPS: Vec<String> = "virtual_maps", List, Text("");
    /// Virtual alias tables.
    VIRTUAL_ALIAS_MAPS: Vec<String> = "virtual_alias_maps", List, Text("$virtual_maps");
    /// Virtual alias domains.
    VIRTUAL_ALIAS_DOMAINS: Vec<String> = "virtual_alias_domains", List, Text("$virtual_alias_maps");
    /// Virtual mailbox domains.
    VIRTUAL_MAILBOX_DOMAINS: Vec<String> = "virtual_mailbox_domains", List, Text("$virtual_mailbox_maps");
    /// Virtual mailbox lookup tables.
    VIRTUAL_MAILBOX_MAPS: Vec<String> = "virtual_mailbox_maps", List, Text("");
    /// Prefix of virtual mailbox paths.
    VIRTUAL_MAILBOX_BASE: String = "virtual_mailbox_base", Str, Text("");
    /// Default transport for virtual mailbox domains.
    VIRTUAL_TRANSPORT: String = "virtual_transport", Str, Text("virtual");
    /// Default transport for local domains.
    LOCAL_TRANSPORT: String = "local_transport", Str, Text("local:$myhostname");
    /// Default transport for relay domains.
    RELAY_TRANSPORT: String = "relay_transport", Str, Text("relay");
    /// Default transport for all other destinations.
    DEFAULT_TRANSPORT: String = "default_transport", Str, Text("smtp");
    /// Optional transport lookup tables.
    TRANSPORT_MAPS: Vec<String> = "transport_maps", List, Text("");
    /// Separators between user names and address extensions.
    RECIPIENT_DELIMITER: String = "recipient_delimiter", Str, Text("");
    /// Which rewrites propagate an unmatched address extension.
    PROPAGATE_UNMATCHED_EXTENSIONS: Vec<String> = "propagate_unmatched_extensions", List, Text("canonical, virtual");
    /// Canonical address mapping tables (sender and recipient).
    CANONICAL_MAPS: Vec<String> = "canonical_maps", List, Text("");
    /// Sender canonical address mapping tables.
    SENDER_CANONICAL_MAPS: Vec<String> = "sender_canonical_maps", List, Text("");
    /// Recipient canonical address mapping tables.
    RECIPIENT_CANONICAL_MAPS: Vec<String> = "recipient_canonical_maps", List, Text("");
    /// Addresses canonical_maps applies to.
    CANONICAL_CLASSES: Vec<String> = "canonical_classes", List, Text("envelope_sender, envelope_recipient, header_sender, header_recipient");
    /// Addresses sender_canonical_maps applies to.
    SENDER_CANONICAL_CLASSES: Vec<String> = "sender_canonical_classes", List, Text("envelope_sender, header_sender");
    /// Addresses recipient_canonical_maps applies to.
    RECIPIENT_CANONICAL_CLASSES: Vec<String> = "recipient_canonical_classes", List, Text("envelope_recipient, header_recipient");
    /// Domains to strip subdomain structure from.
    MASQUERADE_DOMAINS: Vec<String> = "masquerade_domains", List, Text("");
    /// User names never masqueraded.
    MASQUERADE_EXCEPTIONS: Vec<String> = "masquerade_exceptions", List, Text("");
    /// Addresses masquerading applies to.
    MASQUERADE_CLASSES: Vec<String> = "masquerade_classes", List, Text("envelope_sender, header_sender, header_recipient");
    /// Append @$myorigin to addresses without domain.
    APPEND_AT_MYORIGIN: bool = "append_at_myorigin", Bool, Text("yes");
    /// Append .$mydomain to user@host addresses.
    APPEND_DOT_MYDOMAIN: bool = "append_dot_mydomain", Bool, Text(r#"${{$compatibility_level} <level {1} ? {yes} : {no}}"#);
    /// Rewrite user%domain to user@domain.
    ALLOW_PERCENT_HACK: bool = "allow_percent_hack", Bool, Text("yes");
    /// Rewrite site!user to user@site.
    SWAP_BANGPATH: bool = "swap_bangpath", Bool, Text("yes");
    /// Resolve the address after removing quotes.
    RESOLVE_DEQUOTED_ADDRESS: bool = "resolve_dequoted_address", Bool, Text("yes");
    /// Resolve user@ like user.
    RESOLVE_NULL_DOMAIN: bool = "resolve_null_domain", Bool, Text("no");
    /// Resolve user@ipaddress as user@[ipaddress].
    RESOLVE_NUMERIC_DOMAIN: bool = "resolve_numeric_domain", Bool, Text("no");
    /// Allow a recipient address to start with '-'.
    ALLOW_MIN_USER: bool = "allow_min_user", Bool, Text("no");
    /// Forward mail with sender-specified routing from untrusted clients.
    ALLOW_UNTRUSTED_ROUTING: bool = "allow_untrusted_routing", Bool, Text("no");
    /// Features where domain.tld also matches subdomains.
    PARENT_DOMAIN_MATCHES_SUBDOMAINS: Vec<String> = "parent_domain_matches_subdomains", List, Text("debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps");
    /// Recipient of mail addressed to the null address.
    EMPTY_ADDRESS_RECIPIENT: String = "empty_address_recipient", Str, Text("MAILER-DAEMON");
    /// Sender address of double bounces.
    DOUBLE_BOUNCE_SENDER: String = "double_bounce_sender", Str, Text("double-bounce"), min 1;
    /// Maximal size of a message including envelope, in bytes.
    MESSAGE_SIZE_LIMIT: u64 = "message_size_limit", Size, Text("10240000");
    /// Maximal length of a line before it is split into records.
    LINE_LENGTH_LIMIT: usize = "line_length_limit", Int, Text("2048"), min 512;
    /// Maximal bytes in one message header.
    HEADER_SIZE_LIMIT: usize = "header_size_limit", Int, Text("102400"), min 1;
    /// Maximal number of Received: headers.
    HOPCOUNT_LIMIT: usize = "hopcount_limit", Int, Text("50"), min 1;
    /// Minimal free queue file system space, in bytes.
    QUEUE_MINFREE: u64 = "queue_minfree", Size, Text("0");
    /// Maximal recipients per message.
    SMTPD_RECIPIENT_LIMIT: usize = "smtpd_recipient_limit", Int, Text("1000"), min 1;
    /// Recipients beyond the limit that count as errors.
    SMTPD_RECIPIENT_OVERSHOOT_LIMIT: usize = "smtpd_recipient_overshoot_limit", Int, Text("1000"), min 1;
    /// SMTP server timeout for sending a reply or receiving a request.
    SMTPD_TIMEOUT: Duration = "smtpd_timeout", Time('s'), Text(r#"${stress?{10}:{300}}s"#), min 1;
    /// Timeout for the STARTTLS handshake.
    SMTPD_STARTTLS_TIMEOUT: Duration = "smtpd_starttls_timeout", Time('s'), Text(r#"${stress?{10}:{300}}s"#);
    /// Timeout for the smtpd proxy filter.
    [unimplemented] SMTPD_PROXY_TIMEOUT: Duration = "smtpd_proxy_timeout", Time('s'), Text("100s");
    /// Mail filters (milter applications) for mail that arrives by SMTP: inet:host:port or unix:/path.
    SMTPD_MILTERS: Vec<String> = "smtpd_milters", List, Text("");
    /// Mail filters for mail that does not arrive by SMTP (sendmail, pickup).
    NON_SMTPD_MILTERS: Vec<String> = "non_smtpd_milters", List, Text("");
    /// Milter protocol version and extensions (2, 3, 4 or 6; no_header_reply).
    MILTER_PROTOCOL: String = "milter_protocol", Str, Text("6");
    /// What happens when a milter is unavailable or misbehaves.
    MILTER_DEFAULT_ACTION: String = "milter_default_action", Str, Text("tempfail");
    /// Time limit for connecting to a milter.
    MILTER_CONNECT_TIMEOUT: Duration = "milter_connect_timeout", Time('s'), Text("30s"), min 1;
    /// Time limit for sending an SMTP command to a milter and receiving its reply.
    MILTER_COMMAND_TIMEOUT: Duration = "milter_command_timeout", Time('s'), Text("30s"), min 1;
    /// Time limit for sending message content to a milter and receiving its reply.
    MILTER_CONTENT_TIMEOUT: Duration = "milter_content_timeout", Time('s'), Text("300s"), min 1;
    /// Macros sent to milters after the connection is made.
    MILTER_CONNECT_MACROS: Vec<String> = "milter_connect_macros", List, Text("j {daemon_name} {daemon_addr} v _");
    /// Macros sent to milters after HELO/EHLO.
    MILTER_HELO_MACROS: Vec<String> = "milter_helo_macros", List, Text("{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}");
    /// Macros sent to milters after MAIL FROM.
    MILTER_MAIL_MACROS: Vec<String> = "milter_mail_macros", List, Text("i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}");
    /// Macros sent to milters after RCPT TO.
    MILTER_RCPT_MACROS: Vec<String> = "milter_rcpt_macros", List, Text("i {rcpt_addr} {rcpt_host} {rcpt_mailer}");
    /// Macros sent to milters after DATA.
    MILTER_DATA_MACROS: Vec<String> = "milter_data_macros", List, Text("i");
    /// Macros sent to milters after the end of the message header.
    MILTER_END_OF_HEADER_MACROS: Vec<String> = "milter_end_of_header_macros", List, Text("i");
    /// Macros sent to milters after the end of the message.
    MILTER_END_OF_DATA_MACROS: Vec<String> = "milter_end_of_data_macros", List, Text("i");
    /// Macros sent to milters with an SMTP command gatepost does not recognise.
    MILTER_UNKNOWN_COMMAND_MACROS: Vec<String> = "milter_unknown_command_macros", List, Text("");
    /// Default values of milter macros that have none: name=value pairs.
    MILTER_MACRO_DEFAULTS: String = "milter_macro_defaults", Str, Text("");
    /// header_checks(5) tables for the headers milters add or change.
    MILTER_HEADER_CHECKS: Vec<String> = "milter_header_checks", List, Text("");
    /// The {daemon_name} macro value.
    MILTER_MACRO_DAEMON_NAME: String = "milter_macro_daemon_name", Str, Text("$myhostname");
    /// The v macro value.
    MILTER_MACRO_V: String = "milter_macro_v", Str, Text("$mail_name $mail_version");
    /// After-queue content filter: transport:destination that gets all mail instead of its normal route.
    CONTENT_FILTER: String = "content_filter", Str, Text("");
    /// What this service does not do to mail it receives: no_unknown_recipient_checks, no_address_mappings, no_header_body_checks, no_milters.
    RECEIVE_OVERRIDE_OPTIONS: Vec<String> = "receive_override_options", List, Text("");
    /// Set by the master daemon under overload.
    [informational] STRESS: String = "stress", Str, Text("");
    /// Simultaneous connections one client may make.
    SMTPD_CLIENT_CONNECTION_COUNT_LIMIT: usize = "smtpd_client_connection_count_limit", Int, Text("50");
    /// Connection attempts per time unit per client.
    SMTPD_CLIENT_CONNECTION_RATE_LIMIT: u32 = "smtpd_client_connection_rate_limit", Int, Text("0");
    /// Message deliveries per time unit per client.
    SMTPD_CLIENT_MESSAGE_RATE_LIMIT: u32 = "smtpd_client_message_rate_limit", Int, Text("0");
    /// Recipient addresses per time unit per client.
    SMTPD_CLIENT_RECIPIENT_RATE_LIMIT: u32 = "smtpd_client_recipient_rate_limit", Int, Text("0");
    /// New TLS sessions per time unit per client.
    SMTPD_CLIENT_NEW_TLS_SESSION_RATE_LIMIT: u32 = "smtpd_client_new_tls_session_rate_limit", Int, Text("0");
    /// AUTH commands per time unit per client.
    SMTPD_CLIENT_AUTH_RATE_LIMIT: u32 = "smtpd_client_auth_rate_limit", Int, Text("0");
    /// The time unit of the per-client rate limits (anvil(8)).
    ANVIL_RATE_TIME_UNIT: Duration = "anvil_rate_time_unit", Time('s'), Text("60s"), min 1;
    /// How often anvil(8) logs its peak statistics.
    ANVIL_STATUS_UPDATE_TIME: Duration = "anvil_status_update_time", Time('s'), Text("600s"), min 1;
    /// Clients exempt from the per-client limits.
    SMTPD_CLIENT_EVENT_LIMIT_EXCEPTIONS: Vec<String> = "smtpd_client_event_limit_exceptions", List, Text(r#"${smtpd_client_connection_limit_exceptions:$mynetworks}"#);
    /// Errors before the server sleeps before each reply.
    SMTPD_SOFT_ERROR_LIMIT: u32 = "smtpd_soft_error_limit", Int, Text("10"), min 1;
    /// Errors before the server disconnects.
    SMTPD_HARD_ERROR_LIMIT: u32 = "smtpd_hard_error_limit", Int, Text(r#"${stress?{1}:{20}}"#), min 1;
    /// Delay before an error reply once over the soft limit.
    SMTPD_ERROR_SLEEP_TIME: Duration = "smtpd_error_sleep_time", Time('s'), Text("1s");
    /// NOOP/VRFY/ETRN/RSET commands before they count as errors.
    SMTPD_JUNK_COMMAND_LIMIT: u32 = "smtpd_junk_command_limit", Int, Text(r#"${stress?{1}:{100}}"#), min 1;
    /// Require HELO or EHLO before MAIL.
    SMTPD_HELO_REQUIRED: bool = "smtpd_helo_required", Bool, Text("no");
    /// Wait until RCPT TO before evaluating client/helo/sender restrictions.
    SMTPD_DELAY_REJECT: bool = "smtpd_delay_reject", Bool, Text("yes");
    /// Look up the client hostname.
    SMTPD_PEERNAME_LOOKUP: bool = "smtpd_peername_lookup", Bool, Text("yes");
    /// Restrictions applied at connect time.
    SMTPD_CLIENT_RESTRICTIONS: Vec<String> = "smtpd_client_restrictions", List, Text("");
    /// Restrictions applied to HELO/EHLO.
    SMTPD_HELO_RESTRICTIONS: Vec<String> = "smtpd_helo_restrictions", List, Text("");
    /// Restrictions applied to MAIL FROM.
    SMTPD_SENDER_RESTRICTIONS: Vec<String> = "smtpd_sender_restrictions", List, Text("");
    /// Relay control restrictions applied to RCPT TO.
    SMTPD_RELAY_RESTRICTIONS: Vec<String> = "smtpd_relay_restrictions", List, Text(r#"${{$compatibility_level} <level {1} ? {} : {permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination}}"#);
    /// Spam blocking restrictions applied to RCPT TO.
    SMTPD_RECIPIENT_RESTRICTIONS: Vec<String> = "smtpd_recipient_restrictions", List, Text("");
    /// Restrictions applied to DATA.
    SMTPD_DATA_RESTRICTIONS: Vec<String> = "smtpd_data_restrictions", List, Text("");
    /// Restrictions applied at end of DATA.
    SMTPD_END_OF_DATA_RESTRICTIONS: Vec<String> = "smtpd_end_of_data_restrictions", List, Text("");
    /// Restrictions applied to ETRN.
    SMTPD_ETRN_RESTRICTIONS: Vec<String> = "smtpd_etrn_restrictions", List, Text("");
    /// User-defined aliases for groups of restrictions.
    SMTPD_RESTRICTION_CLASSES: Vec<String> = "smtpd_restriction_classes", List, Text("");
    /// Evaluate relay restrictions before recipient restrictions.
    SMTPD_RELAY_BEFORE_RECIPIENT_RESTRICTIONS: bool = "smtpd_relay_before_recipient_restrictions", Bool, Text(r#"${{$compatibility_level} <level {3.6} ? {no} : {yes}}"#);
    /// Reject recipients unknown in their address class.
    SMTPD_REJECT_UNLISTED_RECIPIENT: bool = "smtpd_reject_unlisted_recipient", Bool, Text("yes");
    /// Reject senders unknown in their address class.
    SMTPD_REJECT_UNLISTED_SENDER: bool = "smtpd_reject_unlisted_sender", Bool, Text("no");
    /// Action when a policy service cannot answer (check_policy_service).
    SMTPD_POLICY_SERVICE_DEFAULT_ACTION: String = "smtpd_policy_service_default_action", Str, Text("451 4.3.5 Server configuration problem"), min 1;
    /// Time an idle policy service connection is kept open.
    SMTPD_POLICY_SERVICE_MAX_IDLE: Duration = "smtpd_policy_service_max_idle", Time('s'), Text("300s"), min 1;
    /// Time a policy service connection may be used (accepted; connections are reused while idle time allows).
    [informational] SMTPD_POLICY_SERVICE_MAX_TTL: Duration = "smtpd_policy_service_max_ttl", Time('s'), Text("1000s"), min 1;
    /// Text sent as the policy_context attribute of policy requests.
    SMTPD_POLICY_SERVICE_POLICY_CONTEXT: String = "smtpd_policy_service_policy_context", Str, Text("");
    /// Requests per policy service connection (0: no limit; accepted).
    [informational] SMTPD_POLICY_SERVICE_REQUEST_LIMIT: i64 = "smtpd_policy_service_request_limit", Int, Text("0");
    /// Delay before trying a failed policy request again.
    SMTPD_POLICY_SERVICE_RETRY_DELAY: Duration = "smtpd_policy_service_retry_delay", Time('s'), Text("1s"), min 1;
    /// Time limit for connecting to a policy service and for one exchange.
    SMTPD_POLICY_SERVICE_TIMEOUT: Duration = "smtpd_policy_service_timeout", Time('s'), Text("100s"), min 1;
    /// Attempts per policy request before the default action applies.
    SMTPD_POLICY_SERVICE_TRY_LIMIT: u32 = "smtpd_policy_service_try_limit", Int, Text("2"), min 1;
    /// Lookup key for the null sender address.
    SMTPD_NULL_ACCESS_LOOKUP_KEY: String = "smtpd_null_access_lookup_key", Str, Text("<>");
    /// Permit actions that are logged.
    [unimplemented] SMTPD_LOG_ACCESS_PERMIT_ACTIONS: Vec<String> = "smtpd_log_access_permit_actions", List, Text("");
    /// Text appended to reject replies.
    SMTPD_REJECT_FOOTER: String = "smtpd_reject_footer", Str, Text("");
    /// Tables of reject footers, looked up with the complete 4XX/5XX reply.
    SMTPD_REJECT_FOOTER_MAPS: Vec<String> = "smtpd_reject_footer_maps", List, Text("");
    /// Commands treated as NOOP.
    SMTPD_NOOP_COMMANDS: Vec<String> = "smtpd_noop_commands", List, Text("");
    /// Commands that cause immediate disconnection.
    SMTPD_FORBIDDEN_COMMANDS: Vec<String> = "smtpd_forbidden_commands", List, Text(r#"CONNECT GET POST regexp:{{/^[^A-Z]/ Bogus}}"#);
    /// EHLO keywords not announced and not accepted.
    SMTPD_DISCARD_EHLO_KEYWORDS: Vec<String> = "smtpd_discard_ehlo_keywords", List, Text("");
    /// Owners of MAIL FROM addresses for SASL login checks.
    SMTPD_SENDER_LOGIN_MAPS: Vec<String> = "smtpd_sender_login_maps", List, Text("");
    /// Clients allowed to use XCLIENT.
    [unimplemented] SMTPD_AUTHORIZED_XCLIENT_HOSTS: Vec<String> = "smtpd_authorized_xclient_hosts", List, Text("");
    /// Enable SASL authentication in the SMTP server.
    SMTPD_SASL_AUTH_ENABLE: bool = "smtpd_sasl_auth_enable", Bool, Text("no");
    /// SASL plug-in type (cyrus: gatepost's password store; dovecot: Dovecot's auth socket).
    SMTPD_SASL_TYPE: String = "smtpd_sasl_type", Str, Text("cyrus");
    /// SASL server socket (dovecot: unix path relative to queue_directory, or inet:host:port).
    SMTPD_SASL_PATH: String = "smtpd_sasl_path", Str, Text("smtpd");
    /// SASL mechanism restrictions before TLS (noanonymous, noplaintext).
    SMTPD_SASL_SECURITY_OPTIONS: Vec<String> = "smtpd_sasl_security_options", List, Text("noanonymous");
    /// SASL mechanism restrictions in TLS sessions.
    SMTPD_SASL_TLS_SECURITY_OPTIONS: Vec<String> = "smtpd_sasl_tls_security_options", List, Text("$smtpd_sasl_security_options");
    /// Realm appended to SASL login names without one.
    SMTPD_SASL_LOCAL_DOMAIN: String = "smtpd_sasl_local_domain", Str, Text("");
    /// Clients that are not offered AUTH in the EHLO reply.
    SMTPD_SASL_EXCEPTIONS_NETWORKS: Vec<String> = "smtpd_sasl_exceptions_networks", List, Text("");
    /// Put the SASL login name in the Received: header.
    SMTPD_SASL_AUTHENTICATED_HEADER: bool = "smtpd_sasl_authenticated_header", Bool, Text("no");
    /// Also announce AUTH in the old AUTH= form.
    BROKEN_SASL_AUTH_CLIENTS: bool = "broken_sasl_auth_clients", Bool, Text("no");
    /// gatepost-only: password store of smtpd_sasl_type = cyrus, managed with gatepost saslpasswd.
    GATEPOST_SASL_PASSWD_FILE: String = "gatepost_sasl_passwd_file", Str, Text("$config_directory/sasl_passwd");
    /// gatepost-only: generate a self-signed certificate at smtpd_tls_cert_file/smtpd_tls_key_file when they do not exist; yes in the embedded defaults.
    GATEPOST_TLS_SELF_SIGNED: bool = "gatepost_tls_self_signed", Bool, Text("no");
    /// SMTP server TLS security level (empty: smtpd_use_tls/smtpd_enforce_tls decide).
    SMTPD_TLS_SECURITY_LEVEL: String = "smtpd_tls_security_level", Enum(&["", "none", "may", "encrypt"]), Text("");
    /// Legacy: offer STARTTLS (security level may).
    SMTPD_USE_TLS: bool = "smtpd_use_tls", Bool, Text("no");
    /// Legacy: require STARTTLS (security level encrypt).
    SMTPD_ENFORCE_TLS: bool = "smtpd_enforce_tls", Bool, Text("no");
    /// Implicit TLS from the first byte (port 465, master.cf -o).
    SMTPD_TLS_WRAPPERMODE: bool = "smtpd_tls_wrappermode", Bool, Text("no");
    /// Server certificate chain file (PEM, RSA or ECDSA).
    SMTPD_TLS_CERT_FILE: String = "smtpd_tls_cert_file", Str, Text("");
    /// Server private key file (PEM).
    SMTPD_TLS_KEY_FILE: String = "smtpd_tls_key_file", Str, Text("$smtpd_tls_cert_file");
    /// Files holding the server key and certificate chain (PEM).
    SMTPD_TLS_CHAIN_FILES: Vec<String> = "smtpd_tls_chain_files", List, Text("");
    /// TLS protocols accepted with opportunistic TLS.
    SMTPD_TLS_PROTOCOLS: Vec<String> = "smtpd_tls_protocols", List, Text("!SSLv2, !SSLv3");
    /// TLS protocols accepted with mandatory TLS.
    SMTPD_TLS_MANDATORY_PROTOCOLS: Vec<String> = "smtpd_tls_mandatory_protocols", List, Text("!SSLv2, !SSLv3");
    /// SMTP server TLS logging (1: one summary line per handshake).
    SMTPD_TLS_LOGLEVEL: i64 = "smtpd_tls_loglevel", Int, Text("0");
    /// SMTP client TLS security level: none, may, encrypt, verify, secure (empty: smtp_use_tls/smtp_enforce_tls decide; dane and fingerprint fail closed).
    SMTP_TLS_SECURITY_LEVEL: String = "smtp_tls_security_level", Str, Text("");
    /// Trusted CA certificates (PEM) for the SMTP client; empty with smtp_tls_CApath: the webpki roots.
    SMTP_TLS_CAFILE: String = "smtp_tls_CAfile", Str, Text("");
    /// Directory of trusted CA certificates (PEM) for the SMTP client.
    SMTP_TLS_CAPATH: String = "smtp_tls_CApath", Str, Text("");
    /// Also trust the default (webpki) roots when a CAfile or CApath is set.
    TLS_APPEND_DEFAULT_CA: bool = "tls_append_default_CA", Bool, Text("no");
    /// Names the server certificate must match at level verify.
    SMTP_TLS_VERIFY_CERT_MATCH: Vec<String> = "smtp_tls_verify_cert_match", List, Text("hostname");
    /// Names the server certificate must match at level secure.
    SMTP_TLS_SECURE_CERT_MATCH: Vec<String> = "smtp_tls_secure_cert_match", List, Text("nexthop, dot-nexthop");
    /// TLS protocols the SMTP client uses with opportunistic TLS.
    SMTP_TLS_PROTOCOLS: Vec<String> = "smtp_tls_protocols", List, Text(">=TLSv1");
    /// TLS protocols the SMTP client uses with mandatory TLS.
    SMTP_TLS_MANDATORY_PROTOCOLS: Vec<String> = "smtp_tls_mandatory_protocols", List, Text(">=TLSv1");
    /// Per-destination TLS security policy tables.
    SMTP_TLS_POLICY_MAPS: Vec<String> = "smtp_tls_policy_maps", List, Text("");
    /// SMTP client AUTH to the next hop.
    SMTP_SASL_AUTH_ENABLE: bool = "smtp_sasl_auth_enable", Bool, Text("no");
    /// SMTP client credentials: next hop (or sender) → username:password.
    SMTP_SASL_PASSWORD_MAPS: Vec<String> = "smtp_sasl_password_maps", List, Text("");
    /// SMTP client SASL implementation (cyrus: gatepost's own PLAIN and LOGIN).
    SMTP_SASL_TYPE: String = "smtp_sasl_type", Str, Text("cyrus");
    /// SMTP client SASL options without TLS (noplaintext, noanonymous ...).
    SMTP_SASL_SECURITY_OPTIONS: Vec<String> = "smtp_sasl_security_options", List, Text("noplaintext, noanonymous");
    /// SMTP client SASL options inside unverified TLS.
    SMTP_SASL_TLS_SECURITY_OPTIONS: Vec<String> = "smtp_sasl_tls_security_options", List, Text("$smtp_sasl_security_options");
    /// SMTP client SASL options inside verified TLS.
    SMTP_SASL_TLS_VERIFIED_SECURITY_OPTIONS: Vec<String> = "smtp_sasl_tls_verified_security_options", List, Text("$smtp_sasl_tls_security_options");
    /// AUTH mechanisms the SMTP client may use from the server's list (empty: all).
    SMTP_SASL_MECHANISM_FILTER: Vec<String> = "smtp_sasl_mechanism_filter", List, Text("");
    /// Look up smtp_sasl_password_maps by sender address first.
    SMTP_SENDER_DEPENDENT_AUTHENTICATION: bool = "smtp_sender_dependent_authentication", Bool, Text("no");
    /// Defer, not bounce, on a 5xx AUTH failure.
    SMTP_SASL_AUTH_SOFT_BOUNCE: bool = "smtp_sasl_auth_soft_bounce", Bool, Text("yes");
    /// Send AUTH=<> in MAIL FROM when AUTH is on and the server offers it.
    SMTP_SEND_DUMMY_MAIL_AUTH: bool = "smtp_send_dummy_mail_auth", Bool, Text("no");
    /// Legacy: use STARTTLS when the server offers it (security level may).
    SMTP_USE_TLS: bool = "smtp_use_tls", Bool, Text("no");
    /// Legacy: require STARTTLS (security level encrypt).
    SMTP_ENFORCE_TLS: bool = "smtp_enforce_tls", Bool, Text("no");
    /// SMTP client TLS logging (1: one summary line per handshake).
    SMTP_TLS_LOGLEVEL: i64 = "smtp_tls_loglevel", Int, Text("0");
    /// Put the TLS protocol and cipher in the Received: header.
    SMTPD_TLS_RECEIVED_HEADER: bool = "smtpd_tls_received_header", Bool, Text("no");
    /// Offer and accept AUTH only after STARTTLS (yes in gatepost's embedded defaults).
    SMTPD_TLS_AUTH_ONLY: bool = "smtpd_tls_auth_only", Bool, Text("no");
    /// Disable the VRFY command.
    DISABLE_VRFY_COMMAND: bool = "disable_vrfy_command", Bool, Text("no");
    /// Require RFC 821 style addresses in MAIL and RCPT.
    STRICT_RFC821_ENVELOPES: bool = "strict_rfc821_envelopes", Bool, Text("no");
    /// Enable SMTPUTF8 support.
    SMTPUTF8_ENABLE: bool = "smtputf8_enable", Bool, Text(r#"${{$compatibility_level} <level {1} ? {no} : {yes}}"#);
    /// Turn 5xx replies into 4xx (safety net).
    SOFT_BOUNCE: bool = "soft_bounce", Bool, Text("no");
    /// Name the table in "User unknown" replies.
    SHOW_USER_UNKNOWN_TABLE_NAME: bool = "show_user_unknown_table_name", Bool, Text("yes");
    /// Handling of bare <LF> (SMTP smuggling defence).
    SMTPD_FORBID_BARE_NEWLINE: String = "smtpd_forbid_bare_newline", Enum(&["no", "yes", "normalize", "reject"]), Text("normalize");
    /// Clients exempt from smtpd_forbid_bare_newline.
    SMTPD_FORBID_BARE_NEWLINE_EXCLUSIONS: Vec<String> = "smtpd_forbid_bare_newline_exclusions", List, Text("$mynetworks");
    /// Reply code for bare <LF> in reject mode.
    SMTPD_FORBID_BARE_NEWLINE_REJECT_CODE: u16 = "smtpd_forbid_bare_newline_reject_code", Int, Text("550"), min 400, max 599;
    /// Disconnect clients that pipeline improperly.
    SMTPD_FORBID_UNAUTH_PIPELINING: bool = "smtpd_forbid_unauth_pipelining", Bool, Text("yes");
    /// Create the queue file only after a valid recipient.
    SMTPD_DELAY_OPEN_UNTIL_VALID_RCPT: bool = "smtpd_delay_open_until_valid_rcpt", Bool, Text("yes");
    /// Log the client port number.
    SMTPD_CLIENT_PORT_LOGGING: bool = "smtpd_client_port_logging", Bool, Text("no");
    /// Use long, non-repeating queue IDs.
    [unimplemented] ENABLE_LONG_QUEUE_IDS: bool = "enable_long_queue_ids", Bool, Text("no");
    /// Time between deferred queue scans.
    QUEUE_RUN_DELAY: Duration = "queue_run_delay", Time('s'), Text("300s");
    /// Minimal time between delivery attempts of a deferred message.
    MINIMAL_BACKOFF_TIME: Duration = "minimal_backoff_time", Time('s'), Text("300s");
    /// Maximal time between delivery attempts of a deferred message.
    MAXIMAL_BACKOFF_TIME: Duration = "maximal_backoff_time", Time('s'), Text("4000s");
    /// Time after which an undeliverable message is returned.
    MAXIMAL_QUEUE_LIFETIME: Duration = "maximal_queue_lifetime", Time('d'), Text("5d");
    /// Queue lifetime of undeliverable bounce messages.
    BOUNCE_QUEUE_LIFETIME: Duration = "bounce_queue_lifetime", Time('d'), Text("5d");
    /// Time after which the sender gets a delay notice (0: never).
    DELAY_WARNING_TIME: Duration = "delay_warning_time", Time('h'), Text("0h");
    /// Maximal messages in the active queue.
    QMGR_MESSAGE_ACTIVE_LIMIT: usize = "qmgr_message_active_limit", Int, Text("20000"), min 1;
    /// Default maximal number of processes per service.
    DEFAULT_PROCESS_LIMIT: usize = "default_process_limit", Int, Text("100"), min 1;
    /// Time a daemon waits for a new request.
    MAX_IDLE: Duration = "max_idle", Time('s'), Text("100s");
    /// Requests a daemon serves before it exits.
    [informational] MAX_USE: i64 = "max_use", Int, Text("100");
    /// Timeout for internal communication.
    [informational] IPC_TIMEOUT: Duration = "ipc_timeout", Time('s'), Text("3600s");
    /// Delay of message arrival when the queue is congested.
    [unimplemented] IN_FLOW_DELAY: Duration = "in_flow_delay", Time('s'), Text("1s");
    /// Maximal bytes of the original message returned in a bounce.
    BOUNCE_SIZE_LIMIT: u64 = "bounce_size_limit", Int, Text("50000");
    /// Recipient of bounce postmaster notices.
    [unimplemented] BOUNCE_NOTICE_RECIPIENT: String = "bounce_notice_recipient", Str, Text("postmaster");
    /// Recipient of undeliverable bounce notices.
    DOUBLE_BOUNCE_NOTICE_RECIPIENT: String = "2bounce_notice_recipient", Str, Text("postmaster"), min 1;
    /// Recipient of delay postmaster notices.
    [unimplemented] DELAY_NOTICE_RECIPIENT: String = "delay_notice_recipient", Str, Text("postmaster");
    /// Recipient of error postmaster notices.
    [unimplemented] ERROR_NOTICE_RECIPIENT: String = "error_notice_recipient", Str, Text("postmaster");
    /// Problem classes reported to the postmaster.
    [unimplemented] NOTIFY_CLASSES: Vec<String> = "notify_classes", List, Text("resource, software");
    /// Default parallel deliveries per destination.
    DEFAULT_DESTINATION_CONCURRENCY_LIMIT: usize = "default_destination_concurrency_limit", Int, Text("20");
    /// Parallel local deliveries per recipient.
    LOCAL_DESTINATION_CONCURRENCY_LIMIT: usize = "local_destination_concurrency_limit", Int, Text("2");
    /// Default maximal recipients per delivery request.
    DEFAULT_DESTINATION_RECIPIENT_LIMIT: usize = "default_destination_recipient_limit", Int, Text("50");
    /// Maximal recipients per local delivery request.
    LOCAL_DESTINATION_RECIPIENT_LIMIT: usize = "local_destination_recipient_limit", Int, Text("1");
    /// Clients whose headers are rewritten with local domains.
    [unimplemented] LOCAL_HEADER_REWRITE_CLIENTS: Vec<String> = "local_header_rewrite_clients", List, Text("permit_inet_interfaces");
    /// Add missing From:, To:, Date:, Message-ID: headers always.
    ALWAYS_ADD_MISSING_HEADERS: bool = "always_add_missing_headers", Bool, Text("no");
    /// Replace stray CR and LF in message content with space.
    [unimplemented] CLEANUP_REPLACE_STRAY_CR_LF: bool = "cleanup_replace_stray_cr_lf", Bool, Text("yes");
    /// Notify the local biff service.
    [informational] BIFF: bool = "biff", Bool, Text("yes");
    /// Header content inspection tables.
    HEADER_CHECKS: Vec<String> = "header_checks", List, Text("");
    /// MIME header inspection tables.
    MIME_HEADER_CHECKS: Vec<String> = "mime_header_checks", List, Text("$header_checks");
    /// Attached message header inspection tables.
    NESTED_HEADER_CHECKS: Vec<String> = "nested_header_checks", List, Text("$header_checks");
    /// Body content inspection tables.
    BODY_CHECKS: Vec<String> = "body_checks", List, Text("");
    /// Bytes of each body part inspected by body_checks.
    BODY_CHECKS_SIZE_LIMIT: usize = "body_checks_size_limit", Int, Text("51200");
    /// Turn off MIME processing in cleanup.
    DISABLE_MIME_INPUT_PROCESSING: bool = "disable_mime_input_processing", Bool, Text("no");
    /// Maximal MIME multipart nesting.
    MIME_NESTING_LIMIT: usize = "mime_nesting_limit", Int, Text("100"), min 1;
    /// Maximal length of a MIME multipart boundary string.
    MIME_BOUNDARY_LENGTH_LIMIT: usize = "mime_boundary_length_limit", Int, Text("2048"), min 1;
    /// Reject mail with 8-bit text in headers or in 7-bit bodies.
    STRICT_8BITMIME: bool = "strict_8bitmime", Bool, Text("no");
    /// Reject mail with 8-bit text in message headers.
    STRICT_7BIT_HEADERS: bool = "strict_7bit_headers", Bool, Text("no");
    /// Reject 8-bit body text without 8-bit encoding information.
    STRICT_8BITMIME_BODY: bool = "strict_8bitmime_body", Bool, Text("no");
    /// Reject invalid message/* or multipart/* encodings.
    STRICT_MIME_ENCODING_DOMAIN: bool = "strict_mime_encoding_domain", Bool, Text("no");
    /// Maximal address tokens parsed in one message header.
    HEADER_ADDRESS_TOKEN_LIMIT: usize = "header_address_token_limit", Int, Text("10240"), min 1;
    /// Clients or servers that get extra logging.
    [unimplemented] DEBUG_PEER_LIST: Vec<String> = "debug_peer_list", List, Text("");
    /// Extra verbosity for debug_peer_list matches.
    [unimplemented] DEBUG_PEER_LEVEL: i64 = "debug_peer_level", Int, Text("2");
    /// Destinations eligible for ETRN fast flush.
    FAST_FLUSH_DOMAINS: Vec<String> = "fast_flush_domains", List, Text("$relay_domains");
    /// Clients allowed to use QMQP.
    [unimplemented] QMQPD_AUTHORIZED_CLIENTS: Vec<String> = "qmqpd_authorized_clients", List, Text("");
    /// Networks of primary MX hosts for permit_mx_backup.
    [unimplemented] PERMIT_MX_BACKUP_NETWORKS: Vec<String> = "permit_mx_backup_networks", List, Text("");
    /// Disable DNS lookups in the SMTP client (obsolete).
    DISABLE_DNS_LOOKUPS: bool = "disable_dns_lookups", Bool, Text("no");
    /// How the SMTP client finds hosts: dns, native.
    SMTP_HOST_LOOKUP: Vec<String> = "smtp_host_lookup", List, Text("dns");
    /// Hostname sent by the SMTP client in HELO/EHLO.
    SMTP_HELO_NAME: String = "smtp_helo_name", Str, Text("$myhostname");
    /// Length at which the SMTP client folds long lines.
    SMTP_LINE_LENGTH_LIMIT: usize = "smtp_line_length_limit", Int, Text("998");
    /// Skip servers that greet with 5xx.
    SMTP_SKIP_5XX_GREETING: bool = "smtp_skip_5xx_greeting", Bool, Text("yes");
    /// Relays tried when the destination is unreachable.
    SMTP_FALLBACK_RELAY: Vec<String> = "smtp_fallback_relay", List, Text("$fallback_relay");
    /// SMTP client connect timeout.
    SMTP_CONNECT_TIMEOUT: Duration = "smtp_connect_timeout", Time('s'), Text("30s");
    /// SMTP client timeout for the greeting and HELO reply.
    SMTP_HELO_TIMEOUT: Duration = "smtp_helo_timeout", Time('s'), Text("300s");
    /// SMTP client timeout for the MAIL FROM reply.
    SMTP_MAIL_TIMEOUT: Duration = "smtp_mail_timeout", Time('s'), Text("300s");
    /// SMTP client timeout for the RCPT TO reply.
    SMTP_RCPT_TIMEOUT: Duration = "smtp_rcpt_timeout", Time('s'), Text("300s");
    /// SMTP client timeout for the DATA reply.
    SMTP_DATA_INIT_TIMEOUT: Duration = "smtp_data_init_timeout", Time('s'), Text("120s");
    /// SMTP client timeout for sending content.
    SMTP_DATA_XFER_TIMEOUT: Duration = "smtp_data_xfer_timeout", Time('s'), Text("180s");
    /// SMTP client timeout for the end-of-data reply.
    SMTP_DATA_DONE_TIMEOUT: Duration = "smtp_data_done_timeout", Time('s'), Text("600s");
    /// SMTP client timeout for the QUIT reply.
    SMTP_QUIT_TIMEOUT: Duration = "smtp_quit_timeout", Time('s'), Text("300s");
    /// Local IPv4 address for outbound SMTP connections.
    SMTP_BIND_ADDRESS: String = "smtp_bind_address", Str, Text("");
    /// Local IPv6 address for outbound SMTP connections.
    SMTP_BIND_ADDRESS6: String = "smtp_bind_address6", Str, Text("");
    /// Default TCP port (number or service) of the SMTP client.
    SMTP_TCP_PORT: String = "smtp_tcp_port", Str, Text("smtp");
    /// Most MX addresses the SMTP client tries per destination (0 = no limit).
    SMTP_MX_ADDRESS_LIMIT: usize = "smtp_mx_address_limit", Int, Text("5");
    /// Most SMTP sessions per destination in one delivery (0 = no limit).
    SMTP_MX_SESSION_LIMIT: usize = "smtp_mx_session_limit", Int, Text("2");
    /// Address family tried first among equal-preference MX addresses: ipv6, ipv4, any.
    SMTP_ADDRESS_PREFERENCE: String = "smtp_address_preference", Str, Text("any");
    /// Keep both address families within smtp_mx_address_limit.
    SMTP_BALANCE_INET_PROTOCOLS: bool = "smtp_balance_inet_protocols", Bool, Text("yes");
    /// Reuse SMTP connections to a destination with a backlog (the queue manager's on-demand hint).
    SMTP_CONNECTION_CACHE_ON_DEMAND: bool = "smtp_connection_cache_on_demand", Bool, Text("yes");
    /// Destinations whose SMTP connections are always cached.
    SMTP_CONNECTION_CACHE_DESTINATIONS: Vec<String> = "smtp_connection_cache_destinations", List, Text("");
    /// How long an idle SMTP connection stays cached.
    SMTP_CONNECTION_CACHE_TIME_LIMIT: Duration = "smtp_connection_cache_time_limit", Time('s'), Text("2s"), min 1;
    /// How long an SMTP connection may be reused after it was made.
    SMTP_CONNECTION_REUSE_TIME_LIMIT: Duration = "smtp_connection_reuse_time_limit", Time('s'), Text("300s"), min 1;
    /// How many deliveries one SMTP connection may carry (0 = no limit).
    SMTP_CONNECTION_REUSE_COUNT_LIMIT: usize = "smtp_connection_reuse_count_limit", Int, Text("0");
    /// SMTP client timeout for the RSET reply (RSET probe of a cached connection).
    SMTP_RSET_TIMEOUT: Duration = "smtp_rset_timeout", Time('s'), Text("20s");
    /// Cache TLS connections (Postfix: through tlsproxy(8)); gatepost keeps TLS connections uncached.
    [unimplemented] SMTP_TLS_CONNECTION_REUSE: bool = "smtp_tls_connection_reuse", Bool, Text("no");
    /// Reuse LMTP connections to a destination with a backlog.
    LMTP_CONNECTION_CACHE_ON_DEMAND: bool = "lmtp_connection_cache_on_demand", Bool, Text("yes");
    /// Destinations whose LMTP connections are always cached.
    LMTP_CONNECTION_CACHE_DESTINATIONS: Vec<String> = "lmtp_connection_cache_destinations", List, Text("");
    /// How long an idle LMTP connection stays cached.
    LMTP_CONNECTION_CACHE_TIME_LIMIT: Duration = "lmtp_connection_cache_time_limit", Time('s'), Text("2s"), min 1;
    /// How long an LMTP connection may be reused after it was made.
    LMTP_CONNECTION_REUSE_TIME_LIMIT: Duration = "lmtp_connection_reuse_time_limit", Time('s'), Text("300s"), min 1;
    /// How many deliveries one LMTP connection may carry (0 = no limit).
    LMTP_CONNECTION_REUSE_COUNT_LIMIT: usize = "lmtp_connection_reuse_count_limit", Int, Text("0");
    /// LMTP client timeout for the RSET reply.
    LMTP_RSET_TIMEOUT: Duration = "lmtp_rset_timeout", Time('s'), Text("20s");
    /// How the LMTP client finds hosts: dns, native.
    LMTP_HOST_LOOKUP: Vec<String> = "lmtp_host_lookup", List, Text("dns");
    /// Address family tried first among a host's addresses (LMTP): ipv6, ipv4, any.
    LMTP_ADDRESS_PREFERENCE: String = "lmtp_address_preference", Str, Text("any");
    /// Keep both address families within lmtp_mx_address_limit.
    LMTP_BALANCE_INET_PROTOCOLS: bool = "lmtp_balance_inet_protocols", Bool, Text("yes");
    /// Most addresses the LMTP client tries per destination (0 = no limit).
    LMTP_MX_ADDRESS_LIMIT: usize = "lmtp_mx_address_limit", Int, Text("5");
    /// Most LMTP sessions per destination in one delivery (0 = no limit).
    LMTP_MX_SESSION_LIMIT: usize = "lmtp_mx_session_limit", Int, Text("2");
    /// Randomize the order of a host's addresses (LMTP).
    LMTP_RANDOMIZE_ADDRESSES: bool = "lmtp_randomize_addresses", Bool, Text("yes");
    /// Local IPv4 address for outbound LMTP connections.
    LMTP_BIND_ADDRESS: String = "lmtp_bind_address", Str, Text("");
    /// Local IPv6 address for outbound LMTP connections.
    LMTP_BIND_ADDRESS6: String = "lmtp_bind_address6", Str, Text("");
    /// LMTP client TLS level: none, may, encrypt, verify, secure (empty: lmtp_use_tls / lmtp_enforce_tls).
    LMTP_TLS_SECURITY_LEVEL: String = "lmtp_tls_security_level", Str, Text("");
    /// Trusted CA certificates (PEM) for the LMTP client.
    LMTP_TLS_CAFILE: String = "lmtp_tls_CAfile", Str, Text("");
    /// Directory of trusted CA certificates for the LMTP client.
    LMTP_TLS_CAPATH: String = "lmtp_tls_CApath", Str, Text("");
    /// Names an LMTP server certificate must match at level verify.
    LMTP_TLS_VERIFY_CERT_MATCH: Vec<String> = "lmtp_tls_verify_cert_match", List, Text("hostname");
    /// Names an LMTP server certificate must match at level secure.
    LMTP_TLS_SECURE_CERT_MATCH: Vec<String> = "lmtp_tls_secure_cert_match", List, Text("nexthop");
    /// TLS protocols of the LMTP client at level may.
    LMTP_TLS_PROTOCOLS: Vec<String> = "lmtp_tls_protocols", List, Text(">=TLSv1");
    /// TLS protocols of the LMTP client at levels encrypt and above.
    LMTP_TLS_MANDATORY_PROTOCOLS: Vec<String> = "lmtp_tls_mandatory_protocols", List, Text(">=TLSv1");
    /// Per-destination TLS policy of the LMTP client.
    LMTP_TLS_POLICY_MAPS: Vec<String> = "lmtp_tls_policy_maps", List, Text("");
    /// LMTP client TLS log level.
    LMTP_TLS_LOGLEVEL: i64 = "lmtp_tls_loglevel", Int, Text("0");
    /// Legacy: opportunistic TLS in the LMTP client.
    LMTP_USE_TLS: bool = "lmtp_use_tls", Bool, Text("no");
    /// Legacy: mandatory TLS in the LMTP client.
    LMTP_ENFORCE_TLS: bool = "lmtp_enforce_tls", Bool, Text("no");
    /// LMTP client AUTH.
    LMTP_SASL_AUTH_ENABLE: bool = "lmtp_sasl_auth_enable", Bool, Text("no");
    /// LMTP client credentials table (username:password).
    LMTP_SASL_PASSWORD_MAPS: Vec<String> = "lmtp_sasl_password_maps", List, Text("");
    /// LMTP client SASL implementation.
    LMTP_SASL_TYPE: String = "lmtp_sasl_type", Str, Text("cyrus");
    /// LMTP client SASL security options outside TLS.
    LMTP_SASL_SECURITY_OPTIONS: Vec<String> = "lmtp_sasl_security_options", List, Text("noplaintext, noanonymous");
    /// LMTP client SASL security options inside TLS.
    LMTP_SASL_TLS_SECURITY_OPTIONS: Vec<String> = "lmtp_sasl_tls_security_options", List, Text("$lmtp_sasl_security_options");
    /// LMTP client SASL security options inside verified TLS.
    LMTP_SASL_TLS_VERIFIED_SECURITY_OPTIONS: Vec<String> = "lmtp_sasl_tls_verified_security_options", List, Text("$lmtp_sasl_tls_security_options");
    /// LMTP client SASL mechanisms to use or (with !) avoid.
    LMTP_SASL_MECHANISM_FILTER: Vec<String> = "lmtp_sasl_mechanism_filter", List, Text("");
    /// Look up lmtp_sasl_password_maps by sender address first.
    LMTP_SENDER_DEPENDENT_AUTHENTICATION: bool = "lmtp_sender_dependent_authentication", Bool, Text("no");
    /// Defer instead of bounce when the LMTP server refuses AUTH.
    LMTP_SASL_AUTH_SOFT_BOUNCE: bool = "lmtp_sasl_auth_soft_bounce", Bool, Text("yes");
    /// Send AUTH=<> in MAIL FROM after an LMTP login without an identity.
    LMTP_SEND_DUMMY_MAIL_AUTH: bool = "lmtp_send_dummy_mail_auth", Bool, Text("no");
    /// Hostname the LMTP client sends in LHLO.
    LMTP_LHLO_NAME: String = "lmtp_lhlo_name", Str, Text("$myhostname");
    /// Default TCP port (number or service) of the LMTP client.
    LMTP_TCP_PORT: String = "lmtp_tcp_port", Str, Text("24");
    /// LMTP client connect timeout (0 = the system's).
    LMTP_CONNECT_TIMEOUT: Duration = "lmtp_connect_timeout", Time('s'), Text("0s");
    /// LMTP client timeout for the greeting and LHLO reply.
    LMTP_LHLO_TIMEOUT: Duration = "lmtp_lhlo_timeout", Time('s'), Text("300s");
    /// LMTP client timeout for the MAIL FROM reply.
    LMTP_MAIL_TIMEOUT: Duration = "lmtp_mail_timeout", Time('s'), Text("300s");
    /// LMTP client timeout for the RCPT TO reply.
    LMTP_RCPT_TIMEOUT: Duration = "lmtp_rcpt_timeout", Time('s'), Text("300s");
    /// LMTP client timeout for the DATA reply.
    LMTP_DATA_INIT_TIMEOUT: Duration = "lmtp_data_init_timeout", Time('s'), Text("120s");
    /// LMTP client timeout for sending content.
    LMTP_DATA_XFER_TIMEOUT: Duration = "lmtp_data_xfer_timeout", Time('s'), Text("180s");
    /// LMTP client timeout for each recipient's end-of-data reply.
    LMTP_DATA_DONE_TIMEOUT: Duration = "lmtp_data_done_timeout", Time('s'), Text("600s");
    /// LMTP client timeout for the QUIT reply.
    LMTP_QUIT_TIMEOUT: Duration = "lmtp_quit_timeout", Time('s'), Text("300s");
    /// Length at which the LMTP client folds long lines.
    LMTP_LINE_LENGTH_LIMIT: usize = "lmtp_line_length_limit", Int, Text("998");
    /// Skip LMTP servers that greet with 5xx.
    LMTP_SKIP_5XX_GREETING: bool = "lmtp_skip_5xx_greeting", Bool, Text("yes");
    /// Randomize the order of equal-preference MX host addresses.
    SMTP_RANDOMIZE_ADDRESSES: bool = "smtp_randomize_addresses", Bool, Text("yes");
    /// Fall back to A/AAAA lookups when an MX lookup fails.
    IGNORE_MX_LOOKUP_ERROR: bool = "ignore_mx_lookup_error", Bool, Text("no");
    /// Reply code for the reject restriction.
    REJECT_CODE: u16 = "reject_code", Int, Text("554");
    /// Reply code for the defer restriction.
    DEFER_CODE: u16 = "defer_code", Int, Text("450");
    /// Reply code for access map REJECT.
    ACCESS_MAP_REJECT_CODE: u16 = "access_map_reject_code", Int, Text("554");
    /// Reply code for access map DEFER and friends.
    ACCESS_MAP_DEFER_CODE: u16 = "access_map_defer_code", Int, Text("450");
    /// Reply code for reject_unauth_destination.
    RELAY_DOMAINS_REJECT_CODE: u16 = "relay_domains_reject_code", Int, Text("554");
    /// gatepost-only: give a local name that has no passwd entry and no alias a mailbox under mail_spool_directory (when local_recipient_maps is empty or lists it) instead of bouncing it as Postfix's local(8) does; yes in the embedded defaults.
    LOCAL_MAILBOX_FOR_UNKNOWN_USERS: bool = "local_mailbox_for_unknown_users", Bool, Text("no");
    /// gatepost-only: DNS servers to ask (ip, ip:port or [ipv6]:port); empty = those of /etc/resolv.conf; /etc/hosts is consulted first for A/AAAA/PTR.
    DNS_NAMESERVERS: Vec<String> = "dns_nameservers", List, Text("");
    /// gatepost-only: time to wait for one DNS server's reply to one query.
    DNS_QUERY_TIMEOUT: Duration = "dns_query_timeout", Time('s'), Text("5s"), min 1;
    /// gatepost-only: rounds over the DNS servers before a lookup fails temporarily (at most 5).
    DNS_QUERY_ATTEMPTS: u32 = "dns_query_attempts", Int, Text("2"), min 1, max 5;
    /// gatepost-only: fail-closed parameters (e.g. content_filter, header_checks) whose setting gatepost may ignore: the server starts anyway and logs a warning at every start instead of refusing.
    GATEPOST_ACCEPT_UNIMPLEMENTED: Vec<String> = "gatepost_accept_unimplemented", List, Text("");
    /// gatepost-only: let serve/start run a configuration that `gatepost check` proves to be an open relay (a warning is logged at every start); no refuses to start.
    GATEPOST_ALLOW_OPEN_RELAY: bool = "gatepost_allow_open_relay", Bool, Text("no");
    /// gatepost-only: most bytes of new messages the server holds in memory between their commit and their delivery; past it each is read back from the write-ahead log (0: always read back).
    GATEPOST_QUEUE_MEMORY_LIMIT: u64 = "gatepost_queue_memory_limit", Size, Text("16777216");
    /// gatepost-only: `host:port` where `gatepost serve` answers `GET /metrics` (Prometheus); empty: no metrics endpoint.
    GATEPOST_METRICS_LISTEN: String = "gatepost_metrics_listen", Str, Text("");
    /// gatepost-only: let `gatepost_metrics_listen` be an address other than loopback; no refuses to start.
    GATEPOST_METRICS_ALLOW_REMOTE: bool = "gatepost_metrics_allow_remote", Bool, Text("no");
    /// gatepost-only: smtpd verifies SPF, DKIM and DMARC of mail from other than mynetworks or authenticated clients and adds `Authentication-Results:`.
    GATEPOST_MAIL_AUTH_VERIFY: bool = "gatepost_mail_auth_verify", Bool, Text("no");
    /// gatepost-only: what a failed DMARC check with p=reject or p=quarantine does: no (header only), quarantine (hold queue), yes (reject or hold as the policy says).
    GATEPOST_DMARC_ENFORCE: String = "gatepost_dmarc_enforce", Str, Text("no");
    /// gatepost-only: table of sender domain to selector:/path/to/key.pem; mail from mynetworks, authenticated and local clients is DKIM-signed.
    GATEPOST_DKIM_SIGNING_KEYS: String = "gatepost_dkim_signing_keys", Str, Text("");
    /// gatepost-only: ARC-seal (RFC 8617) mail verified at receipt: no, forwarded (a recipient is in another domain after virtual_alias_maps), all.
    GATEPOST_ARC_SEAL: String = "gatepost_arc_seal", Str, Text("no");
    /// gatepost-only: the domain (d=) of gatepost's ARC seals; its gatepost_dkim_signing_keys entry gives the selector and key.
    GATEPOST_ARC_DOMAIN: String = "gatepost_arc_domain", Str, Text("$mydomain");
    /// Reply code for DNS block list rejects.
    MAPS_RBL_REJECT_CODE: u16 = "maps_rbl_reject_code", Int, Text("554");
    /// Reply code for invalid hostnames.
    INVALID_HOSTNAME_REJECT_CODE: u16 = "invalid_hostname_reject_code", Int, Text("501");
    /// Reply code for non-FQDN hostnames and addresses.
    NON_FQDN_REJECT_CODE: u16 = "non_fqdn_reject_code", Int, Text("504");
    /// Reply code for reject_unknown_helo_hostname.
    UNKNOWN_HOSTNAME_REJECT_CODE: u16 = "unknown_hostname_reject_code", Int, Text("450");
    /// Reply code for unknown sender/recipient domains.
    UNKNOWN_ADDRESS_REJECT_CODE: u16 = "unknown_address_reject_code", Int, Text("450");
    /// Reply code for unknown client hostnames.
    UNKNOWN_CLIENT_REJECT_CODE: u16 = "unknown_client_reject_code", Int, Text("450");
    /// Reply code for unknown local recipients.
    UNKNOWN_LOCAL_RECIPIENT_REJECT_CODE: u16 = "unknown_local_recipient_reject_code", Int, Text("550");
    /// Reply code for unknown virtual alias recipients.
    UNKNOWN_VIRTUAL_ALIAS_REJECT_CODE: u16 = "unknown_virtual_alias_reject_code", Int, Text("550");
    /// Reply code for unknown virtual mailbox recipients.
    UNKNOWN_VIRTUAL_MAILBOX_REJECT_CODE: u16 = "unknown_virtual_mailbox_reject_code", Int, Text("550");
    /// Reply code for unknown relay recipients.
    UNKNOWN_RELAY_RECIPIENT_REJECT_CODE: u16 = "unknown_relay_recipient_reject_code", Int, Text("550");
    /// Reply code for reject_multi_recipient_bounce.
    MULTI_RECIPIENT_BOUNCE_REJECT_CODE: u16 = "multi_recipient_bounce_reject_code", Int, Text("550");
    /// Reply code for reject_plaintext_session.
    PLAINTEXT_REJECT_CODE: u16 = "plaintext_reject_code", Int, Text("450");
    /// Reply code when a recipient probe bounced.
    [unimplemented] UNVERIFIED_RECIPIENT_REJECT_CODE: u16 = "unverified_recipient_reject_code", Int, Text("450");
    /// Reply code when a sender probe bounced.
    [unimplemented] UNVERIFIED_SENDER_REJECT_CODE: u16 = "unverified_sender_reject_code", Int, Text("450");
    /// Reply code when a recipient probe is pending.
    UNVERIFIED_RECIPIENT_DEFER_CODE: u16 = "unverified_recipient_defer_code", Int, Text("450");
    /// Reply code when a sender probe is pending.
    UNVERIFIED_SENDER_DEFER_CODE: u16 = "unverified_sender_defer_code", Int, Text("450");
    /// Reply text replacing a failed recipient probe's text.
    [unimplemented] UNVERIFIED_RECIPIENT_REJECT_REASON: String = "unverified_recipient_reject_reason", Str, Text("");
    /// Reply text replacing a failed sender probe's text.
    [unimplemented] UNVERIFIED_SENDER_REJECT_REASON: String = "unverified_sender_reject_reason", Str, Text("");
    /// Default action for temporary lookup failures.
    [informational] REJECT_TEMPFAIL_ACTION: String = "reject_tempfail_action", Enum(&["defer_if_permit", "defer"]), Text("defer_if_permit");
    /// Action on DNS tempfail for the HELO hostname.
    UNKNOWN_HELO_HOSTNAME_TEMPFAIL_ACTION: String = "unknown_helo_hostname_tempfail_action", Enum(&["defer_if_permit", "defer"]), Text("$reject_tempfail_action");
    /// Action on DNS tempfail for address domains.
    UNKNOWN_ADDRESS_TEMPFAIL_ACTION: String = "unknown_address_tempfail_action", Enum(&["defer_if_permit", "defer"]), Text("$reject_tempfail_action");
    /// Action when recipient verification fails temporarily.
    UNVERIFIED_RECIPIENT_TEMPFAIL_ACTION: String = "unverified_recipient_tempfail_action", Enum(&["defer_if_permit", "defer"]), Text("$reject_tempfail_action");
    /// Action when sender verification fails temporarily.
    UNVERIFIED_SENDER_TEMPFAIL_ACTION: String = "unverified_sender_tempfail_action", Enum(&["defer_if_permit", "defer"]), Text("$reject_tempfail_action");
    /// Time limit for delivery to an external command.
    COMMAND_TIME_LIMIT: Duration = "command_time_limit", Time('s'), Text("1000s"), min 1;
    /// Rights used by local(8) for deliveries to files and commands when no owner applies.
    DEFAULT_PRIVS: String = "default_privs", Str, Text("nobody"), min 1;
    /// Reply template of a DNSBL reject when rbl_reply_maps has no entry.
    DEFAULT_RBL_REPLY: String = "default_rbl_reply", Str, Text("$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}");
    /// Attempts to lock a mailbox file before giving up.
    DELIVER_LOCK_ATTEMPTS: u32 = "deliver_lock_attempts", Int, Text("20"), min 1;
    /// Delay between attempts to lock a mailbox file.
    DELIVER_LOCK_DELAY: Duration = "deliver_lock_delay", Time('s'), Text("1s"), min 1;
    /// Deliveries that get a Delivered-To: header: command, file, forward.
    PREPEND_DELIVERED_HEADER: Vec<String> = "prepend_delivered_header", List, Text("command, file, forward");
    /// Tables with reply templates for DNSBL rejects, by DNSBL domain.
    RBL_REPLY_MAPS: Vec<String> = "rbl_reply_maps", List, Text("");
    /// Age after which a mailbox lock file is removed as stale.
    STALE_LOCK_TIME: Duration = "stale_lock_time", Time('s'), Text("500s"), min 1;
    /// Maximal number of addresses one virtual alias expansion may produce.
    VIRTUAL_ALIAS_EXPANSION_LIMIT: usize = "virtual_alias_expansion_limit", Int, Text("1000"), min 1;
    /// Maximal nesting depth of virtual alias expansion.
    VIRTUAL_ALIAS_RECURSION_LIMIT: usize = "virtual_alias_recursion_limit", Int, Text("1000"), min 1;
    /// Tables with the group ID of virtual(8) mailboxes.
    VIRTUAL_GID_MAPS: Vec<String> = "virtual_gid_maps", List, Text("");
    /// Maximal size of a virtual(8) mailbox or maildir file in bytes; 0 = no limit.
    VIRTUAL_MAILBOX_LIMIT: u64 = "virtual_mailbox_limit", Size, Text("51200000");
    /// Tables with the user ID of virtual(8) mailboxes.
    VIRTUAL_UID_MAPS: Vec<String> = "virtual_uid_maps", List, Text("");
}

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
#[path = "registry_tests.rs"]
mod usage_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Kind;
    use crate::param::DefaultValue;
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
