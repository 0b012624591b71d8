"""QA: the Dream dock says when the dream did something on its own (e.g. an AdapTrans model's response is flat
at silence, so the dream starts from tiny noise): the result's notes show in the dock and the status bar."""

import pytest

pytest.importorskip("pytestqt")

from strfviewer.gui.dreaming import feature as dreaming  # noqa: E402


def test_dream_notes_are_shown(qtbot, window):
    feature = dreaming.install(window)
    p = feature.panel
    p.steps_spin.setValue(5)
    window.actions["dream"].trigger()
    qtbot.waitUntil(lambda: feature.result is not None and not feature.running, timeout=30000)
    assert "note:" not in p.state.text()
    result = feature.result
    result.notes = ["the response is flat at silence for 1 of 1 dream(s): started them from noise of std 0.01 "
                    "instead"]
    feature._finished(result)  # what the worker's finished signal calls
    assert "note: the response is flat at silence" in p.state.text()
    assert p.state.toolTip() == p.state.text()
    assert "note: the response is flat" in window.statusBar().currentMessage()
    assert p.minimumSizeHint().width() < 1000  # the long note does not widen the dock
