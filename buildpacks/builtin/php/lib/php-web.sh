#!/usr/bin/env bash
# slipway-php-web [DOCUMENT_ROOT]: php-fpm and nginx in the foreground as the app's user (no root),
# nginx on $PORT passing .php requests to php-fpm over a unix socket, everything writable under
# $TMPDIR. The document root: the argument, else the DOCUMENT_ROOT config var, else what the build
# chose (web/, public/ or the app root). `--check ROOT` only validates both configurations.
# Written into the php layer by slipway/php (@LAYER@ is the layer's path).
set -euo pipefail
layer=@LAYER@
check=""
if [[ ${1:-} == --check ]]; then check=1; shift; fi
app=${APP_DIR:-/app}
root=${1:-${DOCUMENT_ROOT:-${SLIPWAY_PHP_DEFAULT_ROOT:-.}}}
[[ $root == /* ]] || root=$app/${root#./}
root=${root%/}
root=${root%/.}
if [[ ! -d $root ]]; then
  echo "slipway-php-web: the document root $root does not exist" >&2
  exit 1
fi
run=$(mktemp -d "${TMPDIR:-/tmp}/php-web.XXXXXX")
port=${PORT:-5000}

# Workers from the dyno's memory, 128 MB each (PHP's default memory_limit), at least 2.
mem=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || echo max)
[[ $mem =~ ^[0-9]+$ ]] || mem=$((512 * 1024 * 1024))
children=${PHP_FPM_MAX_CHILDREN:-$((mem / 134217728))}
(( children >= 2 )) || children=2

cat >"$run/php-fpm.conf" <<EOF
[global]
pid = $run/php-fpm.pid
error_log = /proc/self/fd/2
daemonize = no
log_limit = 8192
[www]
listen = $run/php-fpm.sock
pm = ondemand
pm.max_children = $children
pm.process_idle_timeout = 60s
clear_env = no
catch_workers_output = yes
decorate_workers_output = no
EOF

cat >"$run/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $run/nginx.pid;
error_log stderr;
events { worker_connections 1024; }
http {
  include $layer/etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log /dev/stdout;
  server_tokens off;
  client_body_temp_path $run/client_body;
  fastcgi_temp_path $run/fastcgi;
  proxy_temp_path $run/proxy;
  uwsgi_temp_path $run/uwsgi;
  scgi_temp_path $run/scgi;
  client_max_body_size 32m;
  server {
    listen $port;
    root $root;
    index index.php index.html index.htm;
    location ~ /\.(?!well-known/) { deny all; }
    location / { try_files \$uri \$uri/ /index.php\$is_args\$args; }
    location ~ \.php(/|\$) {
      fastcgi_split_path_info ^(.+?\.php)(/.*)\$;
      try_files \$fastcgi_script_name =404;
      include $layer/etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
      fastcgi_param PATH_INFO \$fastcgi_path_info;
      fastcgi_param HTTPS \$fwd_https;
      fastcgi_pass unix:$run/php-fpm.sock;
    }
  }
  map \$http_x_forwarded_proto \$fwd_https { https on; default ""; }
}
EOF

if [[ -n $check ]]; then
  "$layer/bin/php-fpm" -t -y "$run/php-fpm.conf" -c "$layer/etc/php.ini" 2>&1 | grep -v 'test is successful' || true
  "$layer/bin/php-fpm" -t -y "$run/php-fpm.conf" -c "$layer/etc/php.ini" >/dev/null 2>&1 &&
    "$layer/bin/nginx" -t -q -p "$run" -e stderr -c "$run/nginx.conf"
  rc=$?
  rm -rf "$run"
  exit $rc
fi

"$layer/bin/php-fpm" -F -y "$run/php-fpm.conf" -c "$layer/etc/php.ini" &
fpm=$!
for _ in $(seq 100); do [[ -S $run/php-fpm.sock ]] && break; sleep 0.05; done
"$layer/bin/nginx" -p "$run" -e stderr -c "$run/nginx.conf" &
web=$!
trap 'kill -TERM $fpm $web 2>/dev/null' TERM INT
# Either one ending ends the dyno (the platform restarts it).
set +e
wait -n $fpm $web
code=$?
kill -TERM $fpm $web 2>/dev/null
wait
exit $code
