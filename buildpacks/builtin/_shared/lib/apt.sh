# Private apt state so apt-get runs without root: package lists and downloads live under a temp
# dir; the sources are the stack's own /etc/apt (the same mirror and suites the stack was built from).

# apt_init DIR: fetches the package lists into DIR.
apt_init() {
  APT_DIR=$1
  mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
  APT_OPTS=(-o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache" -o Debug::NoLocking=1
            -o Acquire::Languages=none -o Acquire::Retries=3)
  if ! apt-get -qq "${APT_OPTS[@]}" update >"$APT_DIR/update.log" 2>&1; then
    cat "$APT_DIR/update.log" >&2
    fail "Could not read the Debian package lists (apt-get update failed; output above)" \
      "Check that the stack's Debian mirror is reachable from the build."
  fi
}
