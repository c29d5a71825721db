#!/usr/bin/env bash
# Makes sure a Docker engine is installed and dockerd answers. Idempotent; safe to run as often as
# you like. Used by install.sh and by the test command, so a fresh machine needs nothing by hand.
# No systemd here (and maybe not on the operator's VM either): dockerd is started in the
# background with its own pid file and log, and a stale pid file from a killed dockerd is removed.
set -euo pipefail

log() { printf -- '-----> %s\n' "$*"; }

if ! command -v dockerd >/dev/null 2>&1; then
  log "Installing the Docker engine (docker.io) from the distribution's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

# The server installs its host firewall rules (docs/security.md) with iptables at every start.
if ! command -v iptables-restore >/dev/null 2>&1; then
  log "Installing iptables (the server's firewall rules for app and build networks)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq iptables >/dev/null || log "could not install iptables: see docs/security.md"
fi

if docker info >/dev/null 2>&1; then
  exit 0
fi

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl start docker || true
fi

if ! docker info >/dev/null 2>&1; then
  pidfile=/var/run/docker.pid
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/cmdline" 2>/dev/null; then
      log "dockerd (pid $pid) is starting; waiting for it"
    else
      log "Removing stale dockerd pid file ($pidfile)"
      rm -f "$pidfile"
    fi
  fi
  # containerd's own stale socket/pid state is harmless; dockerd starts a fresh containerd.
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "Starting dockerd (log: /var/log/dockerd.log)"
    nohup dockerd --pidfile "$pidfile" >>/var/log/dockerd.log 2>&1 </dev/null &
    disown || true
  fi
fi

for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then exit 0; fi
  sleep 0.5
done
echo " !     dockerd did not answer within 60 s; see /var/log/dockerd.log" >&2
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
