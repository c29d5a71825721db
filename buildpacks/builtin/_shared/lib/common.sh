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

# config_var NAME: a config var from the environment or, with clear-env, the platform dir.
config_var() {
  local v=${!1:-}
  if [[ -z $v && -n ${CNB_PLATFORM_DIR:-} && -f $CNB_PLATFORM_DIR/env/$1 ]]; then v=$(<"$CNB_PLATFORM_DIR/env/$1"); fi
  printf '%s' "$v"
}

# toml_meta FILE KEY: a string value from a layer's [metadata] (empty when missing).
toml_meta() {
  sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*\"\(.*\)\"[[:space:]]*\$/\1/p" "$1" 2>/dev/null | head -n1 || true
}

# write_layer_toml FILE launch build cache [METADATA_LINES...]
write_layer_toml() {
  local file=$1 launch=$2 build=$3 cache=$4 line
  shift 4
  { printf '[types]\nlaunch = %s\nbuild = %s\ncache = %s\n[metadata]\n' "$launch" "$build" "$cache"
    for line in "$@"; do echo "$line"; done; } >"$file"
}

# toml_str VALUE: a TOML basic string.
toml_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
