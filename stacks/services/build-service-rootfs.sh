#!/usr/bin/env bash
# Builds the root file system of one service image (PostgreSQL or Redis add-ons, docs/addons.md)
# the way stacks/bookworm/build-rootfs.sh builds the stacks: the same cached debootstrap base,
# the distribution's packages from SERVICE.packages, a non-root user (uid/gid 1000 "slipway")
# owning /data (the named volume's mount point) and the entry point from SERVICE-entrypoint.sh.
#
#   build-service-rootfs.sh SERVICE OUT_DIR CACHE_DIR
set -euo pipefail
service=$1 out=$2 cache=$3
here=$(cd "$(dirname "$0")" && pwd)
mirror=${SLIPWAY_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}
suite=bookworm

for tool in debootstrap chroot tar; do
  command -v "$tool" >/dev/null || { echo "build-service-rootfs: $tool is missing (apt-get install debootstrap)" >&2; exit 1; }
done
[ -f "$here/$service.packages" ] || { echo "build-service-rootfs: no recipe for $service" >&2; exit 1; }

mkdir -p "$cache"
base="$cache/base-$suite"
if [ ! -f "$base/.complete" ]; then
  rm -rf "$base"
  echo "-----> debootstrap --variant=minbase $suite from $mirror"
  debootstrap --variant=minbase "$suite" "$base" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
    tail -n 30 "$cache/debootstrap.log" >&2; exit 1; }
  touch "$base/.complete"
fi

rm -rf "$out"
cp -a "$base" "$out"
rm -f "$out/.complete"
cleanup() { umount "$out/proc" 2>/dev/null || true; }
trap cleanup EXIT
mount -t proc proc "$out/proc"
cp /etc/resolv.conf "$out/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$out/usr/sbin/policy-rc.d"; chmod 755 "$out/usr/sbin/policy-rc.d"
cat >"$out/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${SLIPWAY_DEBIAN_SECURITY_MIRROR:-${mirror%/debian}/debian-security} $suite-security main
SOURCES
# The cluster is made by our entry point on the volume at first start, not by the package.
mkdir -p "$out/etc/postgresql-common/createcluster.d"
echo 'create_main_cluster = false' >"$out/etc/postgresql-common/createcluster.d/slipway.conf"

mapfile -t pkgs < <(grep -v '^\s*#' "$here/$service.packages" | sed '/^\s*$/d')
echo "-----> Installing ${#pkgs[@]} packages into the $service image"
chroot "$out" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq
chroot "$out" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get -y -qq upgrade >"$cache/upgrade-$service.log" 2>&1
chroot "$out" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >"$cache/apt-$service.log" 2>&1 || { tail -n 30 "$cache/apt-$service.log" >&2; exit 1; }
chroot "$out" groupadd --gid 1000 slipway
chroot "$out" useradd --uid 1000 --gid 1000 --create-home --home-dir /home/slipway --shell /bin/bash slipway
mkdir -p "$out/data"
chown 1000:1000 "$out/data"
chmod 700 "$out/data"
install -m 755 "$here/$service-entrypoint.sh" "$out/usr/local/bin/slipway-service"
chroot "$out" dpkg-query -W -f '${Package} ${Version}\n' >"$out/.slipway-packages"

chroot "$out" apt-get clean
rm -rf "$out"/var/lib/apt/lists/* "$out"/var/cache/apt/*.bin "$out"/var/log/* "$out"/tmp/* \
  "$out"/usr/share/doc/*/changelog* "$out"/usr/share/man/* "$out"/usr/share/info/* \
  "$out"/var/lib/postgresql/* "$out"/etc/postgresql/*/
rm -f "$out/usr/sbin/policy-rc.d" "$out/etc/resolv.conf" "$out/etc/hostname"
: >"$out/etc/resolv.conf"
chmod 1777 "$out/tmp"
umount "$out/proc"; trap - EXIT
rm -rf "$out/dev"; mkdir -m 755 "$out/dev"
echo "-----> $service root file system ready ($(du -sh "$out" | cut -f1))"
