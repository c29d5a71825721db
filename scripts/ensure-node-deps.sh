#!/usr/bin/env bash
# Runs `npm ci` only when package-lock.json changed since the last install (a hash marker in
# node_modules), so re-running install.sh or the tests never deletes a working node_modules for
# nothing. (npm's own node_modules/.package-lock.json never equals package-lock.json byte for byte.)
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(sha256sum package-lock.json | cut -d' ' -f1)
have=$(cat node_modules/.slipway-lock-sha256 2>/dev/null || true)
if [ "$want" != "$have" ] || [ ! -d node_modules/better-sqlite3/build ]; then
  printf -- '-----> %s\n' "Installing node dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >node_modules/.slipway-lock-sha256
fi
