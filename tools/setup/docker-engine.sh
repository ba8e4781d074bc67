#!/usr/bin/env bash
# Make sure a Docker engine answers. Use a running one; otherwise, on Debian, install docker.io and
# start dockerd in the background. Records whether we started it, so `.ci/run` stops only what it started.
set -euo pipefail
state_dir=${STACKGUARD_STATE_DIR:-/var/lib/stackguard}
mkdir -p "$state_dir"

# systemd in each container takes about 7 inotify instances, and Linux's default of 128 per user
# stops systemd from starting (the container exits) past about 18 containers on the machine.
limit=$(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null || echo 1024)
if [ "$(id -u)" -eq 0 ] && [ "$limit" -lt 1024 ]; then
  if sysctl -q -w fs.inotify.max_user_instances=1024; then
    echo "docker: fs.inotify.max_user_instances raised from $limit to 1024 (systemd containers)"
  else
    echo "docker: could not raise fs.inotify.max_user_instances ($limit): at most ~18 systemd containers" >&2
  fi
fi

if docker info >/dev/null 2>&1; then
  echo "docker: engine already running"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "docker: no engine running and cannot install one here (need root on Debian)." >&2
    echo "        Install Docker and start it, then run this again." >&2
    exit 1
  fi
  echo "docker: installing docker.io from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q docker.io >/dev/null
fi

echo "docker: starting dockerd in the background (log: $state_dir/dockerd.log)"
nohup dockerd >"$state_dir/dockerd.log" 2>&1 &
echo $! >"$state_dir/dockerd.pid"
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "docker: engine up"
    exit 0
  fi
  sleep 1
done
echo "docker: dockerd did not answer within 60 s; see $state_dir/dockerd.log" >&2
exit 1
