#!/usr/bin/env bash
# Installs what rhcos-layer and its tests need on Debian/Ubuntu (run as root), then the Python
# environment in .venv. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
declare -A wanted=(
  [podman]=podman [docker-registry]=docker-registry [busybox]=busybox-static [runc]=runc
  [htpasswd]=apache2-utils [openssl]=openssl [buildah]=buildah [skopeo]=skopeo
)
missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
PYTHON=${PYTHON:-python3}
# a Python 3.9+ that can make virtual environments
if ! "$PYTHON" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' >/dev/null 2>&1; then
  missing+=(python3 python3-venv)
  PYTHON=/usr/bin/python3
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" uidmap fuse-overlayfs
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.rhcos-layer-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # compat: a plain path entry, not an import hook (the hook costs ~15 ms at every start);
  # setuptools calls that mode transitional, so fall back to the default one if it goes away
  .venv/bin/python -m pip install -q -e '.[test,lint]' nox --config-settings editable_mode=compat \
    || .venv/bin/python -m pip install -q -e '.[test,lint]' nox
  touch "$stamp"
fi
# byte-compile as a wheel install would (PYTHONDONTWRITEBYTECODE may be set): start-up time
.venv/bin/python -m compileall -q rhcos_layer >/dev/null
