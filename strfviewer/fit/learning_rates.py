"""Default AdamW learning rates per model family and StateNet core (``FitRequest.lr=None``), and why.

Torch-free, so the command line's help can name them without importing the engine. Measured on the demo
population and the STRFlab cell (docs/models.md, "Training defaults"; docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Dict, List

DEFAULT_LR = 1e-3
#: AdamW learning rate when the request leaves it to the family (``lr=None``); every other family: DEFAULT_LR.
#: Transformer, 40 epochs at 2e-3 vs 1e-3: test cc_norm 0.392 vs 0.313 (STRFlab cell), 0.785 vs 0.742 (demo),
#: validation 0.312 vs 0.288 and 0.783 vs 0.752; 5e-4 was worse on both. ConvNet2D (Poisson), 40 epochs, seeds
#: 0/1/2, 2e-3 vs 1e-3: mean test 0.979 vs 0.971 (demo), 0.836 vs 0.820 (STRFlab cell), validation higher on both;
#: 3e-3 was no better on test and MSE diverged there (docs/models.md, "Training defaults")
#: DNet (hidden-unit start with its readout fitted to the responses, fit/hidden_start.py), 40 epochs, lr 1e-3 vs 2e-3:
#: STRFlab cell seeds 0-5 0.608 / 0.614 / 0.627 / 0.637 / 0.612 / 0.626 vs 0.635 / 0.616 / 0.601 / 0.638 / 0.603 / 0.655,
#: demo seeds 0-2 0.884 / 0.884 / 0.872 vs 0.892 / 0.890 / 0.879, reaching deepSTRF's final sooner on both
FAMILY_LR = {"Transformer": 2e-3, "ConvNet2D": 2e-3, "DNet": 2e-3}
#: StateNet cores' own rates. Mamba: whole stimuli at 2e-3 (see fit.chunks.UNCHUNKED_CORES). S4 (deepSTRF's DPLR layer;
#: chunks kept: whole stimuli took 3-5x longer), lr 1e-3 / 2e-3 / 3e-3: STRFlab 0.631 / 0.667 / 0.676 (validation 0.472
#: / - / 0.504), demo 0.844 / 0.896 / 0.917. LSTM, lr 1e-3 / 2e-3 / 3e-3: STRFlab 0.815 / 0.830 / 0.850 (validation
#: 0.697 / 0.722 / 0.751), demo 0.907 / 0.926 / 0.929 (validation 0.917 / 0.927 / 0.929). docs/models.md, "Training
#: defaults". GRU, lr 1e-3 / 3e-3, seeds 0 / 1 / 2: STRFlab 0.832 / 0.801 / 0.837 vs 0.877 / 0.820 / 0.890, demo 0.924 /
#: 0.929 / 0.924 vs 0.962 / 0.953 / 0.949 (2e-3: 0.858 and 0.957 on seed 0). RNN (an Elman RNN), seeds 0-11, mean test cc_norm
#: minus deepSTRF's and median time to its final at lr 1e-3 / 2e-3 / 3e-3: demo +0.015 / +0.025 / +0.025, 0.56x (seeds
#: 0-5) and 0.62x (6-11) / 0.38x and 0.35x / 0.38x and 0.31x; STRFlab cell +0.080 / +0.092 / +0.092, 0.38x and 0.33x /
#: 0.26x and 0.16x / 0.24x and 0.15x, runs below deepSTRF 6 / 1 / 3 of 24 (a single seed had looked mixed). LMU (whole stimuli, fit.chunks.UNCHUNKED_CORES), lr 1e-3 / 3e-3, seeds 0 / 1 /
#: 2: STRFlab 0.738 / 0.788 / 0.757 vs 0.783 / 0.768 / 0.807, demo 0.862 / 0.878 / 0.883 vs 0.892 / 0.894 / 0.893 (2e-3,
#: seed 1: 0.759 and 0.880).
#: LSTM then at 5e-3 with half the steps per epoch (fit.run.CORE_STEPS_PER_EPOCH): faster to deepSTRF's final on the
#: demo, the same on the STRFlab cell.
CORE_LR = {"GRU": 3e-3, "LMU": 3e-3, "Mamba": 2e-3, "S4": 3e-3, "LSTM": 5e-3, "RNN": 2e-3}
#: Linear (full kernel, MSE) after its exact ridge start: SGD only fine-tunes the closed-form solution, and Adam's
#: first steps at 1e-3 move every weight by about 1e-3 (the demo's test cc_norm 0.903 -> 0.83-0.85 after one epoch).
#: Seeds 0-11, mean test cc_norm minus deepSTRF's at 1e-3 / 3e-4 / 1e-4: demo -0.001 / +0.002 / +0.002, STRFlab
#: cell +0.009 / +0.005 / +0.000 (docs/models.md, "Training defaults")
RIDGE_START_LR = 3e-4


def default_learning_rates() -> str:
    """One line naming the learning rate ``lr=None`` gives each family and StateNet core (for help texts)."""
    by_rate: Dict[float, List[str]] = {}
    for family, rate in FAMILY_LR.items():
        by_rate.setdefault(rate, []).append(family)
    for core, rate in CORE_LR.items():
        by_rate.setdefault(rate, []).append(f"StateNet {core}")
    parts = [f"{rate:g} for {', '.join(names)}" for rate, names in sorted(by_rate.items())]
    return "; ".join([f"{RIDGE_START_LR:g} for Linear after its exact ridge start (full kernel, MSE)"] + parts
                     + [f"{DEFAULT_LR:g} otherwise"])
