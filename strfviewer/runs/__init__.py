"""Run history (SQLite) and sweeps over models, seeds and cells (Qt-free)."""
