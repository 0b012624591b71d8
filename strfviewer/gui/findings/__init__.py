"""Findings: what the fitted models say about the neurons (tuning, runs compared).

- ``compare_figure.py``: the "Compare runs" figure (scatter of run A vs run B cc_norm per neuron, histogram of
  the differences, statistics), shared by ``strfviewer compare --figure`` and the app.
"""
