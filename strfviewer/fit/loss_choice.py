"""Which loss ``loss="auto"`` means for a family, and why. Torch-free, so help texts can state it.

The model-dependent part (is the model recurrent, does its readout end in a non-negative softplus) is decided in
:func:`strfviewer.fit.run.effective_loss`; this module holds the choices and the family list it reads.
"""

from __future__ import annotations

LOSS_CHOICES = ("auto", "mse", "poisson")
#: non-recurrent families that ``loss="auto"`` fits with the Poisson loss (and so the output calibration) when
#: their readout ends in a non-negative softplus: ConvNet2D, 20 epochs, val cc_norm 0.665 vs 0.658 (STRFlab) and
#: 0.949 vs 0.938 (demo) with a much faster start (0.26 vs 0.01 after one epoch on the STRFlab cell); NRF was
#: mixed (0.664 vs 0.666, 0.893 vs 0.900) and keeps MSE (docs/models.md, "Training defaults")
POISSON_FAMILIES = ("ConvNet2D",)


def default_loss_text() -> str:
    """What ``loss="auto"`` does, for help texts."""
    families = ", ".join(POISSON_FAMILIES)
    return (f"Poisson for recurrent models (StateNet) and {families} with a softplus output, MSE otherwise and "
            f"always MSE for continuous responses (mV)")
