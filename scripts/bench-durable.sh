#!/usr/bin/env bash
# Durable writes, side by side in one run (issue 24): every write acknowledged only once on disk.
#   engine:  crowndb bench --workloads fillrandom --durability always --threads N
#            against RocksDB db_bench --benchmarks=fillrandom --sync=true --threads=N, N = 1 4 16 64
#   server:  redis-benchmark -t set,incr -d 100 -r 1000000 -c 50 (and -P 16) against Redis 7 with
#            appendonly yes, appendfsync always, and against crowndb serve --durability always
#   memcached protocol: memcaslap with 50% sets against crowndb serve in always and in everysec
# Writes docs/bench-durable.md and docs/bench-durable.svg. Not a test: run it on an idle machine.
#
#   scripts/bench-durable.sh [ENGINE_OPS] [SERVER_REQUESTS]     (defaults 40000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
ops=${1:-40000}
requests=${2:-100000}
work=${BENCH_DIR:-/tmp/crowndb-bench-durable}
out=target/bench-durable
rport=${REDIS_PORT:-21579}
cport=${CROWNDB_PORT:-21580}
mport=${MEMCACHED_PORT:-21581}
rm -rf "$work" "$out"
mkdir -p "$work" "$out"
missing=()
command -v db_bench >/dev/null || missing+=(rocksdb-tools)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-benchmark >/dev/null || missing+=(redis-tools)
command -v memcaslap >/dev/null || missing+=(libmemcached-tools)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cargo build --release -p crowndb-cli
crowndb=./target/release/crowndb
load=$(cut -d' ' -f1-3 /proc/loadavg)

: >"$out/engine.txt"
for threads in 1 4 16 64; do
  echo "== engine, $threads writers" >&2
  "$crowndb" bench --workloads fillrandom --num "$ops" --threads "$threads" --durability always \
    --data-dir "$work/crowndb-$threads" --json | grep '^{' | sed "s/^{/{\"store\":\"crowndb\",/" >>"$out/engine.txt"
  rm -rf "$work/crowndb-$threads"
  db_bench --benchmarks=fillrandom --num=$((ops / threads)) --threads="$threads" --sync=true --key_size=16 --value_size=100 \
    --compression_type=none --db="$work/rocksdb-$threads" --statistics=false 2>&1 |
    awk -v t="$threads" '/^fillrandom/ {print "{\"store\":\"rocksdb\",\"threads\":" t ",\"ops_per_sec\":" $5 "}"}' >>"$out/engine.txt"
  rm -rf "$work/rocksdb-$threads"
  tail -2 "$out/engine.txt" >&2
done

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do redis-cli -p "$1" PING >/dev/null 2>&1 && return; sleep 0.1; done; }

redis-server --port "$rport" --bind 127.0.0.1 --dir "$work" --appendonly yes --appendfsync always --save "" \
  --daemonize no --logfile "$work/redis.log" &
pids+=($!)
"$crowndb" serve --data-dir "$work/crowndb-server" --memcached-addr "127.0.0.1:$mport" --redis-addr "127.0.0.1:$cport" \
  --durability always --log-level warn &
pids+=($!)
wait_port "$rport"; wait_port "$cport"
for name in redis crowndb; do
  port=$rport; [ "$name" = crowndb ] && port=$cport
  for pipeline in 1 16; do
    echo "== server: $name -P $pipeline" >&2
    redis-benchmark -p "$port" -t set,incr -d 100 -r 1000000 -c 50 -P "$pipeline" -n "$requests" --csv 2>/dev/null |
      tail -n +2 | sed "s/^/$name,$pipeline,/" >>"$out/server.csv"
  done
done
echo "== memcaslap, 50% sets, always" >&2
memcaslap -s "127.0.0.1:$mport" -T 2 -c 50 -X 100 -r 0.5 -t 20s >"$out/memcaslap-always.txt" 2>&1 || true
redis-cli -p "$cport" SHUTDOWN >/dev/null 2>&1 || true
sleep 1
"$crowndb" serve --data-dir "$work/crowndb-everysec" --memcached-addr "127.0.0.1:$mport" --redis-addr "127.0.0.1:$cport" \
  --durability everysec --log-level warn &
pids+=($!)
wait_port "$cport"
echo "== memcaslap, 50% sets, everysec" >&2
memcaslap -s "127.0.0.1:$mport" -T 2 -c 50 -X 100 -r 0.5 -t 20s >"$out/memcaslap-everysec.txt" 2>&1 || true

. scripts/pyenv.sh
"$PY" - "$out" "$load" "$ops" "$requests" <<'PY'
import csv, json, os, re, sys
sys.path.insert(0, "scripts")
from plot import grouped_bars
out, load, ops, requests = sys.argv[1:5]
engine = {}
for line in open(os.path.join(out, "engine.txt")):
    r = json.loads(line)
    engine[(r["store"], int(r["threads"]))] = r
rows = ["| writers | CrownDB puts/s | writes per fdatasync | RocksDB puts/s | CrownDB / RocksDB |", "|---:|---:|---:|---:|---:|"]
threads = [1, 4, 16, 64]
for t in threads:
    c, r = engine.get(("crowndb", t), {}), engine.get(("rocksdb", t), {})
    co, ro = c.get("ops_per_sec"), r.get("ops_per_sec")
    ratio = f"{co / ro:.2f}x" if co and ro else "n/a"
    rows.append(f"| {t} | {co or 0:,.0f} | {c.get('writes_per_sync', 0):.1f} | {ro or 0:,.0f} | {ratio} |")
grouped_bars("docs/bench-durable.svg", "durable puts per second (fdatasync before each acknowledgment)",
             [f"{t} writers" for t in threads],
             [("CrownDB always", "#c0392b", [engine.get(("crowndb", t), {}).get("ops_per_sec") for t in threads]),
              ("RocksDB sync=true", "#2c3e50", [engine.get(("rocksdb", t), {}).get("ops_per_sec") for t in threads])],
             "operations per second", log=True)
server = {}
for row in csv.reader(open(os.path.join(out, "server.csv"))):
    name, pipeline, test, rps = row[0], row[1], row[2], float(row[3])
    server[(name, pipeline, test)] = rps
srows = ["| command | pipeline | Redis appendfsync always | CrownDB always | CrownDB / Redis |", "|---|---:|---:|---:|---:|"]
for test in ["SET", "INCR"]:
    for p in ["1", "16"]:
        r, c = server.get(("redis", p, test)), server.get(("crowndb", p, test))
        srows.append(f"| {test} | {p} | {r or 0:,.0f} | {c or 0:,.0f} | {c / r:.2f}x |" if r and c else f"| {test} | {p} | n/a | n/a | n/a |")
def memcaslap(path):
    m = re.findall(r"TPS:\s*(\d+)", open(path).read())
    return int(m[-1]) if m else None
ma, me = memcaslap(os.path.join(out, "memcaslap-always.txt")), memcaslap(os.path.join(out, "memcaslap-everysec.txt"))
md = f"""# Durable writes: group commit against RocksDB and Redis

Written by `scripts/bench-durable.sh` (one run, one machine; load average at the start: {load}).
Every write here is acknowledged only after the `fdatasync` that covers it. Absolute numbers
on this shared 2-core VM move with its disk; read the ratios.

## Engine: `crowndb bench --durability always` against `db_bench --sync=true`

fillrandom, {int(ops):,} puts in all (split over the writers), 16-byte keys, 100-byte values.

""" + "\n".join(rows) + """

![durable puts](bench-durable.svg)

## Server: redis-benchmark against Redis 7 with `appendfsync always`

`redis-benchmark -t set,incr -d 100 -r 1000000 -c 50 [-P 16] -n """ + f"{int(requests):,}" + """`; `crowndb serve --durability always`
(a pipeline shares one sync, and so do concurrent connections: every connection's batch waits
on the same group commit).

""" + "\n".join(srows) + f"""

## memcached protocol: memcaslap, 50% sets

`memcaslap -T 2 -c 50 -X 100 -r 0.5 -t 20s` against `crowndb serve`: durability always
{ma or 'n/a'} ops/s, everysec {me or 'n/a'} ops/s.
"""
open("docs/bench-durable.md", "w").write(md)
print(md)
PY
