#!/bin/sh
# DNS cache throughput (issue 4): lookups per second for one hot domain,
# answered from the shared cache after one query to a loopback test DNS
# server. Usage: bench/dns_cache.sh [tasks] [seconds]
set -e
cd "$(dirname "$0")/.."
exec cargo run --release -q -p gatepost-dns --example cache_bench -- "${1:-4}" "${2:-3}"
