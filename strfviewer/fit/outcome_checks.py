"""Warnings about a finished fit that is usable but not what it looks like: it ended below its own start.

A fit scores its starting weights on the validation stimuli first (``FitHistory.initial``). Two endings are
worth a warning rather than a plain "done" (a NaN or empty result is a failure, decided elsewhere):

* the weights the fit returns score below the starting weights on validation (by more than
  :data:`TOLERANCE`): the fit made the model worse;
* no epoch beat a cold start (random or calibrated weights, not a ridge warm start) and the last epoch ended
  below it: the model did not learn, and what is kept is the untrained start.

A warm start that no epoch beats is not warned about: the closed-form ridge solution is often the best a
linear stage gets, and keeping it is the intended outcome.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List

#: validation cc_norm differences below this are noise, not a worse fit
TOLERANCE = 0.005


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def fit_warnings(history, metrics: Dict[str, Any], warm_started: bool = False) -> List[str]:
    """One-line reasons (empty when none) from the fit's ``history`` (:class:`FitHistory`) and the returned
    weights' ``metrics`` (``{part: NeuronMetrics}``); ``warm_started``: the start was a closed-form warm start."""
    initial = getattr(history, "initial", None)
    start = getattr(initial, "val_cc_norm", None)
    if not _finite(start):
        return []
    val = metrics.get("val")
    final = getattr(val, "mean_cc_norm", None)
    if _finite(final) and final < start - TOLERANCE:
        return [f"the fit ended below its starting score: validation cc_norm {final:.3f} against {start:.3f} for "
                f"the starting weights"]
    epochs = list(getattr(history, "epochs", []) or [])
    last = epochs[-1].val_cc_norm if epochs else None
    if epochs and history.best_epoch == 0 and not warm_started and _finite(last) and last < start - TOLERANCE:
        return [f"no epoch beat the untrained starting weights (validation cc_norm {start:.3f}); training ended at "
                f"{last:.3f} and the starting weights were kept: the model did not learn (try a lower learning "
                f"rate or another seed)"]
    return []
