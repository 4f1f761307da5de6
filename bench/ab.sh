#!/usr/bin/env bash
# Two gatepost binaries side by side (see bench/README.md):
#
#   bench/ab.sh BIN_A BIN_B [PAIRS] [SESSIONS] [MESSAGES] [SIZE]
#
# Starts both servers (A on 127.0.0.41, B on 127.0.0.42, each with its own
# queue and Maildir under a work directory in /var/tmp), then sends bursts
# with smtp-source, alternating which server goes first, and waits after
# each burst until the Maildir has everything. Prints per pair the accepted
# msg/s, the CPU time of the whole machine per message (burst and
# delivery) and the time until the last message was delivered, then the
# medians and how often B was better. Run as root for the same privilege
# separation as in production; one change at a time, so that only the
# binaries differ. KEEP=1 keeps the work directory (logs, Maildirs).
set -euo pipefail
# shellcheck source=bench/common_cf.sh
. "$(dirname "$0")/common_cf.sh"
A=$1 B=$2 PAIRS=${3:-8} S=${4:-20} N=${5:-4000} SZ=${6:-1024}
command -v smtp-source >/dev/null || { echo "smtp-source (Postfix) is needed" >&2; exit 1; }
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/gatepost-ab.XXXXXX")
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Each server in a fresh place (fresh_base, common_cf.sh): its queue and
# Maildir in block groups of their own.
declare -A MAIL
start() { # name address binary
  local d
  fresh_base "$WORK/$1"
  d=$BASE
  MAIL[$1]=$MAIL_BASE
  mkdir -p "$d/etc"
  { common_cf "$2"; echo "data_directory = $d/data"; } > "$d/etc/main.cf"
  echo "$2:24025 inet n - n - 0 smtpd" > "$d/etc/master.cf"
  "$3" -c "$d/etc" serve > "$d/out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/$2/24025") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$1 did not start: $(tail -3 "$d/out")" >&2; exit 1
}
start a 127.0.0.41 "$A"
start b 127.0.0.42 "$B"
declare -A sent=([a]=0 [b]=0) addr=([a]=127.0.0.41 [b]=127.0.0.42)
delivered() { ls -f "${MAIL[$1]}/rcpt/new" 2>/dev/null | grep -vc '^\.' || true; }
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
# Send $2 messages to server $1 and wait until its Maildir has all it was sent.
burst() {
  smtp-source -s "$S" -m "$2" -l "$SZ" -f s@bench.test -t rcpt@bench.test "${addr[$1]}:24025" >/dev/null 2>&1
  sent[$1]=$((sent[$1] + $2))
}
wait_delivered() {
  for _ in $(seq 6000); do
    [ "$(delivered "$1")" -ge "${sent[$1]}" ] && return 0
    sleep 0.02
  done
}
one() { # server: prints "server rate cpu_us_per_msg delivered_after_s"
  local u0 u1 t0 t1 t2
  u0=$(busy); t0=$(date +%s.%N)
  burst "$1" "$N"
  t1=$(date +%s.%N)
  wait_delivered "$1"
  t2=$(date +%s.%N); u1=$(busy)
  echo "$1 $(echo "$N / ($t1 - $t0)" | bc -l) $(( (u1 - u0) * 1000000 / $(getconf CLK_TCK) / N )) $(echo "$t2 - $t0" | bc -l)"
}
# Warm both up (spare queue files, store processes) before measuring.
burst a 200; wait_delivered a; burst b 200; wait_delivered b; sleep 1
: > "$WORK/results"
for p in $(seq "$PAIRS"); do
  order="a b"; [ $((p % 2)) = 0 ] && order="b a"
  for x in $order; do one "$x" >> "$WORK/results"; sleep 0.3; done
  printf '\rpair %d/%d' "$p" "$PAIRS" >&2
done
echo >&2
python3 - "$WORK/results" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
a = [r for r in rows if r[0] == "a"]; b = [r for r in rows if r[0] == "b"]
for i, (x, y) in enumerate(zip(a, b), 1):
    print(f"pair {i}: msg/s {float(x[1]):7.0f} {float(y[1]):7.0f} (B/A {float(y[1]) / float(x[1]):.3f})"
          f"  CPU us/msg {x[2]:>5} {y[2]:>5}  delivered after {float(x[3]):.2f} {float(y[3]):.2f} s")
med = lambda rs, k: st.median(float(r[k]) for r in rs)
ratios = [float(y[1]) / float(x[1]) for x, y in zip(a, b)]
print(f"medians: msg/s A {med(a, 1):.0f} B {med(b, 1):.0f} (B/A {med(b, 1) / med(a, 1):.3f}, B better in {sum(r > 1 for r in ratios)}/{len(ratios)} pairs);"
      f" CPU us/msg A {med(a, 2):.0f} B {med(b, 2):.0f} ({med(b, 2) / med(a, 2) - 1:+.1%});"
      f" delivered after A {med(a, 3):.2f} s B {med(b, 3):.2f} s")
PY
