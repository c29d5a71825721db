#!/usr/bin/env bash
# Slipway installer: one command on a Debian 12 (or Ubuntu 22.04+) VM, as root.
#
#   ./install.sh               install or upgrade in place, start slipway-server and slipway-router
#   ./install.sh --uninstall   stop and remove the services (data kept)
#   ./install.sh --uninstall --purge   ... and delete SLIPWAY_HOME and every container it owns
#   ./install.sh --acme-email EMAIL    ... and turn on automatic certificates for custom domains
#                                      (ACME, Let's Encrypt by default): passing it accepts the
#                                      CA's terms of service; EMAIL is the account contact
#   ./install.sh --runtime swarm       run dynos as Docker Swarm services (docs/scale-out.md): makes
#                                      this engine a swarm manager when it is in no swarm yet
#   ./install.sh --join TOKEN MANAGER  on a new VM: install Docker, trust the platform registry
#                                      (--registry-ca FILE --registry HOST:PORT) and join the swarm
#                                      as a worker (the command `slipway nodes:add` prints)
#
# Settings (environment; remembered in $SLIPWAY_HOME/slipway.env for re-runs and the daemons):
#   SLIPWAY_HOME (/var/lib/slipway)  SLIPWAY_DOMAIN (localhost)  SLIPWAY_HTTP_PORT (80)
#   SLIPWAY_HTTPS_PORT (443)  SLIPWAY_API_PORT (5080)  SLIPWAY_API_HTTPS_PORT (5443; 0 = off)
#   SLIPWAY_ADMIN_EMAIL (admin@SLIPWAY_DOMAIN)
#   SLIPWAY_BIN_DIR (/usr/local/bin: where the `slipway` command goes)
#   SLIPWAY_ACME_DIRECTORY_URL (Let's Encrypt production)  SLIPWAY_ACME_CA_FILE (docs/tls.md)
#   SLIPWAY_REGISTRY (off; on with SLIPWAY_RUNTIME=swarm)  SLIPWAY_REGISTRY_ADDR (127.0.0.1:5000)
#   SLIPWAY_REGISTRY_NAME (docs/scale-out.md "Registry")
# Idempotent: re-running upgrades code and restarts the daemons; apps, data and tokens are kept.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
step() { printf -- '-----> %s\n' "$*"; }
info() { printf -- '       %s\n' "$*"; }
die() { printf -- ' !     %s\n' "$*" >&2; exit 1; }

uninstall=false purge=false acme_email="" runtime="" join_token="" join_manager="" registry="" registry_ca=""
while [ $# -gt 0 ]; do
  case "$1" in
    --uninstall) uninstall=true ;;
    --purge) purge=true ;;
    --acme-email) [ $# -ge 2 ] || die "--acme-email needs an email address"; acme_email=$2; shift ;;
    --acme-email=*) acme_email=${1#--acme-email=} ;;
    --runtime) [ $# -ge 2 ] || die "--runtime needs docker or swarm"; runtime=$2; shift ;;
    --runtime=*) runtime=${1#--runtime=} ;;
    --join) [ $# -ge 3 ] || die "--join needs TOKEN MANAGER (slipway nodes:add prints them)"; join_token=$2; join_manager=$3; shift 2 ;;
    --registry) [ $# -ge 2 ] || die "--registry needs HOST:PORT"; registry=$2; shift ;;
    --registry-ca) [ $# -ge 2 ] || die "--registry-ca needs a file"; registry_ca=$2; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see ./install.sh --help)" ;;
  esac
  shift
done
if [ -n "$acme_email" ]; then
  case "$acme_email" in *@*.*) ;; *) die "--acme-email $acme_email is not an email address" ;; esac
  case "$acme_email" in *[[:space:]]*) die "--acme-email must not contain spaces" ;; esac
fi
case "$runtime" in ""|docker|swarm) ;; *) die "--runtime $runtime: use docker or swarm" ;; esac
[ "$(id -u)" = 0 ] || die "run install.sh as root (it installs packages and starts services)"

# A new node of a swarm (docs/scale-out.md "Swarm"): Docker, the registry's CA, the join. Nothing
# of Slipway itself runs there: the manager schedules dynos onto it.
if [ -n "$join_token" ]; then
  step "Installing the Docker engine"
  bash "$SRC/scripts/ensure-docker.sh"
  if [ -n "$registry_ca" ]; then
    [ -n "$registry" ] || die "--registry-ca needs --registry HOST:PORT (the platform registry's address)"
    [ -f "$registry_ca" ] || die "--registry-ca $registry_ca: no such file"
    step "Trusting the platform registry $registry"
    mkdir -p "/etc/docker/certs.d/$registry"
    install -m 0644 "$registry_ca" "/etc/docker/certs.d/$registry/ca.crt"
  else
    info "No --registry-ca given: this node can pull app images only from a registry it already trusts."
  fi
  state=$(docker info --format '{{.Swarm.LocalNodeState}}')
  if [ "$state" = active ]; then
    info "This engine is already in a swarm (docker info); leave it first to join another."
  else
    step "Joining the swarm at $join_manager"
    docker swarm join --token "$join_token" "$join_manager"
  fi
  step "Joined. On the manager: slipway nodes"
  exit 0
fi

export SLIPWAY_HOME=${SLIPWAY_HOME:-/var/lib/slipway}
envfile="$SLIPWAY_HOME/slipway.env"
# Settings given now win; otherwise those remembered from the last install; otherwise defaults.
if [ -f "$envfile" ]; then
  while IFS='=' read -r key value; do
    case "$key" in SLIPWAY_[A-Z_]*) [ -n "${!key:-}" ] || export "$key=$value" ;; esac
  done <"$envfile"
fi
export SLIPWAY_DOMAIN=${SLIPWAY_DOMAIN:-localhost}
export SLIPWAY_HTTP_PORT=${SLIPWAY_HTTP_PORT:-80}
export SLIPWAY_HTTPS_PORT=${SLIPWAY_HTTPS_PORT:-443}
export SLIPWAY_API_PORT=${SLIPWAY_API_PORT:-5080}
export SLIPWAY_API_HTTPS_PORT=${SLIPWAY_API_HTTPS_PORT:-5443}
export SLIPWAY_BIN_DIR=${SLIPWAY_BIN_DIR:-/usr/local/bin}
# Automatic certificates: on once an email is given (now or remembered from an earlier install).
[ -z "$acme_email" ] || export SLIPWAY_ACME_EMAIL=$acme_email
admin_email=${SLIPWAY_ADMIN_EMAIL:-admin@$SLIPWAY_DOMAIN}
case "$admin_email" in *@*.*) ;; *) admin_email="admin@slipway.local" ;; esac

run_dir="$SLIPWAY_HOME/run" log_dir="$SLIPWAY_HOME/log"
systemd=false
[ -d /run/systemd/system ] && command -v systemctl >/dev/null && systemd=true
unit_suffix=$(printf '%s' "$SLIPWAY_HOME" | sha256sum | cut -c1-8)
[ "$SLIPWAY_HOME" = /var/lib/slipway ] && unit_suffix=""
unit_name() { echo "slipway-$1${unit_suffix:+-$unit_suffix}"; }

stop_daemon() { # name
  local name=$1 pidfile="$run_dir/$1.pid"
  if $systemd && [ -f "/etc/systemd/system/$(unit_name "$name").service" ]; then
    systemctl stop "$(unit_name "$name")" || true
  fi
  [ -f "$pidfile" ] || return 0
  local pid; pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q "dist/$2/main.js" "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" || true
  fi
  rm -f "$pidfile"
}

if $uninstall; then
  step "Stopping slipway-router and slipway-server"
  stop_daemon router router
  stop_daemon server server
  # The server stops its registry child; one left by a killed server is stopped here.
  rpid=$(cat "$run_dir/registry.pid" 2>/dev/null || true)
  if [ -n "$rpid" ] && grep -q "$SLIPWAY_HOME/registry/config.yml" "/proc/$rpid/cmdline" 2>/dev/null; then
    kill -TERM "$rpid" 2>/dev/null || true
  fi
  if $systemd; then
    for n in server router; do
      systemctl disable "$(unit_name $n)" >/dev/null 2>&1 || true
      rm -f "/etc/systemd/system/$(unit_name $n).service"
    done
    systemctl daemon-reload || true
  fi
  if [ -L "$SLIPWAY_BIN_DIR/slipway" ] && [ "$(readlink "$SLIPWAY_BIN_DIR/slipway")" = "$SRC/bin/slipway" ]; then
    rm -f "$SLIPWAY_BIN_DIR/slipway"
  fi
  if $purge; then
    step "Purging $SLIPWAY_HOME and its containers and images"
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
      # Swarm runtime: the dyno services first (their task containers go with them).
      svcs=$(docker service ls -q --filter "label=io.slipway.home=$SLIPWAY_HOME" 2>/dev/null || true)
      [ -z "$svcs" ] || docker service rm $svcs >/dev/null
      ids=$(docker ps -aq --filter "label=io.slipway.home=$SLIPWAY_HOME")
      [ -z "$ids" ] || docker rm -f $ids >/dev/null
      # The apps' networks (the shared slipway-build network and the firewall chains stay: other
      # installs on this engine may use them; docs/security.md).
      nets=$(docker network ls -q --filter "label=io.slipway.home=$SLIPWAY_HOME")
      [ -z "$nets" ] || docker network rm $nets >/dev/null 2>&1 || true
      # App images were pulled from this install's registry (127.0.0.1:API_PORT/apps/APP).
      imgs=$( { docker images -q --filter "label=io.slipway.home=$SLIPWAY_HOME"
                docker images --format '{{.Repository}}:{{.Tag}} {{.ID}}' | awk -v p="127.0.0.1:$SLIPWAY_API_PORT/" 'index($1, p) == 1 { print $2 }'; } | sort -u)
      [ -z "$imgs" ] || docker rmi -f $imgs >/dev/null 2>&1 || true
    fi
    rm -rf "$SLIPWAY_HOME"
  else
    info "Data kept in $SLIPWAY_HOME (add --purge to delete it)"
  fi
  step "Uninstalled"
  exit 0
fi

step "Installing system packages (git, ca-certificates, debootstrap, openssl, Docker engine)"
missing=()
# xz: the stack update check and the stack builder read the mirror's Packages.xz (docs/stacks.md).
for pair in git:git debootstrap:debootstrap openssl:openssl update-ca-certificates:ca-certificates xz:xz-utils; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v node >/dev/null || die "Node.js >= 20 is required (apt-get install nodejs, or your distribution's Node 20 package)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || die "Node.js >= 20 is required (found $(node --version))"
bash "$SRC/scripts/ensure-docker.sh"
[ -z "$runtime" ] || export SLIPWAY_RUNTIME=$runtime
if [ "${SLIPWAY_RUNTIME:-docker}" = swarm ]; then
  # Dynos as Swarm services (docs/scale-out.md): this engine must be a manager. The overlay
  # address pool stays clear of the app bridges' SLIPWAY_NETWORK_POOL (10.213.0.0/16).
  state=$(docker info --format '{{.Swarm.LocalNodeState}}')
  if [ "$state" != active ]; then
    step "Making this Docker engine a swarm manager"
    docker swarm init --advertise-addr "${SLIPWAY_SWARM_ADVERTISE_ADDR:-127.0.0.1}" \
      --default-addr-pool "${SLIPWAY_SWARM_ADDR_POOL:-10.214.0.0/16}" >/dev/null
  fi
  [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] ||
    die "this Docker engine is a swarm worker: install Slipway on a manager (docker node ls there)"
  info "Swarm manager: $(docker info --format '{{.Swarm.NodeID}} {{.Swarm.NodeAddr}}'); add VMs with: slipway nodes:add"
fi
# The platform registry (multi-node, docs/scale-out.md): Debian's docker-registry, run by
# slipway-server as its child, never by the package's own service (that one would take :5000).
case "${SLIPWAY_REGISTRY:-}:${SLIPWAY_RUNTIME:-}" in
  on:* | 1:* | true:* | yes:* | :swarm)
    step "Installing the platform registry (docker-registry, apache2-utils for htpasswd)"
    if ! command -v docker-registry >/dev/null || ! command -v htpasswd >/dev/null; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq docker-registry apache2-utils >/dev/null
    fi
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
    ;;
esac

step "Installing node dependencies and building"
cd "$SRC"
bash "$SRC/scripts/ensure-node-deps.sh"
npm run --silent build

step "Preparing $SLIPWAY_HOME"
mkdir -p "$SLIPWAY_HOME" "$run_dir" "$log_dir"
chmod 700 "$SLIPWAY_HOME"
{
  for key in SLIPWAY_HOME SLIPWAY_DOMAIN SLIPWAY_HTTP_PORT SLIPWAY_HTTPS_PORT SLIPWAY_API_PORT SLIPWAY_API_HTTPS_PORT SLIPWAY_BIN_DIR; do
    printf '%s=%s\n' "$key" "${!key}"
  done
  # ACME settings only when set (an empty SLIPWAY_ACME_EMAIL keeps ACME off).
  for key in SLIPWAY_ACME_EMAIL SLIPWAY_ACME_DIRECTORY_URL SLIPWAY_ACME_CA_FILE SLIPWAY_REGISTRY SLIPWAY_REGISTRY_ADDR SLIPWAY_REGISTRY_NAME SLIPWAY_RUNTIME; do
    [ -z "${!key:-}" ] || printf '%s=%s\n' "$key" "${!key}"
  done
} >"$envfile.tmp" && mv "$envfile.tmp" "$envfile"
if [ -n "${SLIPWAY_ACME_EMAIL:-}" ]; then
  step "Automatic certificates (ACME) for custom domains"
  info "CA: ${SLIPWAY_ACME_DIRECTORY_URL:-https://acme-v02.api.letsencrypt.org/directory}"
  info "Account contact: $SLIPWAY_ACME_EMAIL (terms of service accepted with --acme-email;"
  info "Let's Encrypt's are at https://letsencrypt.org/repository/)"
  if [ "$SLIPWAY_HTTP_PORT" != 80 ] || [ "${SLIPWAY_BIND:-127.0.0.1}" = 127.0.0.1 ]; then
    info "Note: the CA validates on port 80 of each domain; this router listens on"
    info "${SLIPWAY_BIND:-127.0.0.1}:$SLIPWAY_HTTP_PORT, so forward public port 80 to it (docs/tls.md)."
  fi
fi

step "Stack images (bookworm; built once, then reused)"
node "$SRC/dist/stacks/cli.js" | sed 's/^/       /'
step "Add-on service images (PostgreSQL, Redis; built once, then reused)"
node "$SRC/dist/stacks/services-cli.js" | sed 's/^/       /'

step "Platform TLS certificate for *.$SLIPWAY_DOMAIN"
if [ -f "$SRC/dist/router/cert.js" ]; then
  node "$SRC/dist/router/cert.js" | sed 's/^/       /'
fi

start_daemon() { # name
  local name=$1 pidfile="$run_dir/$1.pid"
  if $systemd; then
    cat >"/etc/systemd/system/$(unit_name "$name").service" <<UNIT
[Unit]
Description=Slipway $name ($SLIPWAY_HOME)
After=network.target docker.service
[Service]
EnvironmentFile=$envfile
ExecStart=$(command -v node) $SRC/dist/$name/main.js
Restart=always
KillSignal=SIGTERM
[Install]
WantedBy=multi-user.target
UNIT
    systemctl daemon-reload
    systemctl enable --now "$(unit_name "$name")" >/dev/null
    systemctl restart "$(unit_name "$name")"
  else
    # No systemd (containers, minimal VMs): a background daemon with a pid file and a log.
    nohup setsid node "$SRC/dist/$name/main.js" >>"$log_dir/$name.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
  fi
}

wait_healthy() { # name url [host header]
  for _ in $(seq 1 100); do
    if curl -fsS --max-time 2 ${3:+-H "Host: $3"} "$2" >/dev/null 2>&1; then info "$1 is healthy ($2)"; return 0; fi
    sleep 0.2
  done
  tail -n 20 "$log_dir/$1.log" >&2 2>/dev/null || true
  die "$1 did not become healthy at $2; see $log_dir/$1.log"
}

step "Starting slipway-server and slipway-router"
stop_daemon router router
stop_daemon server server
start_daemon server
wait_healthy slipway-server "http://127.0.0.1:$SLIPWAY_API_PORT/healthz"
start_daemon router
# The router answers its own health check only for the reserved host name "slipway-router",
# so an app's /healthz is never shadowed.
wait_healthy slipway-router "http://127.0.0.1:$SLIPWAY_HTTP_PORT/healthz" slipway-router

step "Installing the slipway command into $SLIPWAY_BIN_DIR"
mkdir -p "$SLIPWAY_BIN_DIR"
ln -sfn "$SRC/bin/slipway" "$SLIPWAY_BIN_DIR/slipway"

api_url="http://127.0.0.1:$SLIPWAY_API_PORT"
bootstrap=$(node "$SRC/dist/server/admin.js" bootstrap --email "$admin_email")
token=$(printf '%s' "$bootstrap" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);process.stdout.write(j.token||"")})')
if [ -n "$token" ]; then
  "$SRC/bin/slipway" login --api "$api_url" --token "$token" >/dev/null
  step "Created the first admin user $admin_email"
  info "API token (shown once; stored only as a hash): $token"
  info "You are logged in as $admin_email on this machine (slipway whoami)."
else
  info "Users already exist; tokens kept (slipway tokens:create makes a new one)."
fi

port_suffix=""; [ "$SLIPWAY_HTTP_PORT" = 80 ] || port_suffix=":$SLIPWAY_HTTP_PORT"
cat <<NEXT
-----> Slipway is running
       API and git:  $api_url
       Over HTTPS:   https://$SLIPWAY_DOMAIN:$SLIPWAY_API_HTTPS_PORT/ (platform certificate: $SLIPWAY_HOME/run/certs/platform.crt)
       Apps:         http://APP.$SLIPWAY_DOMAIN$port_suffix/
       Data:         $SLIPWAY_HOME

       Next steps:
         cd your-app && git init && git add . && git commit -m init   (if it is not a repo yet)
         slipway apps:create my-app          # adds the "slipway" git remote
         git push slipway main
         curl http://my-app.$SLIPWAY_DOMAIN$port_suffix/
NEXT
