"""Dreaming: Tools > Dream on selected neuron(s), the stimulus that drives a neuron most.

- ``feature.py``: the feature pack (the action, the worker, sonified dreams), installed by :func:`install`;
- ``dream_panel.py``: the "Dream" dock (the dream as it forms, response per step, save).
"""

#: feature packs are installed by increasing order (see strfviewer.gui.window.feature_packs)
INSTALL_ORDER = 40


def install(window):
    """Install the dreaming feature into ``window`` (kept as ``window.dreaming``)."""
    from strfviewer.gui.dreaming.feature import install as _install

    return _install(window)
