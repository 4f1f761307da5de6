#!/usr/bin/env bash
# How far the accept rate can go on this machine (see bench/README.md):
#
#   bench/upper_bound.sh [ROUNDS] [SESSIONS] [MESSAGES] [SIZE]
#                        (default 3 20 8000 1024)
#
# Interleaves, round after round, the same smtp-source burst against four
# servers: Postfix and gatepost configured as bench/compare.sh configures
# them; gatepost doing less than its job: every message accepted into
# the queue and fsynced before its 250 as always, but its delivery
# discarded (`virtual_transport = discard:`, no Maildir file) and the log
# sent to /dev/null; and the null server (`gatepost-load sink`, no queue,
# no disk).
# Prints each round's msg/s and the medians as multiples of Postfix's.
# Needs root, Postfix and smtp-source. Each server is started fresh for
# its burst (fresh_base, common_cf.sh) after a `sync`; gatepost's and
# Postfix's deliveries of a burst finish before the next burst starts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3} SESS=${2:-20} N=${3:-8000} SIZE=${4:-1024}
IP=127.0.0.44 PORT=24025
command -v smtp-source >/dev/null && command -v postfix >/dev/null && [ "$(id -u)" = 0 ] ||
  { echo "needs root, Postfix and smtp-source" >&2; exit 1; }
cargo build --release -q -p gatepost -p gatepost-bench
BIN=$PWD/target/release/gatepost LOAD=$PWD/target/release/gatepost-load
WORK=$(mktemp -d /var/tmp/gatepost-upper.XXXXXX)
chmod 755 "$WORK" # Postfix's daemons and the mailbox owner walk through it
PID= PF_DIR= RATE=
cleanup() {
  [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  [ -n "$PF_DIR" ] && { postfix -c "$PF_DIR" stop >/dev/null 2>&1 || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=bench/common_cf.sh
. bench/common_cf.sh

up() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/$IP/$PORT") 2>/dev/null && return; sleep 0.1; done; exit 1; }
in_maildir() { find "$MAIL_BASE" -path '*/new/*' -type f 2>/dev/null | wc -l; }
wait_maildir() { for _ in $(seq 1200); do [ "$(in_maildir)" -ge "$1" ] && return; sleep 0.1; done; }
burst() { # RATE: msg/s of one burst of N (after a warm-up of 200)
  smtp-source -s "$SESS" -m 200 -l "$SIZE" -f s@bench.test -t rcpt@bench.test "$IP:$PORT"
  local t0 t1
  t0=$(date +%s.%N)
  smtp-source -s "$SESS" -m "$N" -l "$SIZE" -f s@bench.test -t rcpt@bench.test "$IP:$PORT"
  t1=$(date +%s.%N)
  RATE=$(echo "$N / ($t1 - $t0)" | bc -l)
}
gatepost() { # extra main.cf lines as arguments; sets RATE
  fresh_base "$WORK/gp"
  mkdir -p "$BASE/etc"
  { common_cf "$IP"; echo "data_directory = $BASE/data"; printf '%s\n' "$@"; } > "$BASE/etc/main.cf"
  echo "$IP:$PORT inet n - n - 0 smtpd" > "$BASE/etc/master.cf"
  sync; sleep 2
  "$BIN" -c "$BASE/etc" serve > "$BASE/out" 2>&1 &
  PID=$!; up
  burst
  if [ $# -eq 0 ]; then wait_maildir $((N + 200)); else sleep 3; fi
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
}
postfix_rate() {
  fresh_base "$WORK/pf"
  mkdir -p "$BASE/etc" "$BASE/data"; chown postfix "$BASE/data"
  { common_cf "$IP"; postfix_cf; } > "$BASE/etc/main.cf"
  postfix_master_cf "$IP" "$PORT" > "$BASE/etc/master.cf"
  PF_DIR=$BASE/etc
  sync; sleep 2
  postfix -c "$PF_DIR" start >/dev/null 2>&1
  up
  burst
  wait_maildir $((N + 200))
  postfix -c "$PF_DIR" stop >/dev/null 2>&1 || true; PF_DIR=; sleep 1
}
null_rate() {
  sync; sleep 2
  "$LOAD" sink "$IP:$PORT" >/dev/null 2>&1 &
  PID=$!; up
  burst
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
}

LESS=("virtual_transport = discard:" "maillog_file = /dev/null")
declare -A rows
for r in $(seq "$ROUNDS"); do
  postfix_rate; pf=$RATE
  gatepost; gp=$RATE
  gatepost "${LESS[@]}"; less=$RATE
  null_rate; null=$RATE
  printf 'round %d: msg/s postfix %.0f  gatepost %.0f  discarding, no log %.0f  null %.0f\n' "$r" "$pf" "$gp" "$less" "$null"
  rows[pf]+="$pf " rows[gp]+="$gp " rows[less]+="$less " rows[null]+="$null "
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
pf=$(median <<< "${rows[pf]}")
echo "medians of $ROUNDS rounds, $SESS sessions x $N x $SIZE B, as multiples of Postfix's $(printf '%.0f' "$pf") msg/s:"
for k in gp less null; do
  m=$(median <<< "${rows[$k]}")
  printf '  %-14s %6.0f msg/s  %4.1fx\n' "$k" "$m" "$(echo "$m / $pf" | bc -l)"
done
