#!/usr/bin/env bash
# Create .venv with the pinned controller toolchain (requirements.txt), then check it.
# Installs only when requirements.txt changed since the last install; never upgrades on its own.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${STACKGUARD_PYTHON:-python3}
venv=.venv
stamp=$venv/.requirements.sha256
wanted=$(sha256sum requirements.txt | cut -d' ' -f1)

if ! "$python" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 13)))'; then
  echo "venv: $("$python" -V 2>&1) is not supported; use Python 3.11 to 3.13 (STACKGUARD_PYTHON=...)" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "venv: creating $venv with $("$python" -V)"
  "$python" -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ] || [ "${STACKGUARD_REINSTALL:-}" = 1 ]; then
  echo "venv: installing the pinned toolchain (requirements.txt)"
  "$venv/bin/pip" install -q --disable-pip-version-check -r requirements.txt
  echo "$wanted" >"$stamp"
fi
"$venv/bin/python" tools/check_toolchain.py requirements.txt
