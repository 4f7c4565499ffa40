"""docs/bench-scale.md and its plot from examples/fill_scale's JSON lines (scripts/bench-scale.sh)."""
import json, os, sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

path, load = sys.argv[1:3]
rows, reads, reopen = [], {}, None
for line in open(path):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if "rate_last_10m" in r:
        rows.append(r)
    elif "reopen_secs" in r:
        reopen = r["reopen_secs"]
    elif "workload" in r:
        reads[r["workload"]] = r
keys = [r["keys"] / 1e6 for r in rows]
fig, ax = plt.subplots(figsize=(7, 3.6))
ax.plot(keys, [r["rate_last_10m"] for r in rows], marker="o", color="#c0392b", label="puts/s over each 10M keys")
ax.set_xlabel("keys in the store (millions)")
ax.set_ylabel("puts per second")
ax.set_ylim(bottom=0)
ax.grid(color="#dddddd", linewidth=0.6)
ax.set_title("fillseq past the page cache (24 GiB RAM)")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig("docs/bench-scale.svg")
first, last = rows[0], rows[-1]
n = last["keys"]
tail = [r for r in rows if r["keys"] > n - 100_000_000]
tail_rate = len(tail) * 10_000_000 / sum(10_000_000 / r["rate_last_10m"] for r in tail)
table = "\n".join(
    f"| {r['keys'] / 1e6:.0f}M | {r['rate_last_10m']:,.0f} | {r['false_candidate_reads']:,} | {r['ram_per_key']:.2f} | {r['segments']} |" for r in rows
)
rr, rm = reads.get("readrandom", {}), reads.get("readmissing", {})
md = f"""# A fill past the page cache

Written by `scripts/bench-scale.sh` (`crates/crowndb/examples/fill_scale.rs`; load average at the
start: {load}). fillseq of {n:,} keys, 16-byte keys and 100-byte values, durability `never`,
no background compaction (nothing to compact in a fill), on this 2-core VM with 24 GiB of RAM:
the segments outgrow the page cache at about 160M keys.

| keys | puts/s over the last 10M | false candidate reads so far | RAM per key (anonymous) | segments |
|---:|---:|---:|---:|---:|
{table}

![fill rate](bench-scale.svg)

- Rate over the first 10M keys: {first['rate_last_10m']:,.0f}/s; over the last 100M: {tail_rate:,.0f}/s
  ({tail_rate / first['rate_last_10m']:.2f} of it).
- False candidate reads: {last['false_candidate_reads']:,} over {n:,} puts
  ({last['false_candidate_reads'] / n:.5f} per put; the index tells keys apart by 36 bits, docs/architecture.md).
- Reopen with a cold page cache: {reopen} s.
- Random gets with a cold page cache ({rr.get('gets', 0):,} each, disk reads counted as 4 KiB
  pages of `/proc/self/io` read_bytes): present keys {rr.get('disk_reads_per_get', 0):.3f} disk
  reads per get at {rr.get('ops_per_sec', 0):,.0f} gets/s; missing keys {rm.get('disk_reads_per_get', 0):.4f}
  at {rm.get('ops_per_sec', 0):,.0f}/s. False candidates per get: {rr.get('false_candidates_per_get', 0):.5f}
  and {rm.get('false_candidates_per_get', 0):.5f}. A get of a present key reads one page, and a
  second one for the few records that cross a page boundary (a 132-byte record does 1 time in
  31: +0.03); false candidates add about n / 2^36.

Before segments were mapped with `MADV_RANDOM` (commit 69365c4), the same fill had read 227 GB
from the disk by 210M keys, while writing 37 GB: once the page cache was full, every fault of
the writer's mapping read the pages around it too. The rate fell to 187k puts/s at 200-210M
keys and the run was stopped; with random advice the fill read 0.28 GB by 200M keys. A cold
get read 10.8 pages instead of 1 (30M keys).

Not measured here: 500M keys (about 70 GB with the copy a peer would need; this disk had 56 GB
free), RocksDB on the same data, and a reopen at a quarter of a full scan (it is {reopen} s at
{n / 1e6:.0f}M keys: the footers alone are {n * 20 / 1e9:.1f} GB; an index checkpoint is the way).
"""
open("docs/bench-scale.md", "w").write(md)
print(md)
