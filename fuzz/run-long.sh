#!/bin/sh
# Long fuzz run: every target in crates/fuzz (or those named) for
# SECONDS_PER_TARGET seconds each (default 600) on random inputs, in a
# release build, one target at a time. A failure prints the input and a
# BOLERO_RANDOM_SEED to replay it; add the input to
# crates/fuzz/corpus/TARGET/ once fixed.
#
#   fuzz/run-long.sh                      # all targets, 10 minutes each
#   SECONDS_PER_TARGET=60 fuzz/run-long.sh data_reader smtp_command
#
# With a nightly toolchain and cargo-bolero installed, the same targets run
# under libFuzzer with coverage guidance:
#   cargo +nightly bolero test -p gatepost-fuzz --test targets data_reader
set -eu
cd "$(dirname "$0")/.."
secs=${SECONDS_PER_TARGET:-600}
targets=$*
if [ -z "$targets" ]; then
    targets=$(sed -n 's/^target!(\([a-z_]*\));$/\1/p' crates/fuzz/tests/targets.rs)
fi
cargo test --release -p gatepost-fuzz --test targets --no-run
failed=""
for t in $targets; do
    echo "== $t: ${secs}s"
    if ! BOLERO_RANDOM_TEST_TIME_MS=$((secs * 1000)) \
        cargo test --release -q -p gatepost-fuzz --test targets -- --exact "$t" --nocapture; then
        failed="$failed $t"
    fi
done
if [ -n "$failed" ]; then
    echo "failed:$failed"
    exit 1
fi
echo "all targets passed"
