"""The model zoo (Qt-free): base classes, layers, kernels, prefilters, activations, readouts, scales,
waveform front-ends and the model families, all registered in :mod:`strfviewer.models.registry`."""

from strfviewer.models import registry  # noqa: F401
