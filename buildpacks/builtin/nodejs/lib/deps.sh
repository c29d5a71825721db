# Package managers, dependency layers and scripts (sourced by bin/build; uses $layers, $tmp,
# $app, $version, $pkg_manager, $has_dev and has_script from it). Sets: pm, pm_version, lockfile.

# The package manager a field like "pnpm@9.1.0+sha512.abc" asks for, if it is NAME.
package_manager_field() {
  local field
  field=$pkg_manager
  [[ $field == "$1@"* ]] || return 0
  field=${field#"$1@"}
  echo "${field%%+*}"
}

# install_pm NAME RANGE BIN_IN_PACKAGE COMMAND: a package manager from the registry into the pm layer.
install_pm() {
  local name=$1 range=$2 bin=$3 command=$4 want
  packument "$name" "$tmp/pm.json"
  set +e
  want=$(node "$bp_dir/lib/resolve.js" "$layers/semver" npm "$range" "$version" "$tmp/pm.json")
  local rc=$?
  set -e
  (( rc == 0 )) || fail "No version of $name matches \"$range\" and runs on Node.js $version" \
    "Set \"packageManager\": \"$name@<version>\" in package.json to a release that supports Node.js $version."
  pm_version=$want
  if [[ $(toml_meta "$layers/pm.toml" name) == "$name" && $(toml_meta "$layers/pm.toml" version) == "$want" && -f $layers/pm/$bin ]]; then
    info "Using cached $name $want"
  else
    info "Downloading $name $want"
    rm -rf "$layers/pm"
    extract_tarball "$tmp/pm.json" "$want" "$layers/pm"
  fi
  write_layer_toml "$layers/pm.toml" false false true "name = $(toml_str "$name")" "version = $(toml_str "$want")"
  mkdir -p "$tmp/bin"
  printf '#!/usr/bin/env bash\nexec node %q "$@"\n' "$layers/pm/$bin" >"$tmp/bin/$command"
  chmod +x "$tmp/bin/$command"
  export PATH=$tmp/bin:$PATH
}

detect_package_manager() {
  step "Dependencies"
  local found=()
  for f in pnpm-lock.yaml yarn.lock package-lock.json npm-shrinkwrap.json; do [[ -f $f ]] && found+=("$f"); done
  (( ${#found[@]} <= 1 )) || info "Warning: several lockfiles (${found[*]}); using ${found[0]}"
  lockfile=${found[0]:-}
  case $lockfile in
    pnpm-lock.yaml)
      pm=pnpm
      local want lv
      want=$(package_manager_field pnpm)
      if [[ -z $want ]]; then
        lv=$(sed -n "s/^lockfileVersion: *['\"]\{0,1\}\([0-9.]*\).*/\1/p" pnpm-lock.yaml | head -n1)
        case ${lv%%.*} in 5) want='7.x' ;; 6) want='8.x' ;; *) want='10.x' ;; esac
      fi
      install_pm pnpm "$want" bin/pnpm.cjs pnpm
      ;;
    yarn.lock)
      pm=yarn
      local want
      want=$(package_manager_field yarn)
      if [[ -f .yarnrc.yml || ${want%%.*} -ge 2 ]] 2>/dev/null || grep -q '^__metadata:' yarn.lock; then
        pm=yarn-berry
        local yarn_path
        yarn_path=$(sed -n 's/^yarnPath: *["'\'']\{0,1\}\([^"'\'']*\).*/\1/p' .yarnrc.yml 2>/dev/null | head -n1)
        if [[ -n $yarn_path && -f $yarn_path ]]; then
          info "Using the committed $yarn_path"
          pm_version=$(basename "$yarn_path")
          mkdir -p "$tmp/bin"
          printf '#!/usr/bin/env bash\nexec node %q "$@"\n' "$app/$yarn_path" >"$tmp/bin/yarn"
          chmod +x "$tmp/bin/yarn"
          export PATH=$tmp/bin:$PATH
        else
          # Corepack would fetch from repo.yarnpkg.com; the registry's @yarnpkg/cli-dist is the same build.
          install_pm @yarnpkg/cli-dist "${want:-4.x}" bin/yarn.js yarn
        fi
        export YARN_GLOBAL_FOLDER=$layers/pkg_cache/yarn-berry YARN_ENABLE_GLOBAL_CACHE=true YARN_ENABLE_TELEMETRY=false
        # Berry ignores npm's registry settings: pass the operator's on unless the app set one.
        if [[ -n ${NPM_CONFIG_REGISTRY:-${npm_config_registry:-}} ]] && ! grep -q '^npmRegistryServer' .yarnrc.yml 2>/dev/null; then
          export YARN_NPM_REGISTRY_SERVER=$(registry_url)
        fi
      else
        install_pm yarn "${want:-1.x}" bin/yarn.js yarn
      fi
      ;;
    *)
      pm=npm
      pm_version=$npm_version
      ;;
  esac
  info "Package manager: ${pm%-berry} ${pm_version}${lockfile:+ ($lockfile)}"
}

# run_script_if_present NAME: a package.json script through the app's package manager.
run_script_if_present() {
  local name=$1
  has_script "$name" || return 0
  step "Running $name script"
  local runner=(npm run "$name")
  case $pm in pnpm) runner=(pnpm run "$name") ;; yarn | yarn-berry) runner=(yarn run "$name") ;; esac
  set +e
  NODE_ENV=${NODE_ENV:-production} "${runner[@]}" 2>&1
  local rc=$?
  set -e
  (( rc == 0 )) || fail "The $name script failed (exit $rc); its output is above" \
    "Reproduce it with: ${runner[*]} (NODE_ENV=production). Fix it and push again."
}

deps_key() {
  {
    echo "node=$version pm=$pm@$pm_version"
    [[ -n $lockfile ]] && sha256sum "$lockfile"
    jq -S '{dependencies, devDependencies, optionalDependencies, peerDependencies, overrides, resolutions, workspaces, pnpm}' package.json
  } | sha256sum | cut -c1-64
}

has_dev_dependencies() { [[ -n $has_dev ]]; }

# Pruning follows Heroku: only when the app runs in production and has not opted out.
prune_enabled() {
  has_dev_dependencies || return 1
  [[ ${NODE_ENV:-production} == production ]] || return 1
  [[ ${NPM_CONFIG_PRODUCTION:-${npm_config_production:-true}} != false && ${YARN_PRODUCTION:-true} != false ]]
}

link_node_modules() { ln -sfn "$layers/$1/node_modules" "$app/node_modules"; }

# Package managers replace a symlinked node_modules with a real directory, so installs and prunes
# run on a real /app/node_modules which then moves into its layer; builds that reuse the layers
# only link /app/node_modules to them.
install_dependencies() {
  key=$(deps_key)
  install_layer=modules
  has_dev_dependencies && install_layer=dev_modules
  if [[ -L node_modules ]]; then rm -f node_modules
  elif [[ -e node_modules ]]; then
    info "Warning: node_modules is checked in; it is replaced by a fresh install"
    rm -rf node_modules
  fi
  # Yarn PnP (berry's default linker) has no node_modules: the app loads packages from the zip
  # cache, so that cache must be the project's .yarn/cache (shipped in the app layer), not the
  # global one in a build-only layer. It installs on every build.
  if [[ $pm == yarn-berry ]] && ! grep -qE '^nodeLinker: *["'\'']?node-modules' .yarnrc.yml 2>/dev/null; then
    export YARN_ENABLE_GLOBAL_CACHE=false
    install_layer=""
    rm -rf "$layers/modules" "$layers/modules.toml" "$layers/dev_modules" "$layers/dev_modules.toml"
    run_install
    # At launch node must load the PnP runtime (what `yarn node` does); a small layer of its own
    # keeps the shared node layer identical across apps.
    rm -rf "$layers/pnp"
    mkdir -p "$layers/pnp/env.launch"
    local opts="--require $app/.pnp.cjs"
    [[ -f .pnp.loader.mjs ]] && opts+=" --experimental-loader $app/.pnp.loader.mjs"
    printf '%s' "$opts" >"$layers/pnp/env.launch/NODE_OPTIONS.append"
    printf ' ' >"$layers/pnp/env.launch/NODE_OPTIONS.delim"
    write_layer_toml "$layers/pnp.toml" true false false
    return
  fi
  rm -rf "$layers/pnp" "$layers/pnp.toml"

  if [[ $(toml_meta "$layers/$install_layer.toml" key) == "$key" && -d $layers/$install_layer/node_modules ]]; then
    info "Reusing node_modules: lockfile, dependencies and Node.js version unchanged"
    reused=1
    link_node_modules "$install_layer"
    run_root_install_scripts
  elif [[ $pm == npm && -n $lockfile && $(toml_meta "$layers/$install_layer.toml" node) == "$version" \
          && -d $layers/$install_layer/node_modules ]] && lockfile_in_sync; then
    # Dependencies changed, Node did not: npm updates the previous tree in place (packages that
    # did not change are neither fetched nor extracted again), as `npm install` does locally.
    reused=0
    info "Updating the previous node_modules (dependencies changed)"
    mv "$layers/$install_layer/node_modules" node_modules
    rm -rf "$layers/modules" "$layers/dev_modules"
    run_install update
  else
    reused=0
    rm -rf "$layers/modules" "$layers/dev_modules"
    run_install
  fi
  if (( reused == 0 )); then
    mkdir -p node_modules   # an app without dependencies gets none
    mkdir -p "$layers/$install_layer"
    if [[ $install_layer == dev_modules ]]; then
      cp -a node_modules "$layers/dev_modules/node_modules"   # the build scripts keep the real tree
    else
      mv node_modules "$layers/modules/node_modules"
      link_node_modules modules
    fi
  fi
  local launch=true
  [[ $install_layer == dev_modules ]] && launch=false
  write_layer_toml "$layers/$install_layer.toml" "$launch" false true "key = $(toml_str "$key")" "node = $(toml_str "$version")"
  [[ $install_layer == dev_modules ]] || rm -rf "$layers/dev_modules" "$layers/dev_modules.toml"
  path_env "$install_layer"
}

# node_modules/.bin on PATH at launch, so Procfile commands can name the app's tools.
path_env() {
  mkdir -p "$layers/$1/env.launch"
  printf '%s' "$layers/$1/node_modules/.bin" >"$layers/$1/env.launch/PATH.prepend"
  printf ':' >"$layers/$1/env.launch/PATH.delim"
}

# What an install does for the app itself (not its dependencies), and a reused node_modules does
# not: the root package's install lifecycle scripts, whose output lands in the fresh app dir.
run_root_install_scripts() {
  local script
  if [[ -f binding.gyp ]] && ! has_script install && ! has_script preinstall; then
    step "Building the app's native addon (node-gyp rebuild)"
    set +e
    node "$layers/node/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js" rebuild 2>&1
    local rc=$?
    set -e
    (( rc == 0 )) || fail "node-gyp rebuild of the app's binding.gyp failed (exit $rc; output above)" \
      "Reproduce it with: npx node-gyp rebuild"
  fi
  for script in preinstall install postinstall prepare; do run_script_if_present "$script"; done
}

# lockfile_in_sync: package-lock's root entry lists the same dependencies as package.json (what
# `npm ci` insists on). Only then may `npm install` update a tree in place: it would otherwise
# rewrite the lock silently where npm ci refuses.
lockfile_in_sync() {
  [[ $lockfile == package-lock.json || $lockfile == npm-shrinkwrap.json ]] || return 1
  jq -e --slurpfile p package.json '
    (.lockfileVersion // 1) >= 2 and (.packages[""] // null) != null and
    (.packages[""] as $r | all("dependencies", "devDependencies", "optionalDependencies", "peerDependencies";
      . as $k | ($r[$k] // {}) == ($p[0][$k] // {})))' "$lockfile" >/dev/null 2>&1
}

# run_install [update]: update = npm on the previous node_modules (lockfile in sync, checked).
run_install() {
  local cmd
  case $pm in
    npm)
      if [[ ${1:-} == update ]]; then cmd=(npm install --no-save --include=dev --include=optional)
      elif [[ -n $lockfile ]]; then cmd=(npm ci --include=dev --include=optional); else cmd=(npm install --include=dev --include=optional); fi ;;
    yarn) cmd=(yarn install --frozen-lockfile --production=false --non-interactive --cache-folder "$layers/pkg_cache/yarn") ;;
    yarn-berry) cmd=(yarn install --immutable) ;;
    pnpm) cmd=(pnpm install --frozen-lockfile --store-dir "$layers/pkg_cache/pnpm-store" --config.confirmModulesPurge=false) ;;
  esac
  info "Installing dependencies: ${cmd[*]}"
  set +e
  env -u NODE_ENV "${cmd[@]}" 2>&1 | tee "$tmp/install.log"
  local rc=${PIPESTATUS[0]}
  set -e
  (( rc == 0 )) && return 0
  if grep -qiE 'can only install packages when your package.json and (package-lock|npm-shrinkwrap)|lockfile needs to be updated|ERR_PNPM_OUTDATED_LOCKFILE|lockfile would have been modified|not in sync|Missing: .* from lock file' "$tmp/install.log"; then
    fail "$lockfile is out of sync with package.json: ${cmd[0]} refused to install (output above)" \
      "Run \`${pm%-berry} install\` locally, commit the updated $lockfile and push again."
  fi
  fail "Installing dependencies failed (${cmd[*]} exited $rc; output above)" \
    "Reproduce it locally with the same command; check the registry is reachable and the packages exist."
}

prune_dev_dependencies() {
  [[ -n ${install_layer:-} && $install_layer == dev_modules ]] || return 0
  if ! prune_enabled; then
    info "Keeping devDependencies (NODE_ENV=${NODE_ENV:-production}, pruning turned off)"
    rm -rf "$layers/modules" "$layers/modules.toml" node_modules
    link_node_modules dev_modules
    write_layer_toml "$layers/dev_modules.toml" true false true "key = $(toml_str "$key")" "node = $(toml_str "$version")"
    return 0
  fi
  step "Pruning devDependencies"
  if [[ $reused == 1 && $(toml_meta "$layers/modules.toml" key) == "$key" && -d $layers/modules/node_modules ]]; then
    info "Reusing the pruned node_modules"
  else
    if [[ -L node_modules ]]; then rm -f node_modules; cp -a "$layers/dev_modules/node_modules" node_modules; fi
    local cmd
    case $pm in
      npm) cmd=(npm prune --omit=dev) ;;
      yarn) cmd=(yarn install --production=true --frozen-lockfile --ignore-scripts --prefer-offline --non-interactive --cache-folder "$layers/pkg_cache/yarn") ;;
      yarn-berry) cmd=(yarn workspaces focus --all --production) ;;
      pnpm) cmd=(pnpm prune --prod --store-dir "$layers/pkg_cache/pnpm-store" --config.confirmModulesPurge=false) ;;
    esac
    set +e
    env -u NODE_ENV "${cmd[@]}" 2>&1
    local rc=$?
    set -e
    (( rc == 0 )) || fail "Pruning devDependencies failed (${cmd[*]} exited $rc)" \
      "Set the config var NPM_CONFIG_PRODUCTION=false to keep devDependencies instead."
    rm -rf "$layers/modules"
    mkdir -p "$layers/modules"
    mv node_modules "$layers/modules/node_modules"
  fi
  rm -rf node_modules
  link_node_modules modules
  write_layer_toml "$layers/modules.toml" true false true "key = $(toml_str "$key")" "node = $(toml_str "$version")"
  path_env modules
}
