"""Headless sub-commands of the `strfviewer` CLI, one module each (add_parser + run)."""
