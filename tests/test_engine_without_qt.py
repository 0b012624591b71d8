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


# Layers, lowest first. An engine package may import its own layer and the layers below it, never the CLI
# (``strfviewer.cli``, ``strfviewer.commands``) nor the app (``strfviewer.gui``).
UPPER_LAYERS = ("strfviewer.cli", "strfviewer.commands", "strfviewer.gui")
ENGINE_SOURCES = ENGINE_PACKAGES + ("strfviewer.runs", "strfviewer.session")


def _imported_modules(path):
    """Every module name an ``import`` or ``from ... import`` statement of the file names, at any depth
    (lazy imports inside functions included)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_engine_imports_nothing_from_the_cli_or_the_app():
    """No module of the engine (``models``, ``data``, ``fit``, ``analysis``, ``io``, ``runs``, ``session``)
    imports ``strfviewer.cli``, ``strfviewer.commands`` or ``strfviewer.gui``, even lazily in a function."""
    import importlib.util
    from pathlib import Path

    offenders = {}
    for name in ENGINE_SOURCES:
        spec = importlib.util.find_spec(name)
        root = Path(spec.origin)
        files = [root] if root.name != "__init__.py" else sorted(root.parent.rglob("*.py"))
        for f in files:
            bad = sorted(m for m in _imported_modules(f)
                         if any(m == up or m.startswith(up + ".") for up in UPPER_LAYERS))
            if bad:
                offenders[str(f.relative_to(root.parents[1] if root.name == "__init__.py" else root.parent))] = bad
    assert offenders == {}, f"engine modules importing the CLI or the app: {offenders}"


def test_the_layer_rule_catches_an_upward_import(tmp_path):
    """The checker itself: a lazy ``from strfviewer.commands.fit import x`` inside a function is found."""
    f = tmp_path / "m.py"
    f.write_text("def g():\n    from strfviewer.commands.fit import metrics_json\n    return metrics_json\n")
    assert "strfviewer.commands.fit" in _imported_modules(f)
