#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time, one after another, and prints the
# executions and findings of each. See docs/reliability.md.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60 s, every target
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and, on a stable toolchain, RUSTC_BOOTSTRAP=1
# (set here) for the sanitizer flags. Runs at nice 19, one process: the machine is shared.
# Corpora grow in fuzz/corpus/<target> (seeded from fuzz/seeds/<target>); a crashing input
# lands in fuzz/artifacts/<target>/ and is copied to fuzz/regressions/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
shift || true
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null 2>&1 || { echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 2; }
targets=("$@")
[ ${#targets[@]} -eq 0 ] && mapfile -t targets < <(cargo fuzz list)

nice -n 19 cargo fuzz build -O >/dev/null 2>&1
printf '%-16s %12s %10s %8s %s\n' target executions exec/s findings seconds
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t" "regressions/$t"
  before=$(ls "artifacts/$t" | wc -l)
  log="artifacts/$t.log"
  start=$(date +%s)
  nice -n 19 cargo fuzz run -O "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    >"$log" 2>&1 || status=1
  took=$(( $(date +%s) - start ))
  # Executions and speed from libFuzzer's own final stats (the wall time includes the build).
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || true)
  [ -n "$runs" ] || runs=$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#' || echo 0)
  speed=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
  after=$(ls "artifacts/$t" | wc -l)
  found=$(( after - before ))
  for f in $(ls -t "artifacts/$t" | head -n "$found"); do cp "artifacts/$t/$f" "regressions/$t/"; done
  printf '%-16s %12s %10s %8s %s\n' "$t" "$runs" "$speed" "$found" "$took"
  if [ "$found" -gt 0 ]; then grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5 | sed 's/^/    /'; fi
done
exit $status
