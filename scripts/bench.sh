#!/usr/bin/env bash
# `npm run bench [-- --only SUITE] [--json] [--quick]` for anyone, right after ./install.sh on a
# fresh machine: installs the peers the suites compare against (wrk, nginx-light), the node deps,
# builds, starts dockerd, and puts the stack images where the suites' temporary homes take them
# from (SLIPWAY_TEST_STACK_HOME; reused from the machine-wide stack cache, so after install.sh
# this costs seconds), then runs bench/run.ts with the given arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf -- '-----> %s\n' "$*" >&2; }

export SLIPWAY_TEST_STACK_HOME=${SLIPWAY_TEST_STACK_HOME:-/var/tmp/slipway-test-stack}
export SLIPWAY_TEST_HOMES=${SLIPWAY_TEST_HOMES:-/var/tmp/slipway-test-homes}

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx-light)
command -v git >/dev/null || missing+=(git)
# registry-push runs the platform registry (Debian's docker-registry, htpasswd from apache2-utils).
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo " !     the benchmarks need ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root" >&2
    exit 1
  fi
  step "Installing the benchmark peers: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi

bash scripts/ensure-node-deps.sh >&2
step "Building (tsc)"
npm run --silent build >&2
bash scripts/ensure-docker.sh >&2
step "Stack images for the benchmark homes (reused from the machine's stack cache when present)"
SLIPWAY_HOME="$SLIPWAY_TEST_STACK_HOME" SLIPWAY_STACK_CACHE="${SLIPWAY_STACK_CACHE:-/var/cache/slipway/stacks}" node dist/stacks/cli.js >&2
SLIPWAY_HOME="$SLIPWAY_TEST_STACK_HOME" SLIPWAY_STACK_CACHE="${SLIPWAY_STACK_CACHE:-/var/cache/slipway/stacks}" node dist/stacks/services-cli.js >&2
mkdir -p "$SLIPWAY_TEST_HOMES"
exec node dist/bench/run.js "$@"
