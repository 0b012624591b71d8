"""Run history and sweeps: every app fit recorded in the persistent history, reopened, compared; sweeps.

- ``feature.py``: the feature pack (the recorder, Fit > New sweep..., history location), installed by
  :func:`install`;
- ``history_panel.py``: the "Run history" dock;
- ``sweep_dialog.py``: Fit > New sweep... (models x seeds x cells);
- ``sweep_panel.py``: the "Sweep" dock (progress, two-level Cancel).
"""

#: feature packs are installed by increasing order (see strfviewer.gui.window.feature_packs)
INSTALL_ORDER = 50


def install(window):
    """Install the run history feature into ``window`` (kept as ``window.run_history``)."""
    from strfviewer.gui.history.feature import install as _install

    return _install(window)
