#!/usr/bin/env bash
# gatepost against Postfix, side by side on this machine (see bench/README.md).
#
#   bench/compare.sh [ROUNDS]      (default 3; QUICK=1 for short runs)
#
# Builds gatepost and the load tool (bench/load) with --release, starts
# gatepost and, when installed, Postfix (`postfix -c DIR` with a queue and
# data directory of its own under the work directory; /etc/postfix is not
# touched), both delivering into a Maildir with virtual(8)-style delivery
# and both fsyncing every message before its 250, and a null server
# (`gatepost-load sink`: answers every command and discards the mail, no
# queue, no disk: what the load tool and this machine reach at all). Each
# round takes every measure of each server in turn, back to back, with the
# same load: Postfix's smtp-source when present (else our load tool) for
# the accepted messages per second (the null server takes these too), our
# load tool for the end-of-data -> 250 latency and the idle sessions.
# Prints the medians of the rounds side by side with ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
QUICK=${QUICK:-0}
# The servers' addresses and port (set them to run beside another copy).
GP_IP=${GP_IP:-127.0.0.41}
PF_IP=${PF_IP:-127.0.0.42}
SINK_IP=${SINK_IP:-127.0.0.43}
PORT=${PORT:-24025}
# Seconds of quiet after a `sync` before each load and server start (settle()).
SETTLE=${SETTLE:-2}

cargo build --release -q -p gatepost -p gatepost-bench
BIN=$PWD/target/release/gatepost
LOAD=$PWD/target/release/gatepost-load
ulimit -n "$(ulimit -Hn)"

# BENCH_DIR: where the servers keep their queues and Maildirs (a filesystem
# of its own gives each run the same start).
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/gatepost-bench.XXXXXX")
chmod 755 "$WORK" # Postfix's daemons and the mailbox owner walk through it
RESULTS=$WORK/results
: > "$RESULTS"
GP_PID= GP_MAIL=
PF_DIR= PF_QUEUE= PF_MAIL=
PF=0
command -v postfix >/dev/null && [ "$(id -u)" = 0 ] && PF=1
SOURCE=0
SMTP_SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
[ -x "$SMTP_SOURCE" ] && SOURCE=1
SINK=${SINK:-1} # 0: no null column
# Nice value of the load tool for the rate and drain rows (0: as any
# process). The load tool shares this machine's CPUs with the server it
# drives; a negative value (run as root) lets it run first when both want
# a CPU, as a client on a machine of its own would, for every server alike.
LOAD_NICE=${LOAD_NICE:-0}
SINK_PID=

# Under `set -e`: a server already stopped must not end the cleanup before
# the work directory (gigabytes of Maildirs) is removed.
cleanup() {
  if [ -n "$GP_PID" ]; then kill "$GP_PID" 2>/dev/null || true; wait "$GP_PID" 2>/dev/null || true; fi
  if [ -n "$PF_DIR" ]; then postfix -c "$PF_DIR" stop >/dev/null 2>&1 || true; fi
  if [ -n "$SINK_PID" ]; then kill "$SINK_PID" 2>/dev/null || true; wait "$SINK_PID" 2>/dev/null || true; fi
  if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ---------- configurations ----------
# shellcheck source=bench/common_cf.sh
. bench/common_cf.sh

# Each start of a server gets a fresh place (fresh_base, common_cf.sh),
# its queue and Maildir in block groups of their own. Nothing is removed
# before the end of the run.
setup_gatepost() { mkdir -p "$WORK/gp"; }
gatepost_config() { # in the place fresh_base made
  mkdir -p "$BASE/etc"
  # A data_directory of its own: master.lock does not meet another server's.
  { common_cf "$GP_IP"; echo "data_directory = $BASE/data"; } > "$BASE/etc/main.cf"
  # maxproc 0: no session limit, so that the idle-session measure reaches
  # 10,000 (Postfix keeps its default of 100 smtpd processes).
  echo "$GP_IP:$PORT inet n - n - 0 smtpd" > "$BASE/etc/master.cf"
}

setup_postfix() { mkdir -p "$WORK/pf"; }
postfix_config() { # in the place fresh_base made
  mkdir -p "$BASE/etc" "$BASE/data"
  chown postfix "$BASE/data"
  { common_cf "$PF_IP"; postfix_cf; } > "$BASE/etc/main.cf"
  postfix_master_cf "$PF_IP" "$PORT" > "$BASE/etc/master.cf"
}

# Each load (and each server start) meets a quiet disk: what the previous
# load left dirty in the page cache is written out first, so that its
# writeback does not land in the next measure.
settle() { sync; sleep "$SETTLE"; }

start_gatepost() {
  fresh_base "$WORK/gp"
  gatepost_config
  GP_MAIL=$MAIL_BASE
  settle
  "$BIN" -c "$BASE/etc" serve > "$BASE/out" 2>&1 &
  GP_PID=$!
  wait_port "$GP_IP"
}
stop_gatepost() { kill "$GP_PID"; wait "$GP_PID" 2>/dev/null || true; GP_PID=; }
start_postfix() {
  fresh_base "$WORK/pf"
  postfix_config
  PF_DIR=$BASE/etc PF_QUEUE=$QUEUE_DIR PF_MAIL=$MAIL_BASE
  settle
  postfix -c "$PF_DIR" start >/dev/null 2>&1
  wait_port "$PF_IP"
}
stop_postfix() { postfix -c "$PF_DIR" stop >/dev/null 2>&1 || true; sleep 1; }
pf_master_pid() { head -1 "$PF_QUEUE/pid/master.pid" | tr -d ' '; }
port_up() { # within 10 s
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/$1/$PORT") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
wait_port() { port_up "$1" || { echo "server on $1:$PORT did not start" >&2; exit 1; }; }
delivered() { ls -f "$1/rcpt/new" 2>/dev/null | grep -vc '^\.' || true; }
# Wait until the Maildir under $1 holds $2 messages (at most 300 s).
wait_delivered() {
  for _ in $(seq 3000); do
    [ "$(delivered "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
}

# ---------- progress ----------
STEP=0
progress() {
  STEP=$((STEP + 1))
  local width=40 done=$((STEP * 40 / TOTAL_STEPS))
  printf '\r[%-*s] %3d/%d %-44s' "$width" "$(printf '%*s' "$done" '' | tr ' ' '#')" \
    "$STEP" "$TOTAL_STEPS" "$1" >&2
}

record() { echo "$1 $2 $3 ${round:-0}" >> "$RESULTS"; } # server metric value round

# ---------- the measures, one server at a time ----------
# Messages per rate measure: $1 sessions, $2 bytes.
rate_count() {
  local n
  case "$1,$2" in
    1,1024) n=2000 ;; 20,1024) n=8000 ;; 100,1024) n=10000 ;;
    1,102400) n=1200 ;; 20,102400) n=3000 ;; 100,102400) n=3000 ;;
  esac
  [ "$QUICK" = 1 ] && n=$((n / 5))
  echo "$n"
}

# The same load as a measure, $1 sessions, $2 messages of $3 bytes, to the
# server at $4.
send_load() {
  if [ "$SOURCE" = 1 ]; then
    nice -n "$LOAD_NICE" "$SMTP_SOURCE" -s "$1" -m "$2" -l "$3" -f sender@bench.test \
      -t rcpt@bench.test "$4:$PORT" >/dev/null 2>&1
  else
    nice -n "$LOAD_NICE" "$LOAD" send "$4:$PORT" "$1" "$2" "$3" >/dev/null
  fi
}

# The null server (accepts and discards: the ceiling of the load tool on
# this machine), measured as server "null". It parses what the load
# sends: never as root.
start_sink() {
  local user=()
  [ "$(id -u)" = 0 ] && user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  "${user[@]}" "$LOAD" sink "$SINK_IP:$PORT" >/dev/null 2>&1 &
  SINK_PID=$!
  # Only a reference: without it the table just has no null column.
  if ! port_up "$SINK_IP"; then
    echo "null server on $SINK_IP:$PORT did not start; no null column" >&2
    stop_sink
    SINK=0
  fi
}
stop_sink() { kill "$SINK_PID" 2>/dev/null || true; wait "$SINK_PID" 2>/dev/null || true; SINK_PID=; }

ip_of() { case $1 in gp) echo "$GP_IP" ;; pf) echo "$PF_IP" ;; null) echo "$SINK_IP" ;; esac; }
pid_of() { if [ "$1" = gp ]; then echo "$GP_PID"; else pf_master_pid; fi; }
maildir_of() { if [ "$1" = gp ]; then echo "$GP_MAIL"; else echo "$PF_MAIL"; fi; }

# Messages each server was sent since it started (its Maildir's count).
declare -A SENT
# After a load of $2 messages to server $1, wait until its Maildir has all
# it was sent: the next measure, of whichever server, starts on an idle
# machine.
delivered_all() {
  [ "$1" = null ] && return 0
  SENT[$1]=$((SENT[$1] + $2))
  wait_delivered "$(maildir_of "$1")" "${SENT[$1]}"
}

# Accepted messages per second of server $1: $2 sessions, $3 bytes.
measure_rate() {
  local who=$1 n t0 t1
  n=$(rate_count "$2" "$3")
  progress "$who: $2 sessions, $(($3 / 1024)) KiB"
  settle
  t0=$(date +%s.%N)
  send_load "$2" "$n" "$3" "$(ip_of "$who")"
  t1=$(date +%s.%N)
  record "$who" "rate_${2}_${3}" "$(echo "$n / ($t1 - $t0)" | bc -l)"
  delivered_all "$who" "$n"
}

measure_latency() {
  local who=$1 n=1000 out
  [ "$QUICK" = 1 ] && n=200
  progress "$who: end-of-data latency (20 sessions)"
  settle
  out=$("$LOAD" send "$(ip_of "$who"):$PORT" 20 "$n" 1024)
  record "$who" p50_ms "$(sed 's/.*p50_ms=\([^ ]*\).*/\1/' <<<"$out")"
  record "$who" p99_ms "$(sed 's/.*p99_ms=\([^ ]*\).*/\1/' <<<"$out")"
  delivered_all "$who" "$n"
}

measure_drain() {
  local who=$1 n=10000 t0 t1
  [ "$QUICK" = 1 ] && n=2000
  progress "$who: drain $n messages"
  settle
  t0=$(date +%s.%N)
  send_load 20 "$n" 1024 "$(ip_of "$who")"
  delivered_all "$who" "$n"
  t1=$(date +%s.%N)
  record "$who" drain_s "$(echo "$t1 - $t0" | bc -l)"
}

# KiB per idle session, each count on a fresh server: after the loads (or
# the other count) the allocator's free memory would absorb the sessions.
measure_idle() {
  local who=$1 idle pid out
  for idle in 1000 10000; do
    if [ "$who" = gp ]; then start_gatepost; else start_postfix; fi
    pid=$(pid_of "$who")
    progress "$who: $idle idle sessions"
    out=$("$LOAD" idle "$(ip_of "$who"):$PORT" "$idle" "$pid" 2>/dev/null || echo "greeted=0 kib_per_session=0")
    record "$who" "idle_kib_$idle" "$(sed 's/.*kib_per_session=\([^ ]*\).*/\1/' <<<"$out")"
    record "$who" "idle_greeted_$idle" "$(sed 's/.*greeted=\([^ ]*\).*/\1/' <<<"$out")"
    if [ "$who" = gp ]; then stop_gatepost; else stop_postfix; fi
  done
}

# ---------- rounds ----------
# All servers run at once, each on its own address, and every measure is
# taken of each in turn, back to back, each after a `sync` and a pause
# (settle) and once the previous load is all delivered: the servers of
# one row meet the machine within seconds of each other. Which goes first
# rotates from row to row and round to round.
SERVERS=(gp)
[ "$PF" = 1 ] && SERVERS+=(pf)
[ "$SINK" = 1 ] && SERVERS+=(null)
TURN=0
ORDER=()
# ORDER: the servers of the next measure, in turn order; $1 = 1 leaves
# out the null server (it only takes the rate loads).
next_turn() {
  local list=() i n
  for i in "${SERVERS[@]}"; do
    [ "$i" = null ] && { [ "$1" = 1 ] || [ "$SINK" = 0 ]; } && continue
    list+=("$i")
  done
  n=${#list[@]}
  ORDER=()
  for i in $(seq 0 $((n - 1))); do ORDER+=("${list[$(((i + TURN) % n))]}"); done
  TURN=$((TURN + 1))
}

SERVED=$((1 + PF))
TOTAL_STEPS=$((ROUNDS * (6 * (SERVED + SINK) + 4 * SERVED)))
setup_gatepost
[ "$PF" = 1 ] && setup_postfix
for round in $(seq "$ROUNDS"); do
  TURN=$round
  SENT=([gp]=0 [pf]=0)
  start_gatepost
  [ "$PF" = 1 ] && start_postfix
  [ "$SINK" = 1 ] && start_sink
  for size in 1024 102400; do
    for sessions in 1 20 100; do
      next_turn 0
      for who in "${ORDER[@]}"; do measure_rate "$who" "$sessions" "$size"; done
    done
  done
  next_turn 1
  for who in "${ORDER[@]}"; do measure_latency "$who"; done
  next_turn 1
  for who in "${ORDER[@]}"; do measure_drain "$who"; done
  next_turn 1
  for who in "${ORDER[@]}"; do record "$who" peak_rss_mib "$(echo "$("$LOAD" peak "$(pid_of "$who")") / 1024" | bc -l)"; done
  if [ -n "$SINK_PID" ]; then stop_sink; fi
  stop_gatepost
  [ "$PF" = 1 ] && stop_postfix
  next_turn 1
  for who in "${ORDER[@]}"; do measure_idle "$who"; done
done
echo >&2

# ---------- medians, side by side ----------
median() { # server metric
  awk -v s="$1" -v m="$2" '$1 == s && $2 == m { print $3 }' "$RESULTS" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# The lowest and highest of the rounds' own ratios: how far the ratio of
# one round can stray from the median on this machine.
round_ratios() { # metric higher-is-better(1/0)
  awk -v m="$1" -v hb="$2" '$2 == m && ($1 == "gp" || $1 == "pf") { v[$1, $4] = $3; r[$4] = 1 }
    END {
      n = 0
      for (k in r) {
        g = v["gp", k]; p = v["pf", k]
        if (g + 0 == 0 || p + 0 == 0) continue
        x = hb ? g / p : p / g
        if (n == 0 || x < lo) lo = x
        if (n == 0 || x > hi) hi = x
        n++
      }
      if (n < 2) print "-"; else printf "%.1f-%.1fx", lo, hi
    }' "$RESULTS"
}
row() { # label metric unit higher-is-better(1/0)
  local g p r n
  g=$(median gp "$2"); p=$(median pf "$2"); n=$(median null "$2")
  r=$(awk -v g="$g" -v p="$p" -v hb="$4" 'BEGIN {
    if (g == "-" || p == "-" || g + 0 == 0 || p + 0 == 0) { print "-"; exit }
    printf "%.1fx", (hb ? g / p : p / g) }')
  printf '%-40s %12s %12s %9s %12s %12s\n' "$1" "$(fmt "$g")" "$(fmt "$p")" "$r" \
    "$(round_ratios "$2" "$4")" "$(fmt "$n")"
}
fmt() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.1f", v }'; }
LOADER="our load tool"
[ "$SOURCE" = 1 ] && LOADER="smtp-source"
echo "medians of $ROUNDS round(s); rates by $LOADER, latency and idle sessions by gatepost-load"
if [ "$LOAD_NICE" != 0 ]; then echo "rate and drain rows with the load tool at nice $LOAD_NICE"; fi
echo "ratio: how many times better gatepost is (higher rate, or lower time/latency/memory)"
echo "rounds: the lowest and highest ratio of a single round"
echo "null: a server that answers and discards (gatepost-load sink), same load: what the load tool reaches here"
printf '%-40s %12s %12s %9s %12s %12s\n' "" gatepost postfix ratio rounds null
for size in 1024 102400; do
  for sessions in 1 20 100; do
    row "accepted msg/s, $sessions sess, $((size / 1024)) KiB" "rate_${sessions}_${size}" "" 1
  done
done
row "end-of-data -> 250 p50 (ms), 20 sess" p50_ms "" 0
row "end-of-data -> 250 p99 (ms), 20 sess" p99_ms "" 0
row "10,000 msgs in the Maildir (s)" drain_s "" 0
row "peak RSS (MiB)" peak_rss_mib "" 0
row "KiB per idle session, 1,000" idle_kib_1000 "" 0
row "KiB per idle session, 10,000" idle_kib_10000 "" 0
row "idle sessions greeted of 1,000" idle_greeted_1000 "" 1
row "idle sessions greeted of 10,000" idle_greeted_10000 "" 1
[ "$PF" = 1 ] || echo "(Postfix not installed or not root: gatepost only)"
if [ -n "${RESULTS_COPY:-}" ]; then cp "$RESULTS" "$RESULTS_COPY"; fi
exit 0
