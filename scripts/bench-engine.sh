#!/usr/bin/env bash
# Engine benchmark, side by side with RocksDB's db_bench in the same run:
# fillseq, fillrandom, readrandom (16-byte keys, 100-byte values, no sync, no compression),
# RAM per key, reopen against a full verifying scan. Writes docs/benchmarks.md and an SVG.
#
#   scripts/bench-engine.sh [NUM_KEYS] [NUM_READS]     (defaults 10000000 2000000)
set -euo pipefail
cd "$(dirname "$0")/.."
num=${1:-10000000}
reads=${2:-2000000}
work=${BENCH_DIR:-/tmp/crowndb-bench}
out=target/bench
mkdir -p "$out"
rm -rf "$work"

if ! command -v db_bench >/dev/null; then
  echo "installing rocksdb-tools for db_bench" >&2
  apt-get update -qq && apt-get install -y -qq rocksdb-tools >/dev/null
fi

cargo build --release -p crowndb --example engine_bench
echo "== CrownDB ($num keys, $reads reads)" >&2
./target/release/examples/engine_bench --num "$num" --reads "$reads" --dir "$work/crowndb" --json "$out/crowndb.jsonl"

echo "== RocksDB db_bench" >&2
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
db_bench --benchmarks=fillseq,fillrandom,readrandom --num="$num" --reads="$reads" \
  --key_size=16 --value_size=100 --compression_type=none --sync=false --threads=1 \
  --db="$work/rocksdb" --statistics=false 2>&1 | tee "$out/db_bench.txt"
rm -rf "$work"

echo "== compaction under overwrites (1M keys, 10x overwrite)" >&2
cargo build --release -p crowndb --example compaction_bench --example value_bench
./target/release/examples/compaction_bench 1000000 "$work/compaction" | tee "$out/compaction.txt"
echo "== value sizes, compression, streamed value against dd" >&2
./target/release/examples/value_bench "$work/values" 2048 | tee "$out/values.txt"
rm -rf "$work"

. scripts/pyenv.sh
"$PY" scripts/bench_report.py "$out/crowndb.jsonl" "$out/db_bench.txt" docs/benchmarks.md docs/bench-engine.svg "$out/compaction.txt" "$out/values.txt"
echo "wrote docs/benchmarks.md and docs/bench-engine.svg" >&2
