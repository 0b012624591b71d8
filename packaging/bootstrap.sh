#!/usr/bin/env bash
# One-command set-up for strfviewer on a fresh Linux machine.
#
#   packaging/bootstrap.sh app  [ARGS...]   set up, then launch the app (built-in demo data by default)
#   packaging/bootstrap.sh test [PYTEST ARGS...]   set up, then run the test suite
#
# It creates a virtual environment in .venv (override with STRFVIEWER_VENV), installs the CPU build of torch
# first when no torch is present (so pip never pulls a multi-GB CUDA build as a dependency), installs the
# package in editable mode (only when pyproject.toml changed since the last install: a stamp of its hash is
# kept in the venv), and on Debian/Ubuntu as root installs the few system libraries Qt's xcb plugin and
# PortAudio need when they are missing.
#
# Those system packages are optional: the tests run offscreen and the app starts offscreen without them. When
# another apt/dpkg process holds the package lock, the script waits for it (STRFVIEWER_APT_WAIT seconds,
# default 120) and then carries on without them, saying which ones are missing.
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
APT_WAIT="${STRFVIEWER_APT_WAIT:-120}"
DPKG_LOCKS="${STRFVIEWER_DPKG_LOCKS:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock}"

system_libs=(libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3 libfontconfig1 libxcb-cursor0
             libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1
             libxcb-randr0 libportaudio2)
# Most tests run offscreen (QT_QPA_PLATFORM=offscreen), but one renders the real window on an X server and
# checks its pixels (tests/gui/test_app.py::test_real_app_under_xvfb_shows_spectrogram_and_strf, through
# xvfb-run): xvfb and xauth are for that test only; it is skipped when they are absent.
[ "$mode" = test ] && system_libs+=(xvfb xauth)

dpkg_locked() {
  # 0 when another process holds one of dpkg's/apt's locks (dpkg uses fcntl locks; Python's lockf takes one)
  "$PYTHON" - "$DPKG_LOCKS" <<'PY'
import fcntl, sys
for path in sys.argv[1].split():
    try:
        with open(path, "a") as f:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        continue
    except OSError:
        sys.exit(0)
sys.exit(1)
PY
}

wait_for_dpkg_lock() {
  local waited=0
  while dpkg_locked; do
    if [ "$waited" -ge "$APT_WAIT" ]; then
      return 1
    fi
    [ "$waited" -eq 0 ] && echo "bootstrap: another package manager holds the dpkg lock; waiting up to ${APT_WAIT} s"
    sleep 2
    waited=$((waited + 2))
  done
  return 0
}

install_system_libs() {
  command -v dpkg-query >/dev/null 2>&1 || return 0
  local missing=()
  for p in "${system_libs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    if ! wait_for_dpkg_lock; then
      echo "bootstrap: the dpkg lock was still held after ${APT_WAIT} s; continuing without these optional" \
           "system packages: ${missing[*]}" >&2
      return 0
    fi
    echo "bootstrap: installing system libraries: ${missing[*]}"
    if ! { apt-get -o DPkg::Lock::Timeout=30 update -qq &&
           DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=30 install -y -qq \
             --no-install-recommends "${missing[@]}" >/dev/null; }; then
      echo "bootstrap: apt-get failed; continuing without these optional system packages: ${missing[*]}" >&2
    fi
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

install_package() {
  # pip install -e (editable: later code changes need no reinstall) unless the venv's stamp says this
  # pyproject.toml, with these extras, is already installed
  local target="$1" stamp="$VENV/.strfviewer-installed-$mode" want
  want="$(sha256sum pyproject.toml | cut -d' ' -f1) $target"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/strfviewer" ]; then
    return 0
  fi
  echo "bootstrap: pip install -e $target"
  "$PY" -m pip install -q -e "$target"
  echo "$want" > "$stamp"
}

if [ "$mode" = app ]; then
  install_package .
  exec "$VENV/bin/strfviewer" "$@"
else
  install_package ".[test]"
  exec "$PY" -m pytest "$@"
fi
