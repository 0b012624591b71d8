#!/usr/bin/env bash
# One-command set-up for strfviewer on a fresh Linux machine.
#
#   packaging/bootstrap.sh app  [ARGS...]   set up, then launch the app (built-in demo data by default)
#   packaging/bootstrap.sh test [PYTEST ARGS...]   set up, then run the test suite
#
# It creates a virtual environment in .venv (override with STRFVIEWER_VENV), installs the CPU build of torch
# first when no torch is present (so pip never pulls a multi-GB CUDA build as a dependency), installs the
# package in editable mode, and on Debian/Ubuntu as root installs the few system libraries Qt's xcb plugin,
# the tests' virtual X server (xvfb) and PortAudio need when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
case "$mode" in
  app|test) shift ;;
  *) echo "usage: $0 app|test [args...]" >&2; exit 2 ;;
esac

PYTHON="${PYTHON:-python3}"
VENV="${STRFVIEWER_VENV:-.venv}"
TORCH_PIN="${STRFVIEWER_TORCH:-torch==2.13.0}"

system_libs=(libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3 libfontconfig1 libxcb-cursor0
             libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1
             libxcb-randr0 libportaudio2)
[ "$mode" = test ] && system_libs+=(xvfb xauth)

install_system_libs() {
  command -v dpkg-query >/dev/null 2>&1 || return 0
  local missing=()
  for p in "${system_libs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing system libraries: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: these system packages seem missing (install them with your package manager): ${missing[*]}" >&2
  fi
}

install_system_libs

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  echo "bootstrap: installing $TORCH_PIN (CPU build)"
  "$PY" -m pip install -q "$TORCH_PIN"
fi

if [ "$mode" = app ]; then
  "$PY" -m pip install -q -e .
  exec "$VENV/bin/strfviewer" "$@"
else
  "$PY" -m pip install -q -e ".[test]"
  exec "$PY" -m pytest "$@"
fi
