"""The model zoo (Qt-free): base classes, layers, kernels, prefilters, activations, readouts, scales,
waveform front-ends and the model families, all registered in :mod:`strfviewer.models.registry`.

Importing this package registers every built-in class: every module of this package is imported (the modules
named below first, in that order, then any other), so a new kernel, prefilter, activation, readout or front-end
written in one new file here registers itself with no other file edited. The names most callers need are
re-exported.
"""

from strfviewer.models import registry  # noqa: F401  (first: everything below registers into it)
from strfviewer.models import capture, scales, layers, kernels, activations, readouts, prefilters  # noqa: F401
from strfviewer.models import frontends, wav2spec, base, linear, networks, convnet, transformer, ssm, statenet  # noqa: F401
from strfviewer.models.base import AudioEncodingModel, NeuralModel
from strfviewer.models.kernels import CausalSTRFConv, FullSTRF, ParametricSTRF, SeparableSTRF
from strfviewer.models.convnet import ConvNet2D
from strfviewer.models.frontends import GaborFilterbank
from strfviewer.models.wav2spec import CausalGammatone, CausalLEAF, CausalMelSpectrogram, Gammatonegram, SincNet
from strfviewer.models.linear import Linear, LinearNonlinear
from strfviewer.models.networks import DNet, NetworkReceptiveField
from strfviewer.models.statenet import StateNet
from strfviewer.models.transformer import Transformer
from strfviewer.models.prefilters import AdapTrans, ICAdaptation, make_prefiltering


def _import_every_module() -> None:
    """Import the package's other modules (a new file registers its classes on import)."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_import_every_module()

__all__ = [
    "AudioEncodingModel", "NeuralModel", "CausalSTRFConv", "FullSTRF", "ParametricSTRF", "SeparableSTRF",
    "Linear", "LinearNonlinear", "NetworkReceptiveField", "DNet", "ConvNet2D", "Transformer", "StateNet",
    "AdapTrans", "ICAdaptation", "make_prefiltering", "GaborFilterbank", "CausalMelSpectrogram",
    "CausalGammatone", "Gammatonegram", "CausalLEAF", "SincNet",
]
