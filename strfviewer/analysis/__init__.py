"""strfviewer.analysis (engine, Qt-free)."""
