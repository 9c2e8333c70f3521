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
# Python 3.9 for `nox -s compat` (RHEL 9's python3; under RHCOS_LAYER_CI=1 that session fails without
# it). Found as noxfile.py looks: pyenv's versions, then python3.9 on PATH.
find_python39() {
  local candidate
  for candidate in "$HOME"/.pyenv/versions/3.9*/bin/python3.9 "$(command -v python3.9 || true)"; do
    if [ -x "$candidate" ] && "$candidate" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 9))' \
        >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}
if ! find_python39 >/dev/null; then
  # Debian 12 and Ubuntu 22.04+ have no python3.9 package; Debian 11 and Ubuntu 20.04 do
  if apt-cache show python3.9 >/dev/null 2>&1 || { apt-get update -q && apt-cache show python3.9 >/dev/null 2>&1; }; then
    echo "Installing Python 3.9 (python3.9, python3.9-venv) for nox -s compat"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3.9 python3.9-venv || true
  fi
fi
if ! find_python39 >/dev/null; then
  pyenv=$(command -v pyenv || echo "$HOME/.pyenv/bin/pyenv")
  if [ -x "$pyenv" ]; then
    # pyenv builds it from python.org's source tarball: needs that host (and the build packages)
    echo "Installing Python 3.9 with pyenv for nox -s compat"
    "$pyenv" install -s 3.9 || true
  fi
fi
if ! find_python39 >/dev/null; then
  echo "No Python 3.9: no python3.9 package in this distribution's repositories and no pyenv that could build" \
       "one (pyenv downloads the source from python.org). 'nox -s compat' will fail under scripts/test." >&2
fi
# byte-compile as a wheel install would (PYTHONDONTWRITEBYTECODE may be set): start-up time
.venv/bin/python -m compileall -q rhcos_layer >/dev/null
