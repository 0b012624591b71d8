"""Listening: play stimuli with a moving play-head and hear the model (waveform or sonified gradmaps).

- ``feature.py``: the feature pack (the "Listening" dock, Preferences > output device), installed by
  :func:`install`;
- ``audio.py``: the audio player over ``sounddevice`` (device choice, play-head, safe levels, no-device mode).
"""

#: feature packs are installed by increasing order (see strfviewer.gui.window.feature_packs)
INSTALL_ORDER = 20


def install(window, player=None):
    """Install the listening feature into ``window`` (kept as ``window.listening``)."""
    from strfviewer.gui.listening.feature import install as _install

    return _install(window, player)
