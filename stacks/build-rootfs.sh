#!/usr/bin/env bash
# Builds one root file system of a stack without any container registry: debootstrap (minbase)
# from the distribution's mirror, then the kind's packages installed in the chroot, then the
# stack's non-root user (uid/gid 1000) and /app. Every stack uses this one recipe; what differs
# lives in stacks/STACK/: stack.conf (suite, distro_version) and build.packages / run.packages.
#
#   build-rootfs.sh STACK KIND OUT_DIR CACHE_DIR
#
# KIND is "build" or "run". The debootstrap base is cached in CACHE_DIR/base-<suite> so the
# second kind (and an unchanged recipe) skips the 30 s download. All arguments are ours, never a
# user's; they are still quoted everywhere.
set -euo pipefail
stack=$1 kind=$2 out=$3 cache=$4
here=$(cd "$(dirname "$0")" && pwd)/$stack
[ -f "$here/stack.conf" ] || { echo "build-rootfs: $here/stack.conf is missing" >&2; exit 1; }
suite=$(sed -n 's/^suite=\([a-z]*\)$/\1/p' "$here/stack.conf")
[ -n "$suite" ] || { echo "build-rootfs: no suite= in $here/stack.conf" >&2; exit 1; }
mirror=${SLIPWAY_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}

for tool in debootstrap chroot tar; do
  command -v "$tool" >/dev/null || { echo "build-rootfs: $tool is missing (apt-get install debootstrap)" >&2; exit 1; }
done

mkdir -p "$cache"
base="$cache/base-$suite"
if [ ! -f "$base/.complete" ]; then
  rm -rf "$base"
  echo "-----> debootstrap --variant=minbase $suite from $mirror"
  debootstrap --variant=minbase "$suite" "$base" "$mirror" >"$cache/debootstrap-$suite.log" 2>&1 || {
    tail -n 30 "$cache/debootstrap-$suite.log" >&2; exit 1; }
  touch "$base/.complete"
fi

rm -rf "$out"
cp -a "$base" "$out"
rm -f "$out/.complete"

cleanup() { umount "$out/proc" 2>/dev/null || true; }
trap cleanup EXIT
mount -t proc proc "$out/proc"
cp /etc/resolv.conf "$out/etc/resolv.conf"
# No daemons may start inside the chroot while packages install.
printf '#!/bin/sh\nexit 101\n' >"$out/usr/sbin/policy-rc.d"; chmod 755 "$out/usr/sbin/policy-rc.d"
cat >"$out/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${SLIPWAY_DEBIAN_SECURITY_MIRROR:-${mirror%/debian}/debian-security} $suite-security main
SOURCES

mapfile -t pkgs < <(grep -v '^\s*#' "$here/$kind.packages" | sed '/^\s*$/d')
echo "-----> Installing ${#pkgs[@]} packages into the $kind image"
chroot "$out" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq
chroot "$out" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get -y -qq upgrade >"$cache/upgrade-$suite-$kind.log" 2>&1
chroot "$out" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >"$cache/apt-$suite-$kind.log" 2>&1 || { tail -n 30 "$cache/apt-$suite-$kind.log" >&2; exit 1; }
chroot "$out" groupadd --gid 1000 slipway
chroot "$out" useradd --uid 1000 --gid 1000 --create-home --home-dir /home/slipway --shell /bin/bash slipway
mkdir -p "$out/app" "$out/layers" "$out/cnb" "$out/workspace" "$out/platform"
chown 1000:1000 "$out/app" "$out/layers" "$out/workspace"
# Package versions, for `slipway stacks` and for knowing what a rebase changes.
chroot "$out" dpkg-query -W -f '${Package} ${Version}\n' >"$out/.slipway-packages"

# Slim the image: package lists, caches, logs, docs. Keep copyright files.
chroot "$out" apt-get clean
rm -rf "$out"/var/lib/apt/lists/* "$out"/var/cache/apt/*.bin "$out"/var/log/* "$out"/tmp/* \
  "$out"/usr/share/doc/*/changelog* "$out"/usr/share/man/* "$out"/usr/share/info/*
rm -f "$out/usr/sbin/policy-rc.d" "$out/etc/resolv.conf" "$out/etc/hostname"
: >"$out/etc/resolv.conf"
umount "$out/proc"; trap - EXIT
rm -rf "$out/dev"; mkdir -m 755 "$out/dev"
echo "-----> $kind root file system ready ($(du -sh "$out" | cut -f1))"
