#!/usr/bin/env bash
# Long differential runs against Redis (docs/differential.md): many seeds, many commands each,
# a line of progress per seed, all mismatches (minimised) at the end.
#   scripts/differential.sh [SEEDS [COMMANDS [FIRST_SEED]]] [-- extra options]
#   e.g. scripts/differential.sh 200 20000           # 200 seeds x 20,000 commands
#        scripts/differential.sh 50 5000 1 -- --types strings --no-exclusions
# Needs redis-server (apt-get install redis-server). Builds crowndb and crowndb-torture (debug;
# PROFILE=release for a release build).
set -euo pipefail
cd "$(dirname "$0")/.."

seeds=${1:-100}
commands=${2:-10000}
first=${3:-$(date +%s)}
shift $(( $# < 3 ? $# : 3 )) || true
[ "${1:-}" = "--" ] && shift

if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
  echo "redis-server is not installed: apt-get install redis-server" >&2
  exit 2
fi
profile=${PROFILE:-debug}
flag=()
[ "$profile" = release ] && flag=(--release)
cargo build -q "${flag[@]}" -p crowndb-cli -p crowndb-torture
exec "target/$profile/crowndb-torture" differential --seed "$first" --seeds "$seeds" --commands "$commands" "$@"
