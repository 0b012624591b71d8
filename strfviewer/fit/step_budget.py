"""How many optimisation steps an epoch aims for when the batch size is automatic (``batch_size=None``), and why.

Torch-free, so the command line's help and the fit dialog's tooltip can state the budget without importing the
engine (and say what the code does, not what it did when the text was written).
"""

from __future__ import annotations

from typing import Dict, Optional

#: optimisation steps per epoch the automatic batch size aims for: stimuli (or chunks) per step =
#: ceil(items / STEPS_PER_EPOCH). On the demo and the STRFlab cell (14 training stimuli: batch 1) every family
#: reached a better test cc_norm in 40 epochs than at batch 4 (NRF 0.931 vs 0.893 on the demo, DNet 0.831 vs
#: 0.732), and recurrent models' ~110 chunks of the STRFlab cell get batch 4, the batch measured best for StateNet
#: (docs/models.md, "Training defaults").
STEPS_PER_EPOCH = 32
#: StateNet cores whose automatic batch aims at fewer, larger steps (with their own rate, fit/learning_rates.py).
#: LSTM, 16 steps at lr 5e-3 (batch 6 on the demo, 7 on the STRFlab cell) vs 32 at 3e-3 (batch 3 / 4), 20 epochs,
#: seeds 0 / 1 / 2: demo 0.946 / 0.947 / 0.935 vs 0.939 / 0.935 / 0.929, reaching deepSTRF's final in 0.96 / 0.84 /
#: 1.06 s vs 1.24 / 0.92 / 1.31 s; STRFlab 0.831 / 0.819 / 0.854 vs 0.860 / 0.818 / 0.840 in about the same time
CORE_STEPS_PER_EPOCH: Dict[str, int] = {"LSTM": 16}


def steps_per_epoch(statenet_core: Optional[str] = None) -> int:
    """The steps per epoch the automatic batch aims for: a StateNet core's own (:data:`CORE_STEPS_PER_EPOCH`) or
    :data:`STEPS_PER_EPOCH` (``statenet_core`` ``None`` for every other family)."""
    return int(CORE_STEPS_PER_EPOCH.get(statenet_core, STEPS_PER_EPOCH)) if statenet_core else STEPS_PER_EPOCH


def auto_batch_size(n_items: int, steps: int = STEPS_PER_EPOCH) -> int:
    """Stimuli (or chunks) per step so that an epoch over ``n_items`` has about ``steps`` steps (at least 1)."""
    return max(1, -(-int(n_items) // max(int(steps), 1)))


def default_step_budget() -> str:
    """What the automatic batch does, for help texts: ``"about 32 steps per epoch (StateNet LSTM: 16)"``."""
    own = ", ".join(f"StateNet {core}: {steps}" for core, steps in sorted(CORE_STEPS_PER_EPOCH.items()))
    return f"about {STEPS_PER_EPOCH} steps per epoch" + (f" ({own})" if own else "")
