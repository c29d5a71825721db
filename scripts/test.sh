#!/usr/bin/env bash
# The README's test command (`npm test`). On a fresh machine it installs and starts everything the
# tests need, then runs every tier: unit, integration, security, browser, bench, e2e. Pass tier names to run only those
# (`npm test -- unit`). The browser tier drives Debian's chromium (installed here) with
# playwright-core. Leftovers from earlier runs (containers, stale pid files, test homes) are
# cleaned first, so a killed run never breaks the next one.
set -euo pipefail
cd "$(dirname "$0")/.."
tiers=("$@")
# bench: every benchmark suite once (--quick) so the harness cannot rot; times are not asserted.
[ ${#tiers[@]} -gt 0 ] || tiers=(unit integration security browser bench e2e)

step() { printf -- '-----> %s\n' "$*"; }

export SLIPWAY_TEST_STACK_HOME=${SLIPWAY_TEST_STACK_HOME:-/var/tmp/slipway-test-stack}
export SLIPWAY_TEST_HOMES=${SLIPWAY_TEST_HOMES:-/var/tmp/slipway-test-homes}

if [ "$(id -u)" = 0 ]; then
  missing=()
  for tool in git debootstrap openssl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  command -v wrk >/dev/null || missing+=(wrk)
  command -v nginx >/dev/null || missing+=(nginx-light)
  # ACME tests run Let's Encrypt's test CA (pebble + pebble-challtestsrv) on loopback.
  command -v pebble >/dev/null || missing+=(pebble)
  # The dashboard's browser tests (test/browser) run Debian's chromium headless.
  command -v chromium >/dev/null || missing+=(chromium)
  # Image deploys pull from a real registry the test starts on loopback, with htpasswd auth.
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  command -v htpasswd >/dev/null || missing+=(apache2-utils)
  # The stack update check tests build a .deb and index a local mirror; the check reads Packages.xz.
  command -v dpkg-scanpackages >/dev/null || missing+=(dpkg-dev)
  command -v xz >/dev/null || missing+=(xz-utils)
  if [ ${#missing[@]} -gt 0 ]; then
    step "Installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" ca-certificates >/dev/null
    # The package's own service (port 5000 on every address) is not wanted: tests start their own.
    if [[ " ${missing[*]} " == *" docker-registry "* ]]; then systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi
  fi
fi

bash scripts/ensure-node-deps.sh

step "Building (tsc) and linting (import boundaries)"
npm run --silent build
node scripts/lint-boundaries.mjs

step "Docker engine"
bash scripts/ensure-docker.sh

step "Cleaning leftovers of earlier test runs"
# Only what tests made: containers whose io.slipway.home is a test home, and the test homes.
for id in $(docker ps -aq --filter label=io.slipway.managed=true); do
  home=$(docker inspect -f '{{ index .Config.Labels "io.slipway.home" }}' "$id" 2>/dev/null || true)
  case "$home" in "$SLIPWAY_TEST_HOMES"/*) docker rm -f "$id" >/dev/null 2>&1 || true ;; esac
done
# App networks of test homes (a killed run leaves them; each holds a /25 of the network pool).
for id in $(docker network ls -q --filter label=io.slipway.managed=true); do
  home=$(docker network inspect -f '{{ index .Labels "io.slipway.home" }}' "$id" 2>/dev/null || true)
  case "$home" in "$SLIPWAY_TEST_HOMES"/*) docker network rm "$id" >/dev/null 2>&1 || true ;; esac
done
# Data volumes of add-on services of test homes.
for id in $(docker volume ls -q --filter label=io.slipway.managed=true); do
  home=$(docker volume inspect -f '{{ index .Labels "io.slipway.home" }}' "$id" 2>/dev/null || true)
  case "$home" in "$SLIPWAY_TEST_HOMES"/*) docker volume rm -f "$id" >/dev/null 2>&1 || true ;; esac
done
for pidfile in "$SLIPWAY_TEST_HOMES"/*/run/*.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
done
rm -rf "$SLIPWAY_TEST_HOMES"
mkdir -p "$SLIPWAY_TEST_HOMES"
# App images that test servers pulled from their registries (127.0.0.1:PORT/apps/APP) carry no
# home label; those whose server no longer answers are leftovers of killed runs. (An installed
# platform's images are pulled again from its store when needed; images in use are kept.)
docker images --format '{{.Repository}} {{.ID}}' | while read -r repo id; do
  case "$repo" in 127.0.0.1:*/apps/*) ;; *) continue ;; esac
  port=${repo#127.0.0.1:}; port=${port%%/*}
  curl -fsS --max-time 1 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && continue
  docker rmi "$id" >/dev/null 2>&1 || true
done

step "Stack images: bookworm and trixie (built once per machine, ~3 min each; unchanged recipes are reused)"
SLIPWAY_HOME="$SLIPWAY_TEST_STACK_HOME" SLIPWAY_STACK_CACHE="${SLIPWAY_STACK_CACHE:-/var/cache/slipway/stacks}" node dist/stacks/cli.js --all
step "Add-on service images (PostgreSQL, Redis; built once per machine like the stacks)"
SLIPWAY_HOME="$SLIPWAY_TEST_STACK_HOME" SLIPWAY_STACK_CACHE="${SLIPWAY_STACK_CACHE:-/var/cache/slipway/stacks}" node dist/stacks/services-cli.js

status=0 passed=0 failed=0
summary=$(mktemp)
for tier in "${tiers[@]}"; do
  if [ "$tier" = bench ]; then
    step "Running the benchmark suites once (quick mode; no assertions on times)"
    bash scripts/bench-quick.sh || { status=1; echo " !     the benchmark harness failed (see above)"; }
    continue
  fi
  files=$(find "dist/test/$tier" -name '*.test.js' 2>/dev/null | sort || true)
  if [ -z "$files" ]; then step "No $tier tests"; continue; fi
  step "Running $tier tests"
  conc=1; [ "$tier" = unit ] && conc=4
  # shellcheck disable=SC2086
  node --test --test-concurrency=$conc --test-reporter=spec $files | tee "$summary" || status=1
  p=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$summary" | tail -n1)
  f=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$summary" | tail -n1)
  passed=$((passed + ${p:-0})) failed=$((failed + ${f:-0}))
done
rm -f "$summary"
echo "tests: $passed passed, $failed failed"
exit $status
