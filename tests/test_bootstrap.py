"""packaging/bootstrap.sh with stand-ins for the venv's Python, dpkg-query, apt-get and id: it installs the
package only when pyproject.toml changed, and it waits (bounded) for a held dpkg lock, then carries on without
the optional system packages."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "packaging" / "bootstrap.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("sha256sum") is None,
                                reason="needs bash and sha256sum (coreutils)")


def _stub(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


@pytest.fixture
def sandbox(tmp_path):
    """A fake venv (its python and strfviewer log their arguments) and a bin folder of stand-ins."""
    log = tmp_path / "log"
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    _stub(venv / "python", f'echo "python $*" >> {log}')
    _stub(venv / "strfviewer", f'echo "strfviewer $*" >> {log}')
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    _stub(stubs / "dpkg-query", "printf 'install ok installed'")
    _stub(stubs / "id", 'if [ "$1" = -u ]; then echo 0; else exec /usr/bin/id "$@"; fi')
    _stub(stubs / "apt-get", f'echo "apt-get $*" >> {log}')
    env = dict(os.environ, STRFVIEWER_VENV=str(tmp_path / "venv"), PYTHON=sys.executable,
               PATH=f"{stubs}:{os.environ.get('PATH', '/usr/bin:/bin')}",
               STRFVIEWER_DPKG_LOCKS=str(tmp_path / "dpkg-lock"), STRFVIEWER_APT_WAIT="2")

    def run(*args):
        proc = subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        lines = log.read_text().splitlines() if log.exists() else []
        log.unlink(missing_ok=True)
        return lines, proc.stderr

    return run, tmp_path, stubs


def test_installs_the_package_only_when_pyproject_changed(sandbox):
    run, tmp_path, _ = sandbox
    lines, _ = run("test", "-q")
    assert lines == ["python -c import torch", "python -m pip install -q -e .[test]", "python -m pytest -q"]
    lines, _ = run("test", "-q")
    assert lines == ["python -c import torch", "python -m pytest -q"]  # nothing changed: no pip
    lines, _ = run("app", "demo")
    assert "python -m pip install -q -e ." in lines and lines[-1] == "strfviewer demo"  # other extras
    assert run("app", "demo")[0] == ["python -c import torch", "strfviewer demo"]
    stamp = tmp_path / "venv" / ".strfviewer-installed-app"
    stamp.write_text("an older pyproject.toml .\n")
    assert "python -m pip install -q -e ." in run("app")[0]


def test_a_held_dpkg_lock_is_waited_for_then_skipped(sandbox):
    run, tmp_path, stubs = sandbox
    _stub(stubs / "dpkg-query", "exit 1")  # every system package missing
    lock = tmp_path / "dpkg-lock"
    with open(lock, "a") as held:
        fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another package manager at work
        lines, err = run("test", "-q")
    assert not any(line.startswith("apt-get") for line in lines)
    assert "still held after 2 s; continuing without these optional system packages: libegl1" in err
    assert lines[-1] == "python -m pytest -q"  # the set-up went on
    lines, _ = run("test", "-q")  # lock free: installed, xvfb included for the real-window test
    installs = [line for line in lines if line.startswith("apt-get") and " install " in line]
    assert len(installs) == 1 and "xvfb" in installs[0] and "libegl1" in installs[0]


def test_a_failing_apt_get_does_not_stop_the_set_up(sandbox):
    run, _, stubs = sandbox
    _stub(stubs / "dpkg-query", "exit 1")
    _stub(stubs / "apt-get", "exit 100")
    lines, err = run("app")
    assert "apt-get failed; continuing without these optional system packages" in err
    assert lines[-1] == "strfviewer "
