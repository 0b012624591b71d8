"""strfviewer.fit (engine, Qt-free)."""
