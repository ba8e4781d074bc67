#!/usr/bin/env bash
# Make sure a caching apt proxy (apt-cacher-ng) listens on port 3142 of this machine, so that test
# and local containers download each .deb once, however many of them install it at the same time.
# The containers find it themselves (see apt-proxy-detect in base-image.sh) and go direct without it.
set -euo pipefail
state_dir=${STACKGUARD_STATE_DIR:-/var/lib/stackguard}
mkdir -p "$state_dir"
port=3142

listening() { (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; }

if listening; then
  echo "apt-proxy: already listening on :$port"
  exit 0
fi
if ! command -v apt-cacher-ng >/dev/null 2>&1; then
  echo "apt-proxy: installing apt-cacher-ng from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q apt-cacher-ng >/dev/null
fi
if ! listening; then
  rm -f "$state_dir/apt-cacher-ng.pid"
  echo "apt-proxy: starting apt-cacher-ng (cache in /var/cache/apt-cacher-ng)"
  install -d -o apt-cacher-ng -g apt-cacher-ng /run/apt-cacher-ng /var/cache/apt-cacher-ng /var/log/apt-cacher-ng
  conf_dir=$(mktemp -d /tmp/stackguard-acng.XXXXXX)
  cp "$(dirname "$0")/apt-cacher-ng.conf" "$conf_dir/acng.conf"
  apt-cacher-ng -c "$conf_dir" ForeGround=0 Port=$port PidFile=/run/apt-cacher-ng/pid
fi
for _ in $(seq 1 20); do
  if listening; then
    # Recorded so that .ci/run can stop what it started.
    cp /run/apt-cacher-ng/pid "$state_dir/apt-cacher-ng.pid" 2>/dev/null || true
    echo "apt-proxy: listening on :$port"
    exit 0
  fi
  sleep 0.5
done
echo "apt-proxy: apt-cacher-ng did not start; containers will download directly" >&2
exit 1
