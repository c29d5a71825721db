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
# The tarball must match the registry's sha512 integrity. With the platform's shared downloads dir
# (/cnb/downloads, one per machine) a tarball another app's build downloaded is taken from there:
# that dir is writable by every build, so only a private copy whose sha512 matches is ever used.
extract_tarball() {
  local url tmp integrity want="" cached="" name=""
  url=$(jq -r --arg v "$2" '.versions[$v].dist.tarball // empty' "$1")
  [[ -n $url ]] || fail "Version $2 is not in the registry's listing" ""
  integrity=$(jq -r --arg v "$2" '.versions[$v].dist.integrity // empty' "$1")
  if [[ $integrity == sha512-* ]]; then
    want=$(printf '%s' "${integrity#sha512-}" | base64 -d 2>/dev/null | od -An -v -tx1 | tr -d ' \n') || want=""
    [[ ${#want} == 128 ]] || want=""
  fi
  tmp=$(mktemp)
  if [[ -n $want && -d /cnb/downloads && -w /cnb/downloads ]]; then
    name=/cnb/downloads/$want.tgz
    # A regular file only (no link, no fifo), copied with a time bound, then checked.
    if [[ -f $name && ! -L $name ]] && timeout 60 cp "$name" "$tmp" 2>/dev/null \
        && [[ $(sha512sum "$tmp" | cut -d' ' -f1) == "$want" ]]; then
      cached=1
      info "Using the machine's download of $(basename "$url")"
    fi
  fi
  if [[ -z $cached ]]; then
    fetch "$url" "$tmp" || fail "Could not download $url" "Check that the registry is reachable from the build."
    if [[ -n $want ]]; then
      [[ $(sha512sum "$tmp" | cut -d' ' -f1) == "$want" ]] || fail "The download of $url does not match the registry's integrity hash" \
        "Check the registry (NPM_CONFIG_REGISTRY) and any proxy in between; push again."
      if [[ -n $name ]]; then
        # Best effort; tmp name + rename, so a reader never sees half a file.
        cp "$tmp" "$name.$$.tmp" 2>/dev/null && mv -f "$name.$$.tmp" "$name" 2>/dev/null || rm -f "$name.$$.tmp"
      fi
    fi
  fi
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
