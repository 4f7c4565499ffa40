#!/usr/bin/env python3
"""Turns engine_bench JSON lines and db_bench output into a Markdown table and an SVG bar chart (matplotlib, scripts/plot.py)."""
import json, os, platform, re, subprocess, sys

from plot import grouped_bars

crown_path, rocks_path, md_path, svg_path = sys.argv[1:5]
extra = sys.argv[5:7]
crown = {}
for line in open(crown_path):
    r = json.loads(line)
    crown[r["workload"]] = r
rocks = {}
for line in open(rocks_path):
    m = re.match(r"^(\w+)\s*:\s*([\d.]+) micros/op (\d+) ops/sec", line)
    if m:
        rocks[m.group(1)] = float(m.group(3))

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"

cpu = sh("lscpu | sed -n 's/^Model name: *//p'")
disk = sh("df -h --output=source,fstype,size / | tail -1")
machine = f"{os.cpu_count()} cores ({cpu}), kernel {platform.release()}, disk: {disk}"
rows = []
bars = []
for w in ["fillseq", "fillrandom", "readrandom"]:
    c = crown.get(w, {}).get("ops_per_sec")
    r = rocks.get(w)
    ratio = f"{c / r:.2f}x" if c and r else "n/a"
    rows.append(f"| {w} | {c:,.0f} | {r:,.0f} | {ratio} |" if c and r else f"| {w} | {c} | {r} | n/a |")
    bars.append((w, c or 0, r or 0))

seq = crown.get("fillseq", {})
reopen = crown.get("reopen", {})
md = f"""# Benchmarks

All figures come from `scripts/bench-engine.sh`, which runs CrownDB's engine benchmark
(`crates/crowndb/examples/engine_bench.rs`) and RocksDB's `db_bench` one after the other in
the same run, with the same workloads: 16-byte keys, 100-byte values, one thread, no
compression, no sync (RocksDB keeps its WAL on; CrownDB's log *is* its data). Absolute
numbers on a shared 2-core machine are noise; the ratios are the result.

Machine: {machine}. Keys: {int(seq.get('keys', 0)):,}.

## Throughput (ops/s)

| workload | CrownDB | RocksDB | CrownDB / RocksDB |
|---|---:|---:|---:|
""" + "\n".join(rows) + f"""

![throughput](bench-engine.svg)

## Memory and reopen

| figure | value |
|---|---:|
| RAM per key after fillseq (RssAnon growth / keys) | {seq.get('ram_per_key_bytes', 0):.2f} bytes |
| index memory per key (table capacity) | {seq.get('index_bytes_per_key', 0):.2f} bytes |
| reopen ({int(reopen.get('ops', 0)):,} keys, cold page cache, footers) | {reopen.get('secs', 0):.2f} s |
| paranoid open (cold page cache, reads and verifies every record) | {reopen.get('full_scan_secs', 0):.2f} s |
| reopen / full scan | {reopen.get('reopen_over_scan', 0):.2f} |

Caveat: Debian's `rocksdb-tools` build of `db_bench` prints "Assertions are enabled;
benchmarks unnecessarily slow": it is not a release build, so RocksDB's figures here are
lower than a tuned release build would give (by how much we have not measured here).

RAM per key counts anonymous memory only: the segment files are mapped, and their pages
belong to the OS page cache (shared, reclaimable), as RocksDB's block cache would not be.
"""
titles = ["Compaction under uniform random overwrites", "Value sizes, compression, streamed values"]
notes = [
    "`compaction_bench`: 1M keys filled, then 10M uniform random overwrites by one writer running flat out, "
    "background compaction on (defaults: 32 MiB segments, trigger 1.3, rate limit 256 MiB/s); space amplification "
    "is bytes of segment data over live bytes, write amplification bytes appended (records, tombstones, copies) over "
    "key+value bytes given. Then readrandom with no compaction against readrandom while a rate-limited full compaction runs.",
    "`value_bench`: put then get of 256 MiB worth of values of each size, LZ4 off and on (text-like values), "
    "and one 2 GiB streamed value written and synced against `dd if=/dev/zero bs=4M conv=fsync` of the same size.",
]
for title, note, path in zip(titles, notes, extra):
    try:
        body = open(path).read().strip()
    except OSError:
        continue
    md += f"\n## {title}\n\n{note}\n\n```\n{body}\n```\n"
# Keep the peer comparison section that scripts/bench-compare.sh maintains.
begin, end = "<!-- bench-compare:begin", "<!-- bench-compare:end -->"
try:
    old = open(md_path).read()
    if begin in old and end in old:
        md += "\n" + old[old.index(begin):old.index(end) + len(end)] + "\n"
except OSError:
    pass
open(md_path, "w").write(md)

# Grouped bars, one group per workload.
grouped_bars(svg_path, "ops/s, higher is better", [w for w, _, _ in bars],
             [("CrownDB", "#c0392b", [c for _, c, _ in bars]), ("RocksDB", "#2c3e50", [r for _, _, r in bars])],
             "operations per second")
