#!/usr/bin/env bash
# Memory of a release build under load: resident set size (RSS) of the
# server at start, after each round of MESSAGES messages (smtp-source, 20
# parallel sessions, local delivery into a Maildir) and around SESSIONS idle
# sessions opened and then closed; the same load runs ROUNDS times, so that
# a leak shows as growth from round to round while allocator retention
# levels off. At the end one more round of 1,000 messages runs, then a
# pause, and the RSS is read again: what the allocator (mimalloc,
# docs/memory.md) gave back by itself was free memory it kept. With the idle sessions open it prints
# what each takes: the growth of RSS divided by the sessions (every one
# greeted).
#
#   bench/memory.sh [MESSAGES] [SESSIONS]      (defaults 100000 10000)
#   ROUNDS=3 bench/memory.sh 20000 5000
#   PROFILE=debug ROUNDS=3 bench/memory.sh 20000 10000
#   BIN=target/release/gatepost setpriv --reuid=nobody --regid=nogroup \
#     --clear-groups bench/memory.sh 1000 10000   (not as root: no build)
#
# Needs: smtp-source (apt-get install postfix), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-100000}
SESSIONS=${2:-10000}
ROUNDS=${ROUNDS:-2}

command -v smtp-source >/dev/null || { echo "smtp-source not found (apt-get install postfix)" >&2; exit 1; }
# PROFILE=debug measures the test build instead (quicker to build, more
# memory per session; the shape of the curve is the same).
# BIN names a binary already built (nothing is built then).
PROFILE=${PROFILE:-release}
if [ -n "${BIN:-}" ]; then
  BIN=$(realpath "$BIN")
elif [ "$PROFILE" = release ]; then
  cargo build --release -q -p gatepost || exit 1
  BIN=$PWD/target/release/gatepost
else
  cargo build -q -p gatepost || exit 1
  BIN=$PWD/target/debug/gatepost
fi
ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d)
# Run as root, the server gives up root: its directories must stay reachable.
chmod 755 "$WORK"
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
cat > "$WORK/main.cf" <<CF
myhostname = mx.bench.test
mydestination = \$myhostname, localhost, bench.test
queue_directory = $WORK/spool
data_directory = $WORK/data
mail_spool_directory = $WORK/mail/
home_mailbox =
local_recipient_maps =
local_mailbox_for_unknown_users = yes
alias_maps =
maillog_file = $WORK/maillog
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
smtpd_peername_lookup = no
smtpd_client_connection_count_limit = 0
default_process_limit = $((SESSIONS + 100))
CF
echo "127.0.0.1:0 inet n - n - - smtpd" > "$WORK/master.cf"
"$BIN" -c "$WORK" serve > "$WORK/out" 2> "$WORK/err" &
PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/out" 2>/dev/null && break; sleep 0.1; done
ADDR=$(sed -n 's/^gatepost: listening on //p' "$WORK/out")
PORT=${ADDR##*:}

rss() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
fds() { ls "/proc/$PID/fd" | wc -l; }
report() { printf '%-44s RSS %7d kB\n' "$1" "$(rss)"; }

# Wait until the open descriptors settle at or below $1.
settle_fds() {
  for _ in $(seq 600); do [ "$(fds)" -le "$1" ] && return; sleep 0.1; done
}

sleep 1
report "started"
BASE_FDS=$(fds)
DELIVERED=0
for round in $(seq "$ROUNDS"); do
  smtp-source -c -l 500 -m "$MESSAGES" -s 20 -f sender@bench.test -t rcpt@bench.test "$ADDR" >/dev/null
  DELIVERED=$((DELIVERED + MESSAGES))
  for _ in $(seq 6000); do
    N=$(grep -c 'status=sent' "$WORK/maillog" || true)
    [ "$N" -ge "$DELIVERED" ] && break
    sleep 0.5
  done
  find "$WORK/mail/rcpt/new" -type f -delete
  settle_fds $((BASE_FDS + 5))
  report "round $round: after $MESSAGES messages"
  python3 - "$PORT" "$SESSIONS" "$PID" <<'PY'
import socket, sys, time
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def rss():
    return int([l for l in open("/proc/%s/status" % pid) if l.startswith("VmRSS")][0].split()[1])
before = rss()
socks = []
for i in range(n):
    s = socket.socket()
    s.bind(("127.0.%d.%d" % (2 + i // 250, 1 + i % 250), 0))
    s.connect(("127.0.0.1", port))
    socks.append(s)
for s in socks:
    s.settimeout(30)
    s.recv(100)
time.sleep(0.5)  # let the server settle after the last greeting
after = rss()
print("%-44s RSS %7d kB (%.2f KiB per session)"
      % ("  with %d idle sessions open" % len(socks), after, (after - before) / len(socks)))
for s in socks:
    s.close()
PY
  settle_fds $((BASE_FDS + 5))
  report "round $round: after $SESSIONS sessions closed"
done
# Freed pages go back to the system once the allocator's threads run
# again; a last round of 1,000 messages runs them.
sleep 2
smtp-source -s 20 -m 1000 -l 500 -f sender@bench.test -t rcpt@bench.test "$ADDR" >/dev/null 2>&1 || true
sleep 2
report "after 1000 more messages and a pause"
