#!/usr/bin/env bash
# Build a Debian base image with systemd and python3 for one release, locally, with debootstrap.
# There is no registry here, so images are made from the Debian mirror and `docker import`ed.
# The image carries the sha256 of this recipe as a label; it is rebuilt only when missing or
# when the recipe changed.
#   usage: base-image.sh bullseye|bookworm
set -euo pipefail
release=${1:?usage: base-image.sh <debian release>}
case "$release" in
  bullseye|bookworm) ;;
  *) echo "base-image: unsupported release '$release' (bullseye or bookworm)" >&2; exit 2 ;;
esac
image="stackguard/debian-systemd:$release"
mirror=${STACKGUARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${STACKGUARD_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
recipe=$(sha256sum "$0" | cut -d' ' -f1)

current=$(docker image inspect -f '{{ index .Config.Labels "org.stackguard.recipe" }}' "$image" 2>/dev/null || true)
if [ "$current" = "$recipe" ]; then
  echo "base-image: $image is up to date"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "base-image: installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
fi

rootfs=$(mktemp -d "/var/tmp/stackguard-rootfs-$release.XXXXXX")
trap 'rm -rf "$rootfs"' EXIT
echo "base-image: debootstrap $release into $rootfs (a few minutes)"
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,python3,python3-apt,ca-certificates,procps,iproute2,curl,gnupg \
  "$release" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -30 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"

# The same suites a production host of this release follows.
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $release main
deb $mirror $release-updates main
deb $security_mirror $release-security main
SOURCES
# Containers run systemd as PID 1 (stop them with SIGRTMIN+3, set where they are created); units that need real hardware or a console only slow boot.
for unit in getty.target systemd-udevd.service systemd-udev-trigger.service \
            systemd-remount-fs.service sys-kernel-debug.mount sys-kernel-tracing.mount \
            systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
: >"$rootfs/etc/machine-id"
# Use the machine's caching apt proxy (tools/setup/apt-proxy.sh) when it answers on the
# container's gateway, so each .deb downloads once for all containers; otherwise go direct.
cat >"$rootfs/usr/local/bin/apt-proxy-detect" <<'DETECT'
#!/bin/bash
gateway=$(ip route show default 2>/dev/null | awk '{print $3; exit}')
if [ -n "$gateway" ] && timeout 1 bash -c "exec 3<>/dev/tcp/$gateway/3142" 2>/dev/null; then
  echo "http://$gateway:3142"
else
  echo DIRECT
fi
DETECT
chmod 0755 "$rootfs/usr/local/bin/apt-proxy-detect"
echo 'Acquire::http::Proxy-Auto-Detect "/usr/local/bin/apt-proxy-detect";' \
  >"$rootfs/etc/apt/apt.conf.d/01proxy-detect"
echo 'APT::Install-Recommends "false";' >"$rootfs/etc/apt/apt.conf.d/10no-recommends"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
# No lists in the image: date the directory to the epoch so the first `apt update_cache` with
# cache_valid_time sees them as stale (it judges by that mtime).
touch -d @0 "$rootfs/var/lib/apt/lists"

echo "base-image: importing $image"
tar -C "$rootfs" -c . | docker import \
  --change 'ENV container=docker' \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change "LABEL org.stackguard.recipe=$recipe" \
  --change "LABEL org.stackguard.release=$release" \
  - "$image" >/dev/null
echo "base-image: $image built"
