"""Resources and packaging: the PyInstaller spec parses and names the entry point; icons and .desktop file."""

import ast
import configparser
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli", reason="tomllib/tomli needed to read pyproject.toml")

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "strfviewer.spec"


def _spec_constants():
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))
    consts = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    consts[target.id] = node.value.value
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return consts, calls


def test_spec_parses_and_names_the_console_entry_point():
    consts, calls = _spec_constants()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert consts["ENTRY_POINT"] == scripts["strfviewer"] == "strfviewer.cli:main"
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= calls  # COLLECT = one-folder build
    assert '"packaging" / "strfviewer_entry.py"' in SPEC.read_text()
    entry = ast.parse((ROOT / "packaging" / "strfviewer_entry.py").read_text())
    main_block = [n for n in entry.body if isinstance(n, ast.If)][0].body
    first_call = main_block[0].value
    assert ast.unparse(first_call) == "multiprocessing.freeze_support()"  # before any argument parsing
    assert any(isinstance(n, ast.ImportFrom) and n.module == "strfviewer.cli" for n in main_block)


def test_icons_exist_in_every_size_and_are_packaged(qapp):
    from PySide6.QtGui import QImage

    from strfviewer.gui.app import ICON_SIZES, app_icon, icon_dir

    for size in ICON_SIZES:
        for folder in (ROOT / "resources" / "icons", icon_dir()):
            image = QImage(str(folder / f"strfviewer-{size}.png"))
            assert not image.isNull() and (image.width(), image.height()) == (size, size)
    assert (icon_dir() / "strfviewer.svg").read_bytes() == (ROOT / "resources" / "strfviewer.svg").read_bytes()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "gui/icons/*.png" in package_data["strfviewer"]
    assert not app_icon().isNull()


def test_svg_renders_to_the_packaged_pngs(qapp, tmp_path):
    """The PNGs are what make_icons.py renders from the SVG (nobody edited one by hand)."""
    import importlib.util

    from PySide6.QtGui import QImage

    spec = importlib.util.spec_from_file_location("make_icons", ROOT / "resources" / "make_icons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "icon-48.png"
    module.render(module.SVG, 48, out)
    assert QImage(str(out)) == QImage(str(ROOT / "resources" / "icons" / "strfviewer-48.png"))


def test_desktop_file_matches_the_application_name():
    from strfviewer.gui.app import APP_NAME

    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(ROOT / "resources" / "strfviewer.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["StartupWMClass"] == APP_NAME == entry["Icon"]
    assert entry["Type"] == "Application" and entry["Exec"].split()[0] == "strfviewer"


@pytest.mark.parametrize("path", ["resources/strfviewer.desktop", "resources/make_icons.py", "packaging/BUILDING.md"])
def test_packaging_files_exist(path):
    assert (ROOT / path).is_file()


def test_headless_outputs_at_the_root_are_ignored_but_fixtures_are_not():
    import shutil
    import subprocess

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    outputs = ["fits/lin/config.json", "lin_gradmaps.npz", "dreams.npz", "fig.pdf", "fig.png", "fig.svg",
               "metrics.csv", "gradmap.wav"]
    kept = ["tests/fixtures/deepstrf/linear/io.npz", "docs/screenshot.png", "resources/strfviewer.svg",
            "docs/examples/sweep.toml"]
    proc = subprocess.run(["git", "check-ignore", "--no-index", *outputs, *kept], cwd=ROOT, capture_output=True,
                          text=True)
    assert sorted(proc.stdout.split()) == sorted(outputs)


def test_desktop_file_and_building_md_agree_on_exec(tmp_path):
    """The .desktop file says where to read how Exec= is set; BUILDING.md's command does set it."""
    import re
    import shutil
    import subprocess

    desktop = (ROOT / "resources" / "strfviewer.desktop").read_text(encoding="utf-8")
    building = (ROOT / "packaging" / "BUILDING.md").read_text(encoding="utf-8")
    assert "packaging/BUILDING.md" in desktop and "rewritten" not in desktop and "replace Exec" not in desktop
    assert "MimeType=inode/directory" not in desktop  # not the handler of every folder
    if shutil.which("sed") is None or shutil.which("bash") is None:
        pytest.skip("needs sed and bash")
    section = building.split("## Desktop integration", 1)[1]
    command = [b for b in re.findall(r"```bash\n(.*?)```", section, re.S) if "sed" in b][0]
    command = command.replace("~/.local/share/applications", str(tmp_path)).replace("$PWD", "/opt/x")
    subprocess.run(["bash", "-euc", command], cwd=ROOT, check=True, timeout=30)
    installed = (tmp_path / "strfviewer.desktop").read_text(encoding="utf-8")
    assert "\nExec=/opt/x/dist/strfviewer/strfviewer %f\n" in installed
    assert "\nTryExec=/opt/x/dist/strfviewer/strfviewer\n" in installed
