# Helpers shared by bin/build (sourced). Output goes to the build log the user sees on push.

step() { echo "-----> $*"; }
info() { echo "       $*"; }

# fail MESSAGE [HINT]: the message says what went wrong, the hint what to do about it.
fail() {
  echo >&2
  echo " !     $1" >&2
  [[ -n ${2:-} ]] && echo " !     Hint: $2" >&2
  echo >&2
  exit 1
}

# The registry follows the operator's npm configuration; config vars arrive either in the
# environment or, with clear-env, only as files in the platform dir.
registry_url() {
  local r=${NPM_CONFIG_REGISTRY:-${npm_config_registry:-}}
  if [[ -z $r && -n ${CNB_PLATFORM_DIR:-} && -f $CNB_PLATFORM_DIR/env/NPM_CONFIG_REGISTRY ]]; then
    r=$(<"$CNB_PLATFORM_DIR/env/NPM_CONFIG_REGISTRY")
  fi
  r=${r:-https://registry.npmjs.org/}
  echo "${r%/}"
}

# fetch URL OUT: quiet, retried, fails on HTTP errors.
fetch() {
  curl -fsSL --retry 3 --retry-delay 1 --connect-timeout 20 -o "$2" "$1"
}

# packument NAME OUT: the registry document listing every version of a package.
packument() {
  local name=${1//\//%2f}
  fetch "$(registry_url)/$name" "$2" || fail "Could not read package \"$1\" from the registry $(registry_url)" \
    "Check that the registry is reachable from the build (NPM_CONFIG_REGISTRY, proxy, CA bundle)."
}

# extract_tarball PACKUMENT VERSION DEST: downloads a version's tarball and unpacks its package/.
extract_tarball() {
  local url tmp
  url=$(jq -r --arg v "$2" '.versions[$v].dist.tarball // empty' "$1")
  [[ -n $url ]] || fail "Version $2 is not in the registry's listing" ""
  tmp=$(mktemp)
  fetch "$url" "$tmp" || fail "Could not download $url" "Check that the registry is reachable from the build."
  mkdir -p "$3"
  tar -xzf "$tmp" -C "$3" --strip-components=1 --no-same-owner
  rm -f "$tmp"
}

# write_layer_toml FILE launch build cache [METADATA_LINES...]
write_layer_toml() {
  local file=$1 launch=$2 build=$3 cache=$4
  shift 4
  {
    echo '[types]'
    echo "launch = $launch"
    echo "build = $build"
    echo "cache = $cache"
    echo '[metadata]'
    local line
    for line in "$@"; do echo "$line"; done
  } >"$file"
}

# toml_meta FILE KEY: reads a string value written by write_layer_toml (restored metadata).
toml_meta() {
  [[ -f $1 ]] || return 0
  sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*\"\\(.*\\)\"[[:space:]]*\$/\\1/p" "$1" | head -n1
}

toml_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
