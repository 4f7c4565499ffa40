#!/usr/bin/env bash
# Redis-protocol benchmark, side by side in one run: redis-benchmark against Redis 7 (Debian
# redis-server, --appendonly yes --appendfsync everysec, no RDB snapshots) and against
# `crowndb serve` (durability everysec), same client settings:
#   redis-benchmark -t set,get,incr,mset,hset,sadd,spop -d 100 -r 1000000 -c 50        (one request at a time)
#   redis-benchmark -t set,get,incr,mset,hset,sadd,spop -d 100 -r 1000000 -c 50 -P 16  (pipelines of 16)
#   and HGET, SISMEMBER, HGETALL on small hashes and sets (redis-benchmark running those command lines)
# Rounds alternate between the servers; the best round of each is reported. Then both servers
# are restarted empty, 1M keys (100-byte values) are loaded into each with redis-cli --pipe, and
# their RSS read.
# Writes docs/bench-redis.md. Not a test: run it on an otherwise idle machine.
#
#   scripts/bench-redis.sh [REQUESTS] [KEYS]     (defaults 200000 1000000; ROUNDS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-200000}
keys=${2:-1000000}
rounds=${ROUNDS:-2}
work=${BENCH_DIR:-/tmp/crowndb-bench-redis}
out=target/bench
rport=${REDIS_PORT:-21479}
cport=${CROWNDB_PORT:-21480}
mkdir -p "$out"
rm -rf "$work"
mkdir -p "$work/redis"

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  echo "installing redis-server and redis-tools" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi
cargo build --release -p crowndb-cli

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Starts both servers on empty data directories (suffix $1).
start_servers() {
  mkdir -p "$work/redis$1"
  redis-server --port "$rport" --bind 127.0.0.1 --dir "$work/redis$1" --appendonly yes --appendfsync everysec \
    --save "" --daemonize no --logfile "$work/redis$1.log" &
  pids+=($!); rpid=$!
  ./target/release/crowndb serve --data-dir "$work/crowndb$1" --memcached-addr off --redis-addr "127.0.0.1:$cport" \
    --durability everysec --log-level warn &
  pids+=($!); cpid=$!
  for port in "$rport" "$cport"; do
    for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
  done
}
stop_servers() {
  redis-cli -p "$rport" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  redis-cli -p "$cport" SHUTDOWN >/dev/null 2>&1 || true
  while kill -0 "$rpid" 2>/dev/null || kill -0 "$cpid" 2>/dev/null; do sleep 0.1; done
}
start_servers 1

load=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$rounds"); do
  for name in redis crowndb; do
    port=$rport; [ "$name" = crowndb ] && port=$cport
    for pipeline in 1 16; do
      n=$requests; [ "$pipeline" = 16 ] && n=$((requests * 5))
      echo "== round $round: $name -P $pipeline" >&2
      redis-benchmark -p "$port" -t set,get,incr,mset,hset,sadd,spop -d 100 -r 1000000 -c 50 -P "$pipeline" -n "$n" --csv \
        >"$out/redis-benchmark-$name-P$pipeline-$round.csv" 2>/dev/null
      # Small hashes and sets: 10,000 hashes of 10 fields, sets of 10 members, read at random.
      if [ "$round" = 1 ] && [ "$pipeline" = 1 ]; then
        redis-benchmark -p "$port" -r 10000 -n 100000 -c 50 -q HSET "h:__rand_int__" f1 v1 f2 v2 f3 v3 f4 v4 f5 v5 >/dev/null 2>&1
        redis-benchmark -p "$port" -r 10000 -n 100000 -c 50 -q SADD "s:__rand_int__" 1 2 3 4 5 a b c d e >/dev/null 2>&1
      fi
      for command in "HGET h:__rand_int__ f3" "SISMEMBER s:__rand_int__ c" "HGETALL h:__rand_int__"; do
        name_only=${command%% *}
        # shellcheck disable=SC2086
        redis-benchmark -p "$port" -r 10000 -n "$n" -c 50 -P "$pipeline" --csv $command 2>/dev/null | tail -n +2 |
          sed "s/^\"[^\"]*\"/\"$name_only\"/" >>"$out/redis-benchmark-$name-P$pipeline-$round.csv"
      done
      cat "$out/redis-benchmark-$name-P$pipeline-$round.csv" >&2
    done
  done
done

# The same 1M keys into both, restarted empty (100-byte values), then their resident memory.
stop_servers
start_servers 2
for port in "$rport" "$cport"; do
  python3 - "$keys" <<'PY' | redis-cli -p "$port" --pipe >/dev/null
import sys
keys = int(sys.argv[1])
value = b"v" * 100
out = sys.stdout.buffer
for start in range(0, keys, 10000):
    out.write(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nload:%d\r\n$100\r\n%s\r\n" % (len(b"load:%d" % i), i, value) for i in range(start, min(keys, start + 10000))))
PY
done
rss() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
redis_rss=$(rss "$rpid" VmRSS)
crowndb_rss=$(rss "$cpid" VmRSS)
redis_anon=$(rss "$rpid" RssAnon)
crowndb_anon=$(rss "$cpid" RssAnon)
redis_keys=$(redis-cli -p "$rport" DBSIZE)
crowndb_keys=$(redis-cli -p "$cport" DBSIZE)

. scripts/pyenv.sh
"$PY" - "$out" "$rounds" "$redis_rss" "$crowndb_rss" "$redis_keys" "$crowndb_keys" "$requests" "$keys" "$redis_anon" "$crowndb_anon" "$load" <<'PY' >docs/bench-redis.md
import csv, os, subprocess, sys
sys.path.insert(0, "scripts")
from plot import grouped_bars
out, rounds = sys.argv[1], int(sys.argv[2])
redis_rss, crowndb_rss, redis_keys, crowndb_keys = (int(x) for x in sys.argv[3:7])
requests, keys = int(sys.argv[7]), int(sys.argv[8])
redis_anon, crowndb_anon = int(sys.argv[9]), int(sys.argv[10])
load = sys.argv[11]

def best(name, pipeline):
    rates = {}
    for r in range(1, rounds + 1):
        with open(f"{out}/redis-benchmark-{name}-P{pipeline}-{r}.csv") as f:
            for row in csv.reader(f):
                if len(row) < 2 or row[0] == "test":
                    continue
                test = row[0].split(" ")[0]
                rates[test] = max(rates.get(test, 0.0), float(row[1]))
    return rates

version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
cpus = os.cpu_count()
print("# Redis protocol: CrownDB against Redis 7, with redis-benchmark")
print()
print("Produced by `scripts/bench-redis.sh` (do not edit by hand). One run, one machine "
      f"({cpus} cores, shared), both servers up at once, rounds alternating between them; the "
      f"best of {rounds} rounds per line. Redis {version.replace('v=', '')} with `--appendonly yes "
      "--appendfsync everysec` and no RDB snapshots; `crowndb serve --durability everysec` "
      "(the same promise: a power failure loses at most about a second, a crash of the process "
      "nothing). Load average when the runs started: " + load + " (other work on the machine; "
      "it weighs on both servers alike, and the rounds alternate).")
print()
print("`redis-benchmark -t set,get,incr,mset,hset,sadd,spop -d 100 -r 1000000 -c 50`, "
      f"`-n {requests}` one request at a time and `-n {requests * 5} -P 16` in pipelines of 16; "
      "requests per second (MSET sets 10 keys per request; HSET adds random fields to one hash, "
      "SADD random members to one set, SPOP pops them). HGET, SISMEMBER and HGETALL read 10,000 "
      "small hashes of 5 fields and sets of 10 members at random (`redis-benchmark -r 10000 HGET "
      "h:__rand_int__ f3` and so on).")
print()
print("| test | Redis | CrownDB | CrownDB / Redis |")
print("|---|---:|---:|---:|")
TESTS = ("SET", "GET", "INCR", "MSET", "HSET", "SADD", "SPOP", "HGET", "SISMEMBER", "HGETALL")
labels, redis_rates, crowndb_rates = [], [], []
for pipeline in (1, 16):
    r, c = best("redis", pipeline), best("crowndb", pipeline)
    for test in TESTS:
        if test in r and test in c:
            label = f"{test}" + ("" if pipeline == 1 else " -P 16")
            print(f"| {label} | {r[test]:,.0f} | {c[test]:,.0f} | {c[test] / r[test]:.2f}x |")
            labels.append(label)
            redis_rates.append(r[test])
            crowndb_rates.append(c[test])
grouped_bars("docs/bench-redis.svg", "redis-benchmark requests per second (higher is better)", labels,
             [("Redis 7 (AOF everysec)", "#2c3e50", redis_rates), ("CrownDB (everysec)", "#c0392b", crowndb_rates)],
             "requests per second", log=True)
print()
print("![redis-benchmark](bench-redis.svg)")
print()
print(f"Resident memory after loading {keys:,} keys with 100-byte values (`redis-cli --pipe`) into "
      "both servers restarted empty. RSS is all resident pages; anonymous is the part that is not "
      "a mapped file (heap, stacks):")
print()
print("| | keys (DBSIZE) | RSS | anonymous | RSS CrownDB / Redis | anonymous CrownDB / Redis |")
print("|---|---:|---:|---:|---:|---:|")
print(f"| Redis | {redis_keys:,} | {redis_rss / 1024:.0f} MiB | {redis_anon / 1024:.0f} MiB | | |")
print(f"| CrownDB | {crowndb_keys:,} | {crowndb_rss / 1024:.0f} MiB | {crowndb_anon / 1024:.0f} MiB | "
      f"{crowndb_rss / redis_rss:.2f}x | {crowndb_anon / redis_anon:.2f}x |")
print()
print("Redis holds every key and value in its heap. CrownDB holds an index of 8 bytes per key in "
      "RAM and reads values from memory-mapped segment files: the rest of its RSS is file pages "
      "of those segments that are mapped in (recently written or read data, shared with the page "
      "cache and reclaimable by the kernel under memory pressure), not memory that grows without "
      "bound with the data.")
PY
cat docs/bench-redis.md
