#!/usr/bin/env bash
# The collection store at scale, beside Redis 7 in the same run: one hash and one set of
# MEMBERS commands each (random members, 100-byte hash values, as redis-benchmark -r sends
# them; about 88% distinct), then HGET / SISMEMBER, RAM per member, records and bytes written
# per command, reopen and DEL time (crates/crowndb/examples/collection_bench.rs); and the same
# members loaded into redis-server with redis-cli --pipe: MEMORY USAGE per member and DEL time.
# Writes docs/bench-collections.md and docs/bench-collections.svg.
#
#   scripts/bench-collections.sh [MEMBERS]     (default 10000000: ~15 min and ~3 GB of RAM for Redis)
set -euo pipefail
cd "$(dirname "$0")/.."
members=${1:-10000000}
work=${BENCH_DIR:-/tmp/crowndb-bench-collections}
out=target/bench-collections
port=${REDIS_PORT:-21990}
rm -rf "$work" "$out"
mkdir -p "$work" "$out"
command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null; }
cargo build --release -p crowndb --example collection_bench
load=$(cut -d' ' -f1-3 /proc/loadavg)
./target/release/examples/collection_bench --members "$members" --reads 2000000 --dir "$work/crowndb" | tee "$out/crowndb.jsonl"

redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir "$work" --logfile "$work/redis.log" &
rpid=$!
trap 'kill $rpid 2>/dev/null || true' EXIT
for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
python3 - "$members" <<'PY' | redis-cli -p "$port" --pipe >/dev/null
import sys
out = sys.stdout.buffer
n = int(sys.argv[1])
def mix(i):  # the member order collection_bench uses
    x = (i * 0x9E3779B97F4A7C15) & (2**64 - 1)
    x ^= x >> 31
    return (x * 0xBF58476D1CE4E5B9) & (2**64 - 1)
v = b"v" * 100
buf = []
for i in range(n):
    m = b"element:%012d" % (mix(i) % (n * 4))
    buf.append(b"*4\r\n$4\r\nHSET\r\n$6\r\nmyhash\r\n$20\r\n%s\r\n$100\r\n%s\r\n" % (m, v))
    buf.append(b"*3\r\n$4\r\nSADD\r\n$5\r\nmyset\r\n$20\r\n%s\r\n" % m)
    if len(buf) >= 20000:
        out.write(b"".join(buf))
        buf = []
out.write(b"".join(buf))
PY
python3 - "$port" <<'PY' >"$out/redis.json"
import json, socket, subprocess, sys, time
port = sys.argv[1]
cli = lambda *a: subprocess.run(["redis-cli", "-p", port, *a], capture_output=True, text=True).stdout.strip()
r = {"hash_members": int(cli("HLEN", "myhash")), "set_members": int(cli("SCARD", "myset")),
     "hash_bytes": int(cli("MEMORY", "USAGE", "myhash", "SAMPLES", "0")), "set_bytes": int(cli("MEMORY", "USAGE", "myset", "SAMPLES", "0"))}
s = socket.create_connection(("127.0.0.1", int(port)))
for key in ("myhash", "myset"):
    t = time.time()
    s.sendall(b"DEL %s\r\n" % key.encode())
    s.recv(100)
    r[f"del_{key}_ms"] = (time.time() - t) * 1000
print(json.dumps(r))
PY
. scripts/pyenv.sh
"$PY" - "$out" "$load" <<'PY'
import json, os, sys
sys.path.insert(0, "scripts")
from plot import grouped_bars
out, load = sys.argv[1:3]
c = {}
for line in open(os.path.join(out, "crowndb.jsonl")):
    line = line.strip()
    if line.startswith("{"):
        r = json.loads(line)
        c[r["workload"]] = r
r = json.load(open(os.path.join(out, "redis.json")))
h, s = c["hset"], c["sadd"]
redis_h, redis_s = r["hash_bytes"] / r["hash_members"], r["set_bytes"] / r["set_members"]
grouped_bars("docs/bench-collections.svg", "RAM per member (log scale, lower is better)", ["hash (100-byte values)", "set"],
             [("Redis 7", "#2c3e50", [redis_h, redis_s]), ("CrownDB", "#c0392b", [h["anon_ram_bytes_per_member"], s["anon_ram_bytes_per_member"]])],
             "bytes per member", log=True)
md = f"""# Collections at scale: one hash and one set against Redis 7

Written by `scripts/bench-collections.sh` (one run, one machine; load average at the start:
{load}). CrownDB: `crates/crowndb/examples/collection_bench.rs`, the engine in-process,
{h['commands']:,} HSET commands of one random field each (100-byte values) into one hash, then
as many SADD into one set ({h['members']:,} distinct members each), one command = one
transaction = one batch, durability `never` (the OS writes back), 1 KiB pages. Redis: the same
members sent to `redis-server` with `redis-cli --pipe`.

| figure | hash | set |
|---|---:|---:|
| members | {h['members']:,} | {s['members']:,} |
| CrownDB commands per second (one at a time, in-process) | {h['ops_per_sec']:,.0f} | {s['ops_per_sec']:,.0f} |
| CrownDB point reads per second (HGET / SISMEMBER, random members) | {c['hget']['ops_per_sec']:,.0f} | {c['sismember']['ops_per_sec']:,.0f} |
| records written per command (head + page; splits add two) | {h['records_written_per_command']:.2f} | {s['records_written_per_command']:.2f} |
| bytes written per command (compaction's copies included) | {h['bytes_written_per_command']:,.0f} | {s['bytes_written_per_command']:,.0f} |
| records read per point command | 2 (head, page) | 2 (head, page) |
| CrownDB RAM per member (anonymous memory growth) | {h['anon_ram_bytes_per_member']:.2f} B | {s['anon_ram_bytes_per_member']:.2f} B |
| index growth over the fill (one entry per page) | {h['index_bytes_per_member']:.2f} B | {s['index_bytes_per_member']:.2f} B |
| Redis RAM per member (MEMORY USAGE) | {redis_h:.1f} B | {redis_s:.1f} B |
| CrownDB / Redis RAM | 1/{redis_h / max(h['anon_ram_bytes_per_member'], 0.01):.0f} | 1/{redis_s / max(s['anon_ram_bytes_per_member'], 0.01):.0f} |
| DEL, CrownDB | {c['del myhash']['del_us']:.0f} µs | {c['del myset']['del_us']:.0f} µs |
| DEL, Redis (blocks the server meanwhile) | {r['del_myhash_ms']:,.0f} ms | {r['del_myset_ms']:,.0f} ms |

![RAM per member](bench-collections.svg)

Reopening the store holding both (cold page cache, {c['reopen']['keys']} keys and their pages):
{c['reopen']['secs']:.2f} s. Besides the footers, open reads the key of every page record to find
pages of dead incarnations (docs/architecture.md, "After a crash"); how much of the time that
pass takes was not measured apart. After DEL, a compaction reclaimed the hash's pages
in {c['del myhash']['compact_after_secs']:.1f} s.

The RAM per member is the growth of the process's anonymous memory over the fill, divided by the
members: the index entries of the pages, and allocator slack. The pages themselves are file
pages of the segments (the page cache), not the process's memory.
"""
open("docs/bench-collections.md", "w").write(md)
print(md)
PY
