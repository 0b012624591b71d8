"""The engine imports with PySide6, pyqtgraph and sounddevice absent (only ``strfviewer.gui`` may use them).

Each check runs a fresh interpreter whose import system refuses those packages, as on a machine where they
are not installed.
"""

import json
import os
import subprocess
import sys
import textwrap

BLOCKED = ("PySide6", "shiboken6", "pyqtgraph", "sounddevice")
ENGINE_PACKAGES = ("strfviewer.models", "strfviewer.io", "strfviewer.data", "strfviewer.fit",
                   "strfviewer.analysis")

# Installed first in the child: a meta-path finder that makes the blocked packages unimportable.
BLOCKER = textwrap.dedent(f"""
    import sys
    BLOCKED = {BLOCKED!r}

    class QtBlocked(ImportError):
        pass

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise QtBlocked(f"{{name}} is hidden for this test (engine must not import it)")
            return None

    sys.meta_path.insert(0, Blocker())
    for _name in list(sys.modules):
        if _name.split(".")[0] in BLOCKED:
            del sys.modules[_name]
""")


def run_child(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, env=env)


def test_blocker_really_hides_qt():
    """Sanity check of the harness itself: the blocked packages cannot be imported in the child."""
    proc = run_child("""
        failed = []
        for name in BLOCKED:
            try:
                __import__(name)
            except ImportError:
                failed.append(name)
        print(sorted(failed))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(sorted(BLOCKED))


def test_engine_packages_import_without_qt():
    proc = run_child(f"""
        import importlib
        for name in {ENGINE_PACKAGES!r} + ("strfviewer.io.checkpoints",):
            importlib.import_module(name)
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        assert not leaked, leaked
        print("ok")
    """)
    assert proc.returncode == 0, f"engine import failed without Qt:\n{proc.stderr[-3000:]}"
    assert proc.stdout.strip().endswith("ok")


def test_no_engine_module_imports_qt_at_module_level():
    """Every module under the engine packages: none may need a blocked package to import.

    Modules failing for another reason (e.g. an optional dependency) are not this test's business; only an
    import of PySide6 / pyqtgraph / sounddevice at module level fails it.
    """
    proc = run_child(f"""
        import importlib, json, pkgutil
        offenders = {{}}
        for pkg_name in {ENGINE_PACKAGES!r}:
            pkg = importlib.import_module(pkg_name)
            for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg_name + "."):
                try:
                    importlib.import_module(info.name)
                except QtBlocked as exc:
                    offenders[info.name] = str(exc)
                except Exception:
                    pass
        print(json.dumps(offenders))
    """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    offenders = json.loads(proc.stdout.strip().splitlines()[-1])
    assert offenders == {}, f"engine modules importing Qt/audio at module level: {offenders}"
