#!/usr/bin/env bash
# A fill past the page cache (issue 23): fillseq of NUM keys (16-byte keys, 100-byte values) with
# the rate of every 10M keys, RAM per key and false candidate reads as it grows; then, with a
# cold page cache, random gets of present and missing keys with the disk reads they cost
# (crates/crowndb/examples/fill_scale.rs). Writes docs/bench-scale.md and docs/bench-scale.svg.
# Needs about 140 bytes of disk per key (42 GB at 300M).
#
#   scripts/bench-scale.sh [NUM]     (default 300000000)
set -euo pipefail
cd "$(dirname "$0")/.."
num=${1:-300000000}
work=${BENCH_DIR:-/tmp/crowndb-scale}
out=target/bench-scale
mkdir -p "$out"
load=$(cut -d' ' -f1-3 /proc/loadavg)
cargo build --release -p crowndb --example fill_scale
./target/release/examples/fill_scale --num "$num" --reads 200000 --dir "$work" | tee "$out/fill.jsonl"
. scripts/pyenv.sh
"$PY" scripts/bench_scale_report.py "$out/fill.jsonl" "$load"
