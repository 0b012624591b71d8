"""The main window's plumbing, shared by every feature and view.

- ``workers.py``: background work on ``QThread``s with progress and cancel;
- ``qt_session.py``: the Qt adapter of :class:`strfviewer.session.Session` (one signal per event);
- ``main_thread_gc.py``, ``refcount_guard.py``: the garbage-collection and PySide6 reference-count guards;
- ``file_actions.py``, ``model_io.py``, ``open_model_dialog.py``: File actions (open data / models / demo,
  quick ridge fit, save) and the Qt-free work they run in workers;
- ``layout_settings.py``, ``preferences.py``: settings, recent items, window layout; the Preferences dialog;
- ``feature_packs.py``: installs the feature packs (``gui/fitting``, ``gui/listening``...) into the window.
"""
