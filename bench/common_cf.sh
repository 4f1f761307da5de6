# The main.cf lines both benchmark scripts give every server (sourced by
# bench/compare.sh and bench/ab.sh): virtual(8)-style delivery of
# rcpt@bench.test into one Maildir, no name lookups, no connection limit.
common_cf() { # $1 = base directory, $2 = address
  cat <<CF
myhostname = mx.bench.test
mydestination = localhost
mynetworks = 127.0.0.0/8
inet_interfaces = $2
smtpd_peername_lookup = no
smtpd_client_connection_count_limit = 0
alias_maps =
virtual_mailbox_domains = bench.test
virtual_mailbox_base = $1/mail
virtual_mailbox_maps = static:rcpt/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
maillog_file = $1/maillog
queue_directory = $1/spool
CF
}
