"""strfviewer.data (engine, Qt-free)."""
