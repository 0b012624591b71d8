"""strfviewer.analysis (engine, Qt-free): what a fitted model says about its neurons.

- :mod:`~strfviewer.analysis.gradmaps`: ``strf_gradmap`` (effective STRFs ``(N, C, F, T)`` at the null
  stimulus, per-channel at a prefilter's output, choice of readout), ``population_gradmap``,
  ``waveform_gradmap`` (wav-native models), ``default_gradmap_T``.
- :mod:`~strfviewer.analysis.dreams`: ``dream`` (stimuli synthesised by gradient ascent, batched over
  neurons, with constraints, progress and cancel) and ``stimulus_range``.
- :mod:`~strfviewer.analysis.model_axes`: ``ModelAxes`` (Hz, ms and neuron names from checkpoint metadata).
- :mod:`~strfviewer.analysis.tuning`: ``tuning`` / ``tuning_batch`` (best frequency, bandwidth, latencies,
  E/I balance, separability, best modulations of STRFs or gradmaps), ``modulation_transfer`` (MTF),
  ``tuning_intervals`` (confidence intervals from resampled maps); definitions in docs/analysis.md.
- :mod:`~strfviewer.analysis.significance`: ``ridge_jackknife`` (closed-form leave-one-stimulus-out ridge
  STRFs), ``gradmap_jackknife`` (any model, refit per fold), ``Jackknife`` (standard errors, z, mask),
  ``ridge_bootstrap`` / ``pixel_bootstrap`` (resampled maps for ``tuning_intervals``).
- :mod:`~strfviewer.analysis.dstrf`: ``dstrf`` (a neuron's gradmap at every frame of a real stimulus) and
  its principal components across time.
- :mod:`~strfviewer.analysis.compare`: ``compare_runs`` (paired comparison of two runs' cc_norm: bootstrap CI,
  Wilcoxon signed-rank p, per-neuron split-half noise test).
- :mod:`~strfviewer.analysis.sonify`: spectrograms made audible through the data's front-end.
- :mod:`~strfviewer.analysis.filterbank`: ``learned_filterbank`` (a waveform model's bands: centre frequency,
  bandwidth, frequency response; for learnable front-ends how far training moved them from initialisation).

Submodules are imported on use (``from strfviewer.analysis.gradmaps import strf_gradmap``).
"""
