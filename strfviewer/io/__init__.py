"""strfviewer.io (engine, Qt-free)."""
