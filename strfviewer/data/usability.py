"""Is there anything to fit in a dataset? Non-finite spectrograms, silent stimuli and neurons without a usable
response are found here, before any fit, so that none ends "done" with NaN metrics.

* :func:`check_finite` — every spectrogram value finite, no infinite response (NaN responses mean "missing").
* :func:`fit_data_problems` — ``(unusable neurons {name: reason}, fatal reason or None)`` for a split dataset.
* :func:`check_fit_data` — raises :class:`DataError` when nothing can be fitted; returns one warning line
  naming the unusable neurons when only some are.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from strfviewer.data.errors import DataError


def _where(dataset) -> str:
    return str(dataset.source or dataset.name or "<dataset>")


def _unit(dataset) -> str:
    """The unit of one response bin (``spikes / bin``, ``mV``)."""
    return str(getattr(dataset, "response_label", "spikes / bin"))


def check_finite(dataset) -> None:
    """:class:`DataError` naming the stimulus (and band, frame) of the first NaN or infinite spectrogram
    value, or of an infinite response."""
    for s in dataset.stimuli:
        bad = ~np.isfinite(s.spec)
        if bad.any():
            _, band, frame = (int(i) for i in np.argwhere(bad)[0])
            raise DataError(_where(dataset), None, f"stimulus {s.name!r}: the spectrogram holds {int(bad.sum())} "
                                                   f"NaN or infinite value(s) (first at band {band}, frame {frame})")
        if np.isinf(s.responses).any():
            raise DataError(_where(dataset), None, f"stimulus {s.name!r}: responses hold infinite values "
                                                   "(NaN marks a missing value; inf is never valid)")


def fit_data_problems(dataset) -> Tuple[Dict[str, str], Optional[str]]:
    """What makes the training stimuli of ``dataset`` (already split) unfit to fit.

    Returns ``(unusable, fatal)``: ``unusable`` maps each neuron without a usable training response to the
    reason; ``fatal`` says why nothing at all can be fitted (``None`` when something can)."""
    train = dataset.stimuli_in("train")
    if not train:
        return {}, "the split leaves no training stimuli"
    lo = min(float(np.nanmin(s.spec)) if s.spec.size else np.inf for s in train)
    hi = max(float(np.nanmax(s.spec)) if s.spec.size else -np.inf for s in train)
    if not hi > lo:
        return {}, (f"the {len(train)} training stimuli are silent or constant (their spectrograms hold one "
                    "value only): there is nothing to fit")
    unusable: Dict[str, str] = {}
    for n, name in enumerate(dataset.neuron_names):
        finite = [r[n][np.isfinite(r[n])] for r in (s.responses for s in train)]
        values = np.concatenate(finite) if finite else np.zeros(0)
        if values.size == 0:
            unusable[name] = "no response recorded in the training stimuli"
        elif values.max() == values.min():
            silent = values.max() == 0 and not getattr(dataset, "is_continuous", False)
            unusable[name] = ("no spike in the training stimuli" if silent
                              else f"a constant response ({values.max():g} {_unit(dataset)}) in the training "
                                   "stimuli")
    if len(unusable) == dataset.n_neurons:
        reasons = sorted(set(unusable.values()))
        return unusable, f"no neuron has a usable response ({'; '.join(reasons)}): there is nothing to fit"
    return unusable, None


def unusable_warning(unusable: Dict[str, str], limit: int = 8) -> str:
    """One line naming the unusable neurons (the first ``limit``) and why."""
    items = [f"{name} ({reason})" for name, reason in list(unusable.items())[:limit]]
    more = f" and {len(unusable) - limit} more" if len(unusable) > limit else ""
    return (f"{len(unusable)} neuron(s) cannot be fitted, their metrics will be NaN: "
            f"{', '.join(items)}{more}")


def check_fit_data(dataset) -> List[str]:
    """:class:`DataError` naming the data when nothing can be fitted; else the warnings (possibly none)."""
    check_finite(dataset)
    unusable, fatal = fit_data_problems(dataset)
    if fatal:
        raise DataError(_where(dataset), None, fatal)
    return [unusable_warning(unusable)] if unusable else []
