# PHP helpers for bin/build (sourced): Composer constraints, ext-* → Debian packages, and the
# php layer's php.ini, env and web script.

# composer_req_ok CONSTRAINT VERSION: Composer's syntax ("^8.1 || ^8.2", ">=8.1 <8.4", "~8.2.0",
# "8.2.*") through req_ok: alternatives split on |, spaces between constraints mean "and".
composer_req_ok() {
  local alt rc=1 r
  local IFS='|'
  for alt in $1; do
    [[ -z ${alt//[[:space:]]/} ]] && continue
    alt=$(sed -E 's/([<>=!~^]+)[[:space:]]+/\1/g; s/^[[:space:]]+|[[:space:]]+$//g; s/[[:space:]]*,[[:space:]]*/,/g; s/[[:space:]]+/,/g' <<<"$alt")
    IFS=' ' req_ok "$alt" "$2" && return 0 || r=$?
    (( r == 2 )) && rc=2
  done
  return $rc
}

# ext_candidates EXT SERIES: Debian package names that may provide a PHP extension, best first.
ext_candidates() {
  local ext=$1 s=$2
  case $ext in
    mysqli|mysqlnd|pdo_mysql) echo "php$s-mysql" ;;
    pgsql|pdo_pgsql) echo "php$s-pgsql" ;;
    sqlite3|pdo_sqlite) echo "php$s-sqlite3" ;;
    odbc|pdo_odbc) echo "php$s-odbc" ;;
    pdo_dblib) echo "php$s-sybase" ;;
    pdo_firebird|interbase) echo "php$s-interbase" ;;
    *) echo "php$s-${ext//_/-}"; echo "php-${ext//_/-}" ;;
  esac
}

# ext_package EXT SERIES: the first candidate the distribution has (fails when none).
ext_package() {
  local p
  for p in $(ext_candidates "$1" "$2"); do
    debs_has "$p" && echo "$p" && return 0
  done
  return 1
}

# php_layer_setup LAYER SERIES: php.ini loading every unpacked extension (in Debian's priority
# order, as its conf.d would), command names, env files and the web script.
php_layer_setup() {
  local layer=$1 s=$2 api_dir ini prio so name
  api_dir=$(find "$layer/usr/lib/php" -maxdepth 1 -type d -name '20*' | head -n1)
  mkdir -p "$layer/bin" "$layer/etc" "$layer/env.launch"
  ln -sfn "../usr/bin/php$s" "$layer/bin/php"
  ln -sfn "../usr/sbin/php-fpm$s" "$layer/bin/php-fpm"
  ln -sfn ../usr/sbin/nginx "$layer/bin/nginx"
  {
    echo "; Written by slipway/php: Debian's php.ini-production plus the layer's extensions."
    sed -n '/^\[PHP\]/,$p' "$layer/usr/lib/php/$s/php.ini-production" 2>/dev/null | grep -v '^;' | grep -v '^$' || true
    echo "[slipway]"
    echo "extension_dir = \"$api_dir\""
    echo "include_path = \".:$layer/usr/share/php\""
    echo "expose_php = Off"
    echo "log_errors = On"
    echo "error_log = /proc/self/fd/2"
    echo "variables_order = \"EGPCS\""
    # Debian ships each module's ini in /usr/share/phpX.Y-<package>/<package>/ (its postinst copies
    # them to mods-available, which an unpacked package never runs).
    for ini in "$layer/usr/share/php$s-"*/*/*.ini; do
      [[ -f $ini ]] || continue
      prio=$(sed -n 's/^; priority=\([0-9]*\)/\1/p' "$ini" | head -n1)
      echo "${prio:-20} $ini"
    done | sort -n | while read -r _ ini; do
      grep -E '^(zend_)?extension=' "$ini" | while IFS='=' read -r kind so; do
        name=${so%.so}
        [[ -f $api_dir/$name.so ]] && echo "$kind=$name"
      done
    done
  } >"$layer/etc/php.ini"
  mkdir -p "$layer/env"
  printf '%s' "$layer/etc" >"$layer/env/PHPRC.override"
  printf '' >"$layer/env/PHP_INI_SCAN_DIR.override"
  env_prepend "$layer" LD_LIBRARY_PATH usr/lib/x86_64-linux-gnu lib/x86_64-linux-gnu
  env_prepend "$layer" PATH usr/bin usr/sbin
  sed "s#@LAYER@#$layer#g" "$bp_dir/lib/php-web.sh" >"$layer/bin/slipway-php-web"
  chmod +x "$layer/bin/slipway-php-web"
  # Heroku's Procfiles name its script: `web: heroku-php-nginx public/` works unchanged.
  ln -sfn slipway-php-web "$layer/bin/heroku-php-nginx"
}
