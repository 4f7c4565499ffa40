#!/usr/bin/env python3
"""Turns the output of scripts/bench-compare.sh (harness JSON lines for CrownDB, sled, fjall,
redb; db_bench's text for RocksDB) into the "Comparison" section of docs/benchmarks.md and
two SVG charts (matplotlib, scripts/plot.py). Only the text between the section's markers is replaced."""
import json, os, platform, re, subprocess, sys

from plot import grouped_bars

peers_path, rocks_path, rocks_disk, num, md_path, svg_dir = sys.argv[1:7]
load = sys.argv[7] if len(sys.argv) > 7 else "?"
WORKLOADS = ["fillseq", "fillrandom", "overwrite", "readrandom", "readmissing", "readhot",
             "readwhilewriting", "deleterandom", "mixed"]
STORES = ["crowndb", "rocksdb", "sled", "fjall", "redb"]
NAMES = {"crowndb": "CrownDB", "rocksdb": "RocksDB", "sled": "sled", "fjall": "fjall", "redb": "redb"}
COLORS = {"crowndb": "#c0392b", "rocksdb": "#2c3e50", "sled": "#27ae60", "fjall": "#2980b9", "redb": "#8e44ad"}

results = {}  # (store, workload) -> dict
for line in open(peers_path):
    r = json.loads(line)
    results[(r["store"], r["workload"])] = r

# db_bench: a result line, then (with --histogram) "Percentiles: P50: .. P99: .. P99.9: ..".
current = None
for line in open(rocks_path):
    m = re.match(r"^(\w+)\s*:\s*([\d.]+) micros/op (\d+) ops/sec", line)
    if m:
        name = "mixed" if m.group(1) == "readrandomwriterandom" else m.group(1)
        current = {"ops_per_sec": float(m.group(3))}
        results[("rocksdb", name)] = current
        continue
    m = re.match(r"^Percentiles: P50: ([\d.]+) P75: [\d.]+ P99: ([\d.]+) P99.9: ([\d.]+)", line)
    if m and current is not None and "p50_us" not in current:
        current.update(p50_us=float(m.group(1)), p99_us=float(m.group(2)), p999_us=float(m.group(3)))

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"

cpu = sh("lscpu | sed -n 's/^Model name: *//p'")
disk = sh("df -h --output=source,fstype,size / | tail -1")
machine = f"{os.cpu_count()} cores ({cpu}), kernel {platform.release()}, disk: {disk}"

def get(store, w, field):
    return results.get((store, w), {}).get(field)

def fmt(v, spec=",.0f"):
    return "n/a" if v is None else format(v, spec)

# Throughput table with ratios.
rows = ["| workload | " + " | ".join(NAMES[s] for s in STORES) + " | " +
        " | ".join(f"CrownDB / {NAMES[s]}" for s in STORES[1:]) + " |",
        "|---|" + "---:|" * (2 * len(STORES) - 1)]
for w in WORKLOADS:
    c = get("crowndb", w, "ops_per_sec")
    cells = [fmt(get(s, w, "ops_per_sec")) for s in STORES]
    ratios = []
    for s in STORES[1:]:
        o = get(s, w, "ops_per_sec")
        ratios.append(f"{c / o:.2f}x" if c and o else "n/a")
    rows.append(f"| {w} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")

# Latency table: p50 / p99 / p99.9 in microseconds.
lat = ["| workload | " + " | ".join(NAMES[s] for s in STORES) + " |", "|---|" + "---:|" * len(STORES)]
for w in WORKLOADS:
    cells = []
    for s in STORES:
        p = [get(s, w, f) for f in ("p50_us", "p99_us", "p999_us")]
        cells.append("n/a" if None in p else f"{p[0]:.2f} / {p[1]:.2f} / {p[2]:.1f}")
    lat.append(f"| {w} | " + " | ".join(cells) + " |")

# Memory and space after fillrandom (all stores hold the same keys then).
mem = ["| store | RAM per key (bytes) | space amplification | write amplification |", "|---|---:|---:|---:|"]
for s in ["crowndb", "sled", "fjall", "redb"]:
    mem.append(f"| {NAMES[s]} | {fmt(get(s, 'fillrandom', 'ram_per_key_bytes'), '.1f')} | "
               f"{fmt(get(s, 'fillrandom', 'space_amp'), '.2f')} | {fmt(get(s, 'overwrite', 'write_amp'), '.2f')} |")

def bar_chart(path, title, field, ylabel):
    """Grouped bars: one group per workload, one bar per store; log scale."""
    series = [(NAMES[s], COLORS[s], [get(s, w, field) for w in WORKLOADS]) for s in STORES]
    grouped_bars(path, title, WORKLOADS, series, ylabel, log=True)

bar_chart(os.path.join(svg_dir, "bench-compare-throughput.svg"), "operations per second (higher is better)", "ops_per_sec", "ops/s (log scale)")
bar_chart(os.path.join(svg_dir, "bench-compare-p99.svg"), "p99 latency (lower is better)", "p99_us", "microseconds (log scale)")

section = f"""<!-- bench-compare:begin (written by scripts/bench-compare.sh; edits between the markers are lost) -->
## Comparison with RocksDB, sled, fjall and redb

`scripts/bench-compare.sh` runs the nine workloads of `crowndb bench` against every store in
one run on one machine: {int(num):,} operations per workload, 16-byte keys, 100-byte values,
one client thread (readwhilewriting: one reader and one writer), no sync per write, no
compression. CrownDB, sled, fjall and redb run in-process in one harness (`bench/peers`); RocksDB
runs its own `db_bench` (Debian's `rocksdb-tools` {sh("dpkg-query -W -f='${Version}' rocksdb-tools")}, a build with assertions
on). Fill workloads start from an empty store; the others run on what the previous workload
left. mixed is 90% reads (db_bench's readrandomwriterandom); db_bench 7.8 has no readhot. Figures on a shared 2-core
machine move by 10-20% between runs: read the ratios, not the absolute numbers.

Machine: {machine}. Load average when the run started: {load} (other work on the machine
slows every store, but not equally, since they run one after the other).

### Throughput (operations per second)

""" + "\n".join(rows) + """

![throughput](bench-compare-throughput.svg)

### Latency (p50 / p99 / p99.9, microseconds)

""" + "\n".join(lat) + """

![p99 latency](bench-compare-p99.svg)

### Memory, space and write amplification

Measured the same way for the four in-process stores: RAM per key is the growth of the
process's anonymous memory over the live keys after fillrandom (a fresh store); space
amplification is the store's allocated file blocks over the live keys' key and value bytes
after fillrandom (CrownDB's preallocated active segment counts in full); write amplification
is the bytes the process dirtied for storage (`/proc/self/io`) over the key and value bytes
written, after overwrite. """ + f"RocksDB's directory held {int(rocks_disk):,} bytes at the end of its run." + """

""" + "\n".join(mem) + """

How each peer is run without a sync per write: CrownDB `Durability::Never`; sled without
its periodic flush; fjall's defaults (journal written, not synced); redb commits each write
in its own transaction with `Durability::None`, every 1024th with `Eventual` (redb frees
pages only on durable commits; without them its file grows by gigabytes); RocksDB
`--sync=false` (WAL written, not synced).

The servers are compared by `SERVERS=1 scripts/bench-compare.sh` (or the scripts alone):
[bench-server.md](bench-server.md) (memcaslap: memcached and `crowndb serve`) and
[bench-redis.md](bench-redis.md) (redis-benchmark: Redis and `crowndb serve`).
<!-- bench-compare:end -->
"""

page = open(md_path).read() if os.path.exists(md_path) else "# Benchmarks\n"
begin, end = "<!-- bench-compare:begin", "<!-- bench-compare:end -->\n"
if begin in page and end in page:
    page = page[:page.index(begin)] + section + page[page.index(end) + len(end):]
else:
    page = page.rstrip("\n") + "\n\n" + section
open(md_path, "w").write(page)
