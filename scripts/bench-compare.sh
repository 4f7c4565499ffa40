#!/usr/bin/env bash
# CrownDB against RocksDB (db_bench), sled, fjall and redb, side by side in one run, with
# the same workloads and sizes (16-byte keys, 100-byte values, one thread, no sync per
# write, no compression). CrownDB, sled, fjall and redb run in one harness
# (bench/peers, its own cargo workspace so the main build never compiles the peers);
# RocksDB runs its own db_bench. Writes the "Comparison" section of docs/benchmarks.md
# (between its markers, the rest of the page is kept) and docs/bench-compare-*.svg.
#
#   scripts/bench-compare.sh [NUM]          (default 200000 operations per workload)
#
# About 5 minutes on 2 cores at the default NUM (redb, one transaction per write, is the
# slowest). BENCH_DIR sets the scratch directory (default /tmp/crowndb-compare).
# SERVERS=1 also runs the server benchmarks (scripts/bench-memcached.sh: memcaslap against
# memcached and `crowndb serve`; scripts/bench-redis.sh: redis-benchmark against Redis and
# `crowndb serve`), which write docs/bench-server.md and docs/bench-redis.md.
set -euo pipefail
cd "$(dirname "$0")/.."
num=${1:-200000}
work=${BENCH_DIR:-/tmp/crowndb-compare}
out=target/bench-compare
workloads=fillseq,fillrandom,overwrite,readrandom,readmissing,readhot,readwhilewriting,deleterandom,mixed
mkdir -p "$out"
rm -rf "$work"
load=$(cut -d' ' -f1-3 /proc/loadavg)

if ! command -v db_bench >/dev/null; then
  echo "installing rocksdb-tools for db_bench" >&2
  apt-get update -qq && apt-get install -y -qq rocksdb-tools >/dev/null
fi

cargo build --release --manifest-path bench/peers/Cargo.toml
peers=bench/peers/target/release/crowndb-peers
: > "$out/peers.jsonl"
for store in crowndb sled fjall redb; do
  echo "== $store ($num operations per workload)" >&2
  "$peers" --store "$store" --num "$num" --workloads "$workloads" --dir "$work/$store" | tee -a "$out/peers.jsonl" >&2
done

echo "== RocksDB db_bench" >&2
# db_bench's names; its mixed workload is readrandomwriterandom (90% reads, as ours);
# db_bench 7.8 has no readhot.
db_bench --benchmarks=fillseq,fillrandom,overwrite,readrandom,readmissing,readwhilewriting,deleterandom,readrandomwriterandom \
  --num="$num" --key_size=16 --value_size=100 --compression_type=none --sync=false --threads=1 \
  --readwritepercent=90 --histogram=1 --statistics=false --db="$work/rocksdb" 2>&1 | tee "$out/db_bench.txt" >&2
rocks_disk=$(du -sb "$work/rocksdb" | cut -f1)
rm -rf "$work"

. scripts/pyenv.sh
"$PY" scripts/bench_compare_report.py "$out/peers.jsonl" "$out/db_bench.txt" "$rocks_disk" "$num" docs/benchmarks.md docs "$load"
echo "wrote the comparison into docs/benchmarks.md and docs/bench-compare-*.svg" >&2

if [ "${SERVERS:-0}" = 1 ]; then
  for server_bench in scripts/bench-memcached.sh scripts/bench-redis.sh; do
    if [ -x "$server_bench" ]; then
      echo "== $server_bench" >&2
      "$server_bench"
    fi
  done
fi
