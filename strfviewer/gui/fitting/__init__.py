"""Fitting: everything the app's model fitting is made of.

- ``feature.py``: the feature pack (Fit menu, shortcuts, the Training / Runs / Model docks), installed by
  :func:`install`;
- ``fit_dialog.py``: Fit > New fit... (model family, kernel, prefilter, options, data split, device);
- ``fit_queue.py``: the queue of fits and the one long-lived child process that runs them;
- ``training_panel.py``: live train / validation curves, progress, Cancel;
- ``runs_table.py``: the runs of the open dataset (compare, save, reopen, delete with undo);
- ``model_panel.py``: the current model's architecture and one-click kernel / prefilter swaps.
"""

#: feature packs are installed by increasing order (see strfviewer.gui.window.feature_packs)
INSTALL_ORDER = 10


def install(window):
    """Install the fitting feature into ``window`` (kept as ``window.fitting``)."""
    from strfviewer.gui.fitting.feature import install as _install

    return _install(window)
