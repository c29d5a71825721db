#!/usr/bin/env bash
# CI quick mode of the benchmarks (issue 9): every suite once (`node dist/bench/run.js --quick
# --json`), so the harness cannot rot. Prints one JSON line per suite on stdout (progress goes to
# stderr). Never asserts on times: exits 0 when every suite ran, non-zero when a suite threw or
# the time budget (BENCH_QUICK_BUDGET seconds, default 1800) ran out. Whatever happens, it removes
# what the run created: its temporary homes (server/router processes, containers and images
# labelled io.slipway.home=<home>) and the peers' containers and images (label
# io.slipway.bench.run=<this run>). Nothing else is touched. Extra arguments go to run.js
# (for example `--only rebase`).
set -uo pipefail
cd "$(dirname "$0")/.."

budget=${BENCH_QUICK_BUDGET:-1800}
base=${SLIPWAY_TEST_HOMES:-/var/tmp/slipway-test-homes}
export BENCH_RUN_ID="quick-$$-$(date +%s)"
export SLIPWAY_TEST_HOMES="$base/bench-$BENCH_RUN_ID"
mkdir -p "$SLIPWAY_TEST_HOMES"

cleanup() {
  for pidfile in "$SLIPWAY_TEST_HOMES"/*/run/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for home in "$SLIPWAY_TEST_HOMES"/*/; do
    [ -d "$home" ] || continue
    home=${home%/}
    ids=$(docker ps -aq --filter "label=io.slipway.home=$home" 2>/dev/null || true)
    [ -n "$ids" ] && docker rm -f -v $ids >/dev/null 2>&1
    ids=$(docker network ls -q --filter "label=io.slipway.home=$home" 2>/dev/null || true)
    [ -n "$ids" ] && docker network rm $ids >/dev/null 2>&1
    ids=$(docker volume ls -q --filter "label=io.slipway.home=$home" 2>/dev/null || true)
    [ -n "$ids" ] && docker volume rm -f $ids >/dev/null 2>&1
    ids=$(docker images -q --filter "label=io.slipway.home=$home" 2>/dev/null | sort -u || true)
    [ -n "$ids" ] && docker rmi -f $ids >/dev/null 2>&1
  done
  ids=$(docker ps -aq --filter "label=io.slipway.bench.run=$BENCH_RUN_ID" 2>/dev/null || true)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
  ids=$(docker images -q --filter "label=io.slipway.bench.run=$BENCH_RUN_ID" 2>/dev/null | sort -u || true)
  [ -n "$ids" ] && docker rmi -f $ids >/dev/null 2>&1
  rm -rf "$SLIPWAY_TEST_HOMES"
  return 0
}
trap cleanup EXIT

[ -f dist/bench/run.js ] || npm run --silent build

started=$(date +%s)
timeout --kill-after=30 "$budget" node dist/bench/run.js --quick --json "$@"
status=$?
echo "bench-quick: $(( $(date +%s) - started )) s, exit $status" >&2
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
  echo "bench-quick: the time budget of ${budget} s ran out (BENCH_QUICK_BUDGET)" >&2
fi
exit "$status"
