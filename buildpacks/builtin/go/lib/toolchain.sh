# The Go toolchain: the stack's Debian packages (golang-1.X-go and its -src), unpacked into a
# cache-only layer without root. It never ships: only the binaries it builds do.

# What each stack's distribution offers (for error messages; the build itself takes the newest
# golang-1.X-go the stack's mirror has).
declare -A STACK_GO=([bookworm]=1.19 [trixie]=1.24)

stack_name() {
  local s=${STACK:-}
  [[ -n $s && -n ${STACK_GO[$s]:-} ]] || s=$(. /etc/os-release && echo "$VERSION_CODENAME")
  echo "$s"
}

stacks_offering() {
  local s out=""
  for s in $(printf '%s\n' "${!STACK_GO[@]}" | sort); do out+="${out:+, }$s: Go ${STACK_GO[$s]}"; done
  echo "$out"
}

# version_ge A B: A >= B for Go versions (1.22, 1.22.3, 1.21rc1 counts as 1.21).
version_ge() {
  local a b
  a=$(sed -E 's/(rc|beta).*//' <<<"$1") b=$(sed -E 's/(rc|beta).*//' <<<"$2")
  [[ $(printf '%s\n%s\n' "$a" "$b" | sort -V | head -n1) == "$b" ]]
}

# check_go_version HAVE WANT: fails naming the stack that can build the module.
check_go_version() {
  local have=$1 want=$2 stack s can=""
  version_ge "$have" "$want" && return 0
  stack=$(stack_name)
  for s in $(printf '%s\n' "${!STACK_GO[@]}" | sort); do version_ge "${STACK_GO[$s]}" "$want" && [[ $s != "$stack" ]] && can=$s; done
  if [[ -n $can ]]; then
    fail "go.mod needs Go $want (its go line), and the $stack stack has Go $have. Stacks: $(stacks_offering)." \
      "Switch the app to the $can stack: slipway stack:set $can -a APP (then push again), or lower the go line in go.mod."
  fi
  fail "go.mod needs Go $want (its go line); no stack has it. Stacks: $(stacks_offering)." \
    "Lower the go line in go.mod to a version a stack has."
}

# goroot PACKAGE: where golang-1.X-go puts its GOROOT (usr/lib/go-1.X).
goroot() { local v=${1#golang-}; echo "usr/lib/go-${v%-go}"; }

# install_go LAYER: sets GOROOT and go_version. Reused for a week, then refreshed from the mirror
# (security updates), as the static buildpack does with nginx.
install_go() {
  local layer=$1 now fetched pkg tmp deb
  now=$(date +%s)
  fetched=$(toml_meta "$layer.toml" fetched)
  pkg=$(toml_meta "$layer.toml" package)
  if [[ -n $pkg && -d $layer/$(goroot "$pkg") && $(toml_meta "$layer.toml" stack) == "$(stack_name)" \
        && $fetched =~ ^[0-9]+$ && $((now - fetched)) -lt 604800 ]]; then
    go_version=$(toml_meta "$layer.toml" version)
    info "Using cached Go $go_version (the $(stack_name) stack's $pkg)"
  else
    tmp=$(mktemp -d)
    apt_init "$tmp/apt"
    pkg=$(apt-cache "${APT_OPTS[@]}" search --names-only '^golang-1\.[0-9]+-go$' | cut -d' ' -f1 | sort -V | tail -n1)
    [[ -n $pkg ]] || fail "The $(stack_name) stack's Debian mirror has no golang-1.X-go package" ""
    info "Installing Go from Debian: $pkg"
    mkdir -p "$tmp/debs" && (cd "$tmp/debs" && apt-get -qq "${APT_OPTS[@]}" download "$pkg" "${pkg%-go}-src" >"$tmp/download.log" 2>&1) || {
      cat "$tmp/download.log" >&2
      fail "Could not download $pkg from the Debian mirror" "Check that the stack's Debian mirror is reachable from the build."
    }
    rm -rf "$layer"
    mkdir -p "$layer"
    for deb in "$tmp"/debs/*.deb; do dpkg-deb -x "$deb" "$layer"; done
    rm -rf "$tmp" "$layer/usr/share/doc" "$layer/usr/share/man" "$layer/usr/share/lintian"
    go_version=$("$layer/$(goroot "$pkg")/bin/go" env GOVERSION | sed 's/^go//')
    fetched=$now
  fi
  export GOROOT=$layer/$(goroot "$pkg")
  export PATH=$GOROOT/bin:$PATH
  write_layer_toml "$layer.toml" false false true "package = $(toml_str "$pkg")" "version = $(toml_str "$go_version")" \
    "stack = $(toml_str "$(stack_name)")" "fetched = $(toml_str "$fetched")"
}
