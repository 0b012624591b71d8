"""Exporting: figures, views, metrics, predictions, gradmaps and sounds written to files.

- ``feature.py``: the feature pack (File > Export..., "Export view..." on every plot), installed by
  :func:`install`;
- ``export_dialog.py``: the dialog choosing what to export and in which format;
- ``figures.py``: the one-neuron figure and view renderings (PNG / SVG / PDF); the CLI's ``export`` uses it too.
"""

#: feature packs are installed by increasing order (see strfviewer.gui.window.feature_packs)
INSTALL_ORDER = 30


def install(window):
    """Install the exporting feature into ``window`` (kept as ``window.exporting``)."""
    from strfviewer.gui.exporting.feature import install as _install

    return _install(window)
