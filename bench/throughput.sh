#!/usr/bin/env bash
# Accepted messages per second: smtp-source (from Debian's postfix package)
# with 20 parallel sessions against a release build of gatepost, local
# delivery into Maildirs, all on loopback. Run by hand:
#
#   bench/throughput.sh [MESSAGES] [SESSIONS] [SIZE_BYTES]
#
# Prints the elapsed time, messages/second, and how many messages were
# delivered. Needs: smtp-source (apt-get install postfix).
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-5000}
SESSIONS=${2:-20}
SIZE=${3:-2000}

command -v smtp-source >/dev/null || { echo "smtp-source not found (apt-get install postfix)" >&2; exit 1; }
cargo build --release -q -p gatepost || exit 1
BIN=target/release/gatepost

WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; cp "$WORK/maillog" /tmp/bench-maillog 2>/dev/null || true; rm -rf "$WORK"' EXIT
cat > "$WORK/main.cf" <<CF
myhostname = mx.bench.test
mydestination = \$myhostname, localhost, bench.test
queue_directory = $WORK/spool
mail_spool_directory = $WORK/mail/
home_mailbox =
local_recipient_maps =
local_mailbox_for_unknown_users = yes
alias_maps =
maillog_file = $WORK/maillog
mynetworks = 127.0.0.1/32
inet_interfaces = 127.0.0.1
smtpd_peername_lookup = no
smtpd_client_connection_count_limit = 0
CF
echo "127.0.0.1:0 inet n - n - - smtpd" > "$WORK/master.cf"
"$BIN" -c "$WORK" serve > "$WORK/out" &
PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/out" 2>/dev/null && break; sleep 0.1; done
ADDR=$(sed -n 's/^gatepost: listening on //p' "$WORK/out")

START=$(date +%s.%N)
smtp-source -c -l "$SIZE" -m "$MESSAGES" -s "$SESSIONS" -f sender@bench.test -t rcpt@bench.test "$ADDR" >/dev/null
END=$(date +%s.%N)
ELAPSED=$(echo "$END - $START" | bc -l)
RATE=$(echo "$MESSAGES / $ELAPSED" | bc -l)
printf 'accepted %d messages (%d bytes, %d sessions) in %.2f s: %.0f msg/s\n' "$MESSAGES" "$SIZE" "$SESSIONS" "$ELAPSED" "$RATE"

for _ in $(seq 300); do
  N=$(ls "$WORK/mail/rcpt/new" 2>/dev/null | wc -l)
  [ "$N" -ge "$MESSAGES" ] && break
  sleep 0.1
done
DEND=$(date +%s.%N)
printf 'delivered %d messages to the Maildir, %.2f s after the start\n' "$(ls "$WORK/mail/rcpt/new" | wc -l)" "$(echo "$DEND - $START" | bc -l)"
echo "server log copied to /tmp/bench-maillog (e.g. for pflogsumm)"
