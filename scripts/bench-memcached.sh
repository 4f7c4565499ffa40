#!/usr/bin/env bash
# memcached-protocol benchmark, side by side in one run: memcaslap against memcached 1.6
# (-t 2) and against `crowndb serve` (durability everysec), same client settings: 90% get /
# 10% set, 100-byte values, 64 concurrent connections, 2 client threads. Rounds alternate
# between the servers. Then 1M items (100-byte values) are loaded into each and their RSS read.
# Writes docs/bench-server.md.
#
#   scripts/bench-memcached.sh [SECONDS_PER_RUN] [ITEMS]     (defaults 20 1000000; ROUNDS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
items=${2:-1000000}
rounds=${ROUNDS:-2}
work=${BENCH_DIR:-/tmp/crowndb-bench-memcached}
out=target/bench
mport=${MEMCACHED_PORT:-21411}
cport=${CROWNDB_PORT:-21412}
mkdir -p "$out"
rm -rf "$work"
mkdir -p "$work"

if ! command -v memcached >/dev/null || ! command -v memcaslap >/dev/null; then
  echo "installing memcached and libmemcached-tools" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq memcached libmemcached-tools >/dev/null
fi
cargo build --release -p crowndb-cli

user=()
if [ "$(id -u)" = 0 ]; then user=(-u nobody); fi
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

memcached "${user[@]}" -t 2 -m 4096 -p "$mport" -l 127.0.0.1 -U 0 &
pids+=($!); mpid=$!
./target/release/crowndb serve --data-dir "$work/data" --memcached-addr "127.0.0.1:$cport" --durability everysec --log-level warn &
pids+=($!); cpid=$!

python3 - "$mport" "$cport" <<'EOF'
import socket, sys, time
for port in sys.argv[1:]:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", int(port))).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        sys.exit(f"nothing listens on {port}")
EOF

for round in $(seq 1 "$rounds"); do
  for name in memcached crowndb; do
    port=$mport; [ "$name" = crowndb ] && port=$cport
    echo "== round $round: $name" >&2
    memcaslap -s "127.0.0.1:$port" -T 2 -c 64 -X 100 -t "${secs}s" -S "${secs}s" >"$out/memcaslap-$name-$round.txt" 2>&1
    grep "^Run time" "$out/memcaslap-$name-$round.txt" >&2
  done
done

# Load the same items into both (pipelined sets), then read their resident memory.
python3 - "$mport" "$cport" "$items" <<'EOF'
import socket, sys
ports, items = sys.argv[1:3], int(sys.argv[3])
value = b"v" * 100
for port in ports:
    s = socket.create_connection(("127.0.0.1", int(port)))
    batch = 1000
    for start in range(0, items, batch):
        req = b"".join(b"set load:%d 0 0 100 noreply\r\n%s\r\n" % (i, value) for i in range(start, min(items, start + batch)))
        s.sendall(req)
    s.sendall(b"mn\r\n")
    buf = b""
    while not buf.endswith(b"MN\r\n"):
        buf += s.recv(65536)
    s.close()
EOF
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
echo "memcached_rss_kb $(rss "$mpid")" >"$out/rss.txt"
echo "crowndb_rss_kb $(rss "$cpid")" >>"$out/rss.txt"
cat "$out/rss.txt" >&2

python3 - "$out" "$rounds" "$secs" "$items" <<'EOF'
import re, subprocess, sys, platform
out, rounds, secs, items = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])

def parse(path):
    text = open(path).read()
    tps = int(re.search(r"TPS: (\d+)", text).group(1))
    # Latency percentiles from memcaslap's log2 histogram of all operations (microseconds):
    # row "N:" holds the counts of [2^N, 2^(N+1)), [2^(N+1), ...), four buckets per row.
    total = text[text.rindex("Total Statistics"):]
    buckets = []
    for row, counts in re.findall(r"^\s+(\d+):((?:\s+\d+)+)\s*$", total, re.M):
        for i, c in enumerate(counts.split()):
            buckets.append((int(row) + i, int(c)))
    n = sum(c for _, c in buckets)
    def pct(p):
        seen = 0
        for exp, c in sorted(buckets):
            seen += c
            if seen >= p * n:
                return 2 ** (exp + 1)
        return None
    avg = int(re.search(r"Total Statistics.*?Avg:\s+(\d+)", text, re.S).group(1))
    return tps, avg, pct(0.5), pct(0.99)

rows = {name: [parse(f"{out}/memcaslap-{name}-{r}.txt") for r in range(1, rounds + 1)] for name in ("memcached", "crowndb")}
rss = dict(line.split() for line in open(f"{out}/rss.txt"))
mean = lambda xs: sum(xs) / len(xs)
m_tps, c_tps = mean([r[0] for r in rows["memcached"]]), mean([r[0] for r in rows["crowndb"]])
cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()

lines = [
    "# Server benchmark: memcached protocol",
    "",
    "All figures come from `scripts/bench-memcached.sh`: `memcaslap` (libmemcached-tools) against",
    "memcached 1.6 (`-t 2`) and against `crowndb serve` (durability `everysec`: every write",
    "persisted, synced each second), one after the other in the same run, rounds alternating, the",
    "same client settings: 90% get / 10% set, 100-byte values, 64 concurrent connections, 2 client",
    "threads, the client on the same machine. Absolute numbers on a shared 2-core machine are noise",
    "(the client takes a core too); the ratio is the result.",
    "",
    f"Machine: {cpu} cores, kernel {platform.release()}. {rounds} rounds of {secs} s per server.",
    "",
    "## Throughput and latency",
    "",
    "| round | memcached ops/s | CrownDB ops/s | CrownDB / memcached |",
    "|---|---:|---:|---:|",
]
for r in range(rounds):
    m, c = rows["memcached"][r][0], rows["crowndb"][r][0]
    lines.append(f"| {r + 1} | {m:,} | {c:,} | {c / m:.2f}x |")
lines.append(f"| mean | {m_tps:,.0f} | {c_tps:,.0f} | **{c_tps / m_tps:.2f}x** |")
lines += [
    "",
    "Latency of all operations, last round, microseconds (p50 and p99 are upper bounds of",
    "memcaslap's power-of-two histogram buckets):",
    "",
    "| server | average | p50 | p99 |",
    "|---|---:|---:|---:|",
]
for name in ("memcached", "crowndb"):
    _, avg, p50, p99 = rows[name][-1]
    lines.append(f"| {name} | {avg} | ≤ {p50} | ≤ {p99} |")
lines += [
    "",
    f"## Memory after loading {items:,} items (100-byte values)",
    "",
    "| server | RSS |",
    "|---|---:|",
    f"| memcached | {int(rss['memcached_rss_kb']) / 1024:,.0f} MiB |",
    f"| CrownDB | {int(rss['crowndb_rss_kb']) / 1024:,.0f} MiB |",
    "",
    "CrownDB's RSS counts the mapped segment pages the OS keeps resident (the page cache of the",
    "data just written); its own heap is the index (about 10 bytes per key) and connection buffers.",
    "",
]
open("docs/bench-server.md", "w").write("\n".join(lines))
print(f"memcached {m_tps:,.0f} ops/s, CrownDB {c_tps:,.0f} ops/s: {c_tps / m_tps:.2f}x", file=sys.stderr)
EOF
echo "wrote docs/bench-server.md" >&2
