# Shared by the language buildpacks (sourced; a copy in each buildpack so each stays standalone).
# Debian packages from the stack's own distribution, unpacked into a layer without root (the
# technique of slipway/apt: private apt lists, dependencies resolved against the packages every
# Debian root has, dpkg-deb -x), and the stack-dependent version tables.

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

# The stack this build runs on, from the build image itself (the lifecycle runs every buildpack in
# the app's stack's build image): STACK_NAME (bookworm, trixie) and STACK_VERSION (12, 13).
# shellcheck disable=SC1091
STACK_NAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-unknown}")
STACK_VERSION=$(. /etc/os-release && echo "${VERSION_ID:-0}")
STACKS=(bookworm trixie)

# What the run image already has (stacks/<stack>/run.packages): not unpacked again into layers.
RUN_IMAGE_PACKAGES=" ca-certificates openssl curl libcurl4 libssl3 libstdc++6 netbase procps tzdata zlib1g libgcc-s1 libc6 "

# debs_install LAYER PACKAGE...: downloads the packages and what they need beyond a minimal Debian
# root, and unpacks them into LAYER (docs and man pages dropped), listing them in LAYER/.packages.
# DEBS_PRETEND: packages treated as installed (their dependencies are not fetched: systemd for
# php-fpm, say, which a container never runs). DEBS_ONLY: an extended regex; only the packages
# whose names match are unpacked. The package lists are fetched once per build (debs_lists).
debs_lists() {
  [[ -n ${APT_DIR:-} ]] && return 0
  DEBS_WORK=$(mktemp -d)
  trap 'rm -rf "$DEBS_WORK"' EXIT
  apt_init "$DEBS_WORK/apt"
}
debs_install() {
  local layer=$1 work deb pkg p
  shift
  debs_lists
  work=$(mktemp -d)
  python3 "$bp_dir/lib/base-status.py" /var/lib/dpkg/status >"$work/status"
  for p in ${DEBS_PRETEND:-}; do
    printf 'Package: %s\nStatus: install ok installed\nVersion: 99:99\nArchitecture: all\n\n' "$p" >>"$work/status"
  done
  mkdir -p "$work/debs" "$layer"
  if ! apt-get -y "${APT_OPTS[@]}" -o "Dir::State::status=$work/status" -o "Dir::Cache::archives=$work/debs" \
        --no-install-recommends --download-only install "$@" >"$work/install.log" 2>&1; then
    sed -n '/^E:/p; /has no installation candidate/p; /Unable to locate/p' "$work/install.log" >&2
    fail "apt-get could not download $* from the $STACK_NAME stack's Debian mirror (errors above)" \
      "Check that the Debian mirror is reachable from the build."
  fi
  for deb in "$work"/debs/*.deb; do
    pkg=$(dpkg-deb -f "$deb" Package)
    [[ $RUN_IMAGE_PACKAGES == *" $pkg "* ]] && continue
    [[ -n ${DEBS_ONLY:-} && ! $pkg =~ $DEBS_ONLY ]] && continue
    dpkg-deb -x "$deb" "$layer" || fail "Could not unpack $(basename "$deb")" ""
    echo "$pkg $(dpkg-deb -f "$deb" Version)" >>"$layer/.packages"
  done
  rm -rf "$layer/usr/share/doc" "$layer/usr/share/man" "$layer/usr/share/info" "$layer/usr/share/lintian" "$work"
  # Debian links files by absolute path (/usr/share/java/x.jar, /etc/maven): point the links whose
  # target came with the packages into the layer.
  local link target
  while IFS= read -r link; do
    target=$(readlink "$link")
    [[ -e $layer$target || -L $layer$target ]] && ln -sfn "$layer$target" "$link"
  done < <(find "$layer" -type l -lname '/*')
  return 0
}

# debs_has PACKAGE: whether the stack's distribution has a package of that name.
debs_has() {
  debs_lists
  [[ -n $(apt-cache "${APT_OPTS[@]}" show "$1" 2>/dev/null | sed -n 's/^Version: //p') ]]
}

# debs_version PACKAGE: the candidate version of a package.
debs_version() {
  debs_lists
  apt-cache "${APT_OPTS[@]}" show "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n1
}

# env_prepend LAYER NAME DIR...: env/NAME.prepend with the layer's DIRs that exist (build and launch).
env_prepend() {
  local layer=$1 name=$2 value="" dir
  shift 2
  for dir in "$@"; do [[ -d $layer/$dir ]] && value+="${value:+:}$layer/$dir"; done
  [[ -n $value ]] || return 0
  mkdir -p "$layer/env"
  printf '%s' "$value" >"$layer/env/$name.prepend"
  printf ':' >"$layer/env/$name.delim"
}

# layer_meta TOML KEY: a string value from a layer's restored metadata.
layer_meta() {
  [[ -f $1 ]] || return 0
  sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*\"\\(.*\\)\"[[:space:]]*\$/\\1/p" "$1" | head -n1
}

# write_layer_toml FILE launch build cache [key=value...] (values are plain strings).
write_layer_toml() {
  local file=$1 kv
  {
    printf '[types]\nlaunch = %s\nbuild = %s\ncache = %s\n[metadata]\n' "$2" "$3" "$4"
    shift 4
    for kv in "$@"; do printf '%s = "%s"\n' "${kv%%=*}" "$(printf '%s' "${kv#*=}" | sed 's/\\/\\\\/g; s/"/\\"/g')"; done
  } >"$file"
}

# stack_lacks LANGUAGE WANTED HAVE OTHER SUMMARY: a version this stack lacks is an error, never a
# silent substitute. OTHER is a stack that has it (or empty), SUMMARY what each stack has.
stack_lacks() {
  if [[ -n $4 ]]; then
    fail "$1 $2 is not available on the $STACK_NAME stack, which has $1 $3" \
      "The $4 stack has it: run \`slipway stack:set $4 -a APP\` and push again (stacks: $5)."
  fi
  fail "$1 $2 is not available on any stack ($5)" "Ask for a version one of the stacks has."
}

# ver_cmp A B: prints -1, 0 or 1 (dotted numeric versions; "3.1" equals "3.1.0").
ver_cmp() {
  local a=$1 b=$2
  while [[ $a =~ ^(.*)\.0$ ]]; do a=${BASH_REMATCH[1]}; done
  while [[ $b =~ ^(.*)\.0$ ]]; do b=${BASH_REMATCH[1]}; done
  if [[ $a == "$b" ]]; then echo 0
  elif [[ $(printf '%s\n%s\n' "$a" "$b" | sort -V | head -n1) == "$a" ]]; then echo -1
  else echo 1
  fi
}

# req_ok REQUIREMENT VERSION: RubyGems/Composer-style constraints, comma separated, each
# "[op] X[.Y[.Z]]" with op one of = != > >= < <= ~> ^ (or none: exact). Returns 0 when VERSION
# satisfies all of them, 1 when not, 2 when REQUIREMENT can't be read.
req_ok() {
  local c op v cmp upper parts
  local IFS=,
  for c in $1; do
    c=${c//[[:space:]]/}
    [[ -z $c ]] && continue
    [[ $c =~ ^(~>|>=|<=|!=|=|>|<|\^|~)?v?([0-9]+(\.[0-9]+)*)(\.\*)?$ ]] || return 2
    op=${BASH_REMATCH[1]:-=} v=${BASH_REMATCH[2]}
    [[ -n ${BASH_REMATCH[4]} ]] && op='~>' && v="$v.0"
    cmp=$(ver_cmp "$2" "$v")
    case $op in
      '=') [[ $cmp == 0 ]] || return 1 ;;
      '!=') [[ $cmp != 0 ]] || return 1 ;;
      '>') [[ $cmp == 1 ]] || return 1 ;;
      '>=') [[ $cmp != -1 ]] || return 1 ;;
      '<') [[ $cmp == -1 ]] || return 1 ;;
      '<=') [[ $cmp != 1 ]] || return 1 ;;
      '~>'|'~'|'^')
        [[ $cmp != -1 ]] || return 1
        IFS=. read -r -a parts <<<"$v"
        if [[ $op == '^' ]]; then upper="$((parts[0] + 1))"
        elif (( ${#parts[@]} == 1 )); then upper="$((parts[0] + 1))"
        else
          unset 'parts[${#parts[@]}-1]'
          parts[${#parts[@]}-1]=$((parts[${#parts[@]}-1] + 1))
          upper=$(IFS=.; echo "${parts[*]}")
        fi
        [[ $(ver_cmp "$2" "$upper") == -1 ]] || return 1
        ;;
    esac
  done
  return 0
}
