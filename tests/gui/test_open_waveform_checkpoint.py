"""File > Open model on a deepSTRF waveform checkpoint (a CausalMel front-end; deepSTRF records no sample rate):
the sample rate from the Open model dialog's field, or asked for alone when the loader says it is missing; bad
values are one-line error dialogs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from strfviewer.gui.window.open_model_dialog import OpenModelDialog  # noqa: E402

from .conftest import make_dataset  # noqa: E402

CHECKPOINT = Path(__file__).resolve().parents[1] / "fixtures" / "deepstrf" / "wav2spec" / "mel"
RATE = 16000


@pytest.fixture
def dataset():
    """3 neurons (the checkpoint's) with audio at 16 kHz, 5 ms bins."""
    ds = make_dataset(n_neurons=3)
    for k, stim in enumerate(ds.stimuli):
        t = np.arange(stim.n_frames * 80) / RATE
        stim.waveform = (0.2 * np.sin(2 * np.pi * (300 + 150 * k) * t)).astype(np.float32)
        stim.sample_rate = RATE
    return ds


def _opened(window, qtbot, before):
    qtbot.waitUntil(lambda: len(window.session.runs) > before, timeout=20000)
    run = window.session.runs[-1]
    qtbot.waitUntil(lambda: run.get_predictions() is not None, timeout=20000)
    return run


def test_the_dialog_field_gives_the_sample_rate(window, qtbot):
    dialog = OpenModelDialog(window)
    qtbot.addWidget(dialog)
    dialog.edit.setText(str(CHECKPOINT))
    dialog.rate_edit.setText("16000")
    before = len(window.session.runs)
    assert window.open_model_from_dialog(dialog) is not None
    run = _opened(window, qtbot, before)
    model = run.model
    assert model.is_wav_native and int(model.wav2spec.sample_rate) == RATE and model.F == 16
    assert window.session.current_run is run and window.errors == []
    preds = run.get_predictions()
    stim = window.session.dataset.stimuli[0]
    assert preds[stim.name].shape == (3, stim.n_frames) and np.all(np.isfinite(preds[stim.name]))
    assert getattr(window, "sample_rate_prompt", None) is None, "nothing else was asked"


def test_a_missing_sample_rate_is_asked_for_alone(window, qtbot):
    before = len(window.session.runs)
    window.open_model(str(CHECKPOINT))
    qtbot.waitUntil(lambda: getattr(window, "sample_rate_prompt", None) is not None, timeout=20000)
    prompt = window.sample_rate_prompt
    assert prompt.isVisible() and window.errors == [], "asked, not refused"
    assert "sample rate" in prompt.labelText().lower() and prompt.intValue() == RATE
    prompt.setIntValue(RATE)
    prompt.accept()
    run = _opened(window, qtbot, before)
    assert run.model.is_wav_native and int(run.model.wav2spec.sample_rate) == RATE


@pytest.mark.parametrize("text, expected", [("abc", "sample rate 'abc'"), ("44.1", "sample rate '44.1'"),
                                            ("1000", "audio_fs=1000")])
def test_bad_sample_rates_are_one_line_errors(window, qtbot, text, expected):
    dialog = OpenModelDialog(window)
    qtbot.addWidget(dialog)
    dialog.edit.setText(str(CHECKPOINT))
    dialog.rate_edit.setText(text)
    before = len(window.session.runs)
    window.open_model_from_dialog(dialog)
    qtbot.waitUntil(lambda: len(window.errors) > 0, timeout=20000)
    title, message = window.errors[-1]
    assert expected in message and "\n" not in message, message
    assert len(window.session.runs) == before
