"""The app as users start it: first start on the demo with a ridge fit, later starts reopen the last data, and
the real `strfviewer` under Xvfb with a screenshot whose spectrogram and STRF areas are not blank."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from strfviewer.gui.app import parse_args, start_session
from strfviewer.gui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[2]


def _window(qtbot, settings):
    win = MainWindow(settings=settings, install_features=False)
    qtbot.addWidget(win)
    win.show()
    return win


def test_arguments():
    args = parse_args(["demo", "--quit-after", "1500", "--screenshot", "/tmp/x.png"])
    assert (args.path, args.quit_after, args.screenshot) == ("demo", 1500, "/tmp/x.png")
    assert parse_args([]).path is None


def test_quit_after_from_the_environment(monkeypatch):
    monkeypatch.setenv("STRFVIEWER_QUIT_AFTER", "2500")
    assert parse_args([]).quit_after == 2500
    assert parse_args(["--quit-after", "10"]).quit_after == 10


def test_first_start_opens_the_demo_and_fits_a_ridge_model(qtbot, settings):
    win = _window(qtbot, settings)
    start_session(win, None)  # no settings yet
    qtbot.waitUntil(win.is_ready, timeout=60000)
    s = win.session
    assert s.dataset.source == "demo" and s.dataset.n_neurons == 12
    run = s.current_run
    assert run.status == "done" and run.family == "Linear" and run.request.method == "ridge"
    assert run.spec.T == 15
    assert np.nanmean(run.neuron_values("cc_norm", "test")) > 0.5  # the demo's STRFs are recoverable
    assert win.views["gradmap"].displayed.shape == (1, 34, 15)
    assert "12 neurons" in win.dataset_label.text() and "params" in win.model_label.text()
    assert win.settings().value("last/dataset") == "demo"
    win.close()


def test_later_start_reopens_the_last_dataset(qtbot, settings, tmp_path, dataset):
    from strfviewer.data import save_npz

    npz = tmp_path / "data.npz"
    save_npz(dataset, npz)
    settings.setValue("last/dataset", str(npz))
    win = _window(qtbot, settings)
    start_session(win, None)
    qtbot.waitUntil(lambda: win.session.dataset is not None and not win.worker_pool.workers, timeout=30000)
    assert win.session.dataset.n_neurons == dataset.n_neurons and win.session.runs == []
    assert not win.errors
    win.close()


def test_a_vanished_last_dataset_gives_an_error_not_a_crash(qtbot, settings, tmp_path):
    settings.setValue("last/dataset", str(tmp_path / "gone"))
    win = _window(qtbot, settings)
    start_session(win, None)
    qtbot.waitUntil(lambda: bool(win.errors), timeout=30000)
    assert "gone" in win.errors[-1][1] and win.session.dataset is None
    win.close()


def test_quit_after_closes_cleanly_while_work_is_running(tmp_path):
    """--quit-after fires while the demo is still loading/fitting: workers are cancelled and joined, no abort."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STRFVIEWER_SETTINGS=str(tmp_path / "s.ini"))
    env.pop("STRFVIEWER_SCREENSHOT", None)
    proc = subprocess.run([sys.executable, "-m", "strfviewer", "demo", "--quit-after", "300"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for bad in ("Traceback", "Fatal Python error", "Destroyed while thread"):
        assert bad not in proc.stderr, proc.stderr[-3000:]
    assert (tmp_path / "s.ini").is_file()  # settings were written on close


def _area_stats(image: np.ndarray, rect) -> tuple:
    x, y, w, h = rect
    crop = image[y + h // 5: y + h - h // 5, x + w // 5: x + w - w // 5, :3].reshape(-1, 3)
    colours = len(np.unique(crop // 8, axis=0))
    return float(crop.std()), colours


@pytest.mark.slow
def test_real_app_under_xvfb_shows_spectrogram_and_strf(tmp_path):
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (Debian package xvfb)")
    shot = tmp_path / "shot.png"
    env = dict(os.environ, STRFVIEWER_SCREENSHOT=str(shot), STRFVIEWER_SETTINGS=str(tmp_path / "settings.ini"))
    env.pop("QT_QPA_PLATFORM", None)  # a real X server this time
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1400x900x24", sys.executable, "-m", "strfviewer", "demo",
           "--quit-after", "90000"]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "Fatal Python error" not in proc.stderr, proc.stderr[-3000:]
    assert "(ready)" in proc.stderr, proc.stderr[-3000:]
    from PySide6.QtGui import QImage

    image = QImage(str(shot)).convertToFormat(QImage.Format_RGB32)
    assert image.width() > 600 and image.height() > 400
    ptr = image.constBits()
    pixels = np.frombuffer(ptr, dtype=np.uint8, count=image.sizeInBytes()).reshape(
        image.height(), image.bytesPerLine() // 4, 4)[:, : image.width(), [2, 1, 0]]
    rects = json.loads(Path(str(shot) + ".json").read_text())
    for view in ("spectrogram", "gradmap", "psth"):
        std, colours = _area_stats(pixels, rects[view])
        assert std > 10 and colours > 20, f"{view} area looks blank: std {std:.1f}, {colours} colours"
    blank = np.full((40, 40, 3), 240, np.uint8)  # the statistic does flag a blank area
    assert _area_stats(blank, (0, 0, 40, 40))[1] == 1
