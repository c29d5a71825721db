# Python itself: the stack's Debian packages (python3.X and the pip/setuptools wheels Debian
# ships), unpacked into the `python` layer without root, as the Aptfile buildpack does.

# What each stack's distribution offers. Debian ships one Python per release; a request for another
# minor version is an error naming the stack that has it (docs/buildpacks.md).
declare -A STACK_PYTHON=([bookworm]=3.11 [trixie]=3.13)

stack_name() {
  local s=${STACK:-}
  [[ -n $s && -n ${STACK_PYTHON[$s]:-} ]] || s=$(. /etc/os-release && echo "$VERSION_CODENAME")
  echo "$s"
}

stacks_offering() {
  local s out=""
  for s in $(printf '%s\n' "${!STACK_PYTHON[@]}" | sort); do out+="${out:+, }$s: Python ${STACK_PYTHON[$s]}"; done
  echo "$out"
}

# resolve_python_version: sets py_minor (3.11), py_version (3.11.2) and py_source (where the
# request came from), or fails naming the stacks that have the requested version.
resolve_python_version() {
  local stack requested="" spec
  stack=$(stack_name)
  py_minor=${STACK_PYTHON[$stack]:-}
  [[ -n $py_minor ]] || fail "The $stack stack has no known Python version" "Use the bookworm or trixie stack: slipway stack:set trixie -a APP"
  # The build image has the stack's python3.X (its Debian version, e.g. 3.11.2-6+deb12u9, names
  # the upstream version); reading it costs one dpkg-query, not a Python start.
  py_pkg_version=$(dpkg-query -W -f '${Version}' "python$py_minor-minimal" 2>/dev/null || echo unknown)
  py_version=${py_pkg_version%%-*}
  py_version=${py_version%%+*}
  [[ $py_version == "$py_minor".* ]] || py_version=$py_minor
  py_source="the $stack stack's default"
  if [[ -f .python-version ]]; then
    requested=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' .python-version | sed '/^$/d' | head -n1)
    py_source=.python-version
  elif [[ -f runtime.txt ]]; then
    requested=$(tr -d '[:space:]' <runtime.txt)
    [[ $requested =~ ^python-(.*)$ ]] || fail "runtime.txt says \"$requested\", not python-3.X.Y" \
      "Write for example python-$py_version in runtime.txt, or use .python-version."
    requested=${BASH_REMATCH[1]}
    py_source=runtime.txt
  fi
  if [[ -n $requested ]]; then
    requested=${requested#python-}
    requested=${requested#cpython-}
    [[ $requested =~ ^3\.([0-9]+)(\.[0-9]+)?$ ]] || fail "$py_source asks for Python \"$requested\", which is not a CPython 3.X or 3.X.Y version" \
      "Write a version such as $py_minor in $py_source."
    local want="3.${BASH_REMATCH[1]}" s have=""
    if [[ $want != "$py_minor" ]]; then
      for s in "${!STACK_PYTHON[@]}"; do [[ ${STACK_PYTHON[$s]} == "$want" ]] && have=$s; done
      if [[ -n $have ]]; then
        fail "Python $requested (from $py_source) is not available on the $stack stack, which has Python $py_minor. Stacks: $(stacks_offering)." \
          "Switch the app to the $have stack: slipway stack:set $have -a APP (then push again), or ask for $py_minor in $py_source."
      fi
      fail "Python $requested (from $py_source) is not available on any stack. Stacks: $(stacks_offering)." \
        "Ask for $py_minor in $py_source (or another stack's version and switch with: slipway stack:set STACK -a APP)."
    fi
    [[ $requested == "$want" || $requested == "$py_version" ]] || \
      info "$py_source asks for $requested: the $stack stack's Python $py_version serves 3.${BASH_REMATCH[1]}.x (Debian backports security fixes)"
  elif [[ -f pyproject.toml ]]; then
    spec=$(/usr/bin/python3 "$bp_dir/lib/pytool.py" requires-python pyproject.toml) || fail "Could not read pyproject.toml (error above)" "Check its TOML syntax."
    if [[ -n $spec ]]; then
      py_source="requires-python \"$spec\""
      if ! /usr/bin/python3 "$bp_dir/lib/pytool.py" satisfies "$spec" "$py_version"; then
        local have="" s
        for s in "${!STACK_PYTHON[@]}"; do
          /usr/bin/python3 "$bp_dir/lib/pytool.py" satisfies "$spec" "${STACK_PYTHON[$s]}.0" 2>/dev/null && have=$s
        done
        fail "requires-python \"$spec\" in pyproject.toml excludes Python $py_version, the $stack stack's version. Stacks: $(stacks_offering)." \
          "${have:+Switch the app to the $have stack: slipway stack:set $have -a APP, or }Change requires-python to include $py_minor."
      fi
    fi
  fi
}

# install_python LAYER: the runtime layer, reused while the stack's package version is unchanged.
install_python() {
  local layer=$1 pkg key tmp deb
  key="$(stack_name) $py_minor $py_pkg_version layout-2"
  if [[ -x $layer/usr/bin/python$py_minor && $(toml_meta "$layer.toml" key) == "$key" ]]; then
    info "Using cached Python $py_version ($py_source)"
  else
    info "Installing Python $py_version from Debian ($py_source)"
    tmp=$(mktemp -d)
    apt_init "$tmp/apt"
    /usr/bin/python3 "$bp_dir/lib/base-status.py" /var/lib/dpkg/status >"$tmp/status"
    mkdir -p "$tmp/debs/partial"
    if ! apt-get -y "${APT_OPTS[@]}" -o "Dir::State::status=$tmp/status" -o "Dir::Cache::archives=$tmp/debs" \
          --no-install-recommends --download-only install "python$py_minor" python3-pip-whl python3-setuptools-whl >"$tmp/install.log" 2>&1; then
      sed -n '/^E:/p' "$tmp/install.log" >&2
      fail "apt-get could not download Python $py_minor from the stack's Debian mirror (errors above)" \
        "Check that the Debian mirror is reachable from the build."
    fi
    rm -rf "$layer"
    mkdir -p "$layer"
    for deb in "$tmp"/debs/*.deb; do dpkg-deb -x "$deb" "$layer"; done
    rm -rf "$tmp" "$layer/usr/share/doc" "$layer/usr/share/man" "$layer/usr/share/lintian" "$layer/etc/ssl"
    # Headers for native extensions come from the build image's python3-dev; the layer points there.
    if [[ -d /usr/include/python$py_minor ]]; then
      mkdir -p "$layer/usr/include"
      ln -sfn "/usr/include/python$py_minor" "$layer/usr/include/python$py_minor"
    fi
    mkdir -p "$layer/env"
    # Debian 12 still ships some libraries in /lib (libexpat1), Debian 13 all in /usr/lib.
    printf '%s' "$layer/usr/lib/x86_64-linux-gnu:$layer/lib/x86_64-linux-gnu" >"$layer/env/LD_LIBRARY_PATH.prepend"
    printf ':' >"$layer/env/LD_LIBRARY_PATH.delim"
    # The interpreter and its C modules load (checked once, when the layer is made).
    LD_LIBRARY_PATH="$(<"$layer/env/LD_LIBRARY_PATH.prepend")" "$layer/usr/bin/python$py_minor" -c 'import ssl, sqlite3, ctypes, pyexpat, decimal' \
      || fail "Python $py_version does not start on this stack" ""
  fi
  export LD_LIBRARY_PATH=$(<"$layer/env/LD_LIBRARY_PATH.prepend")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  write_layer_toml "$layer.toml" true true true "key = $(toml_str "$key")" "version = $(toml_str "$py_version")"
}
