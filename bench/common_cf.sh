# The main.cf lines the benchmark scripts give every server (sourced by
# bench/compare.sh, bench/ab.sh and bench/upper_bound.sh), and Postfix's
# own lines: virtual(8)-style delivery of
# rcpt@bench.test into one Maildir, no name lookups, no connection limit.
# A fresh place for one start of a server, under $1: sets BASE (for its
# configuration, data directory and log), MAIL_BASE (its Maildir base) and
# QUEUE_DIR. The parent and BASE carry the 'T' attribute (chattr(1)):
# ext4 places the subdirectories of such a directory as it places
# top-level ones, in the emptiest block group from a hash of the name on.
# The queue and the Maildir get random names, so that each lands in a
# block group of its own, apart from each other, from the other server's
# and from those a previous run emptied when it removed its files: on ext4
# without a journal every file creation walks past each inode of its
# group freed in the last minute (six, while the freed inodes are not yet
# written back). Under fixed names ("mail", "spool") each run's Maildir
# went to the very group the previous run had just emptied.
fresh_base() {
  mkdir -p "$1"; chattr +T "$1" 2>/dev/null || true
  BASE=$(mktemp -d "$1/run.XXXXXXXX"); chmod 755 "$BASE"
  chattr +T "$BASE" 2>/dev/null || true
  MAIL_BASE=$(mktemp -d "$BASE/mail.XXXXXXXX"); chmod 755 "$MAIL_BASE"
  QUEUE_DIR=$(mktemp -d "$BASE/spool.XXXXXXXX"); chmod 755 "$QUEUE_DIR"
  chown 65534:65534 "$MAIL_BASE" 2>/dev/null || true
}

# The lines themselves, for the server at address $1 in the place
# fresh_base made.
common_cf() {
  cat <<CF
myhostname = mx.bench.test
mydestination = localhost
mynetworks = 127.0.0.0/8
inet_interfaces = $1
smtpd_peername_lookup = no
smtpd_client_connection_count_limit = 0
alias_maps =
virtual_mailbox_domains = bench.test
virtual_mailbox_base = $MAIL_BASE
virtual_mailbox_maps = static:rcpt/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
maillog_file = $BASE/maillog
queue_directory = $QUEUE_DIR
CF
}

# Postfix's own lines after common_cf (its main.cf for the server at
# address $1 in the place fresh_base made).
postfix_cf() {
  echo "compatibility_level = 3.6"
  echo "data_directory = $BASE/data"
  echo "inet_protocols = ipv4"
  echo "alias_database ="
  # Postfix checks inet_interfaces against the configured addresses;
  # master.cf names the one address smtpd listens on.
  echo "inet_interfaces = loopback-only"
}

# Debian's master.cf without chroot, smtpd on address $1, port $2.
postfix_master_cf() {
  awk -v addr="$1:$2" '
    /^smtp[ \t]+inet/ { $1 = addr; $5 = "n"; print; next }
    /^[a-z]/ && NF >= 8 { $5 = "n"; print; next }
    { print }' /etc/postfix/master.cf
}
