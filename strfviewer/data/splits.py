"""Train / validation / test assignment of stimuli."""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from strfviewer.data.dataset import SPLITS


def natural_key(name: str) -> Tuple:
    """Sort key that orders ``stim2`` before ``stim10`` (digit runs compare as numbers)."""
    parts = re.split(r"(\d+)", str(name))
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts if p != "")


def natural_sorted(names: Iterable[str]) -> List[str]:
    return sorted(names, key=natural_key)


def _counts(n: int, fractions: Sequence[float]) -> Tuple[int, int, int]:
    total = float(sum(fractions))
    if len(fractions) != 3 or total <= 0 or any(f < 0 for f in fractions):
        raise ValueError(f"fractions must be three non-negative numbers (train, val, test), got {fractions!r}")
    n_val = int(round(n * fractions[1] / total))
    n_test = int(round(n * fractions[2] / total))
    # keep at least one stimulus in each non-empty part when there are enough stimuli
    if n >= 3:
        n_val = max(n_val, 1) if fractions[1] > 0 else 0
        n_test = max(n_test, 1) if fractions[2] > 0 else 0
    n_val = min(n_val, n)
    n_test = min(n_test, n - n_val)
    return n - n_val - n_test, n_val, n_test


def default_split(names: Iterable[str], fractions: Sequence[float] = (0.7, 0.15, 0.15),
                  groups: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Assign stimuli to ``train``/``val``/``test`` by position in natural sort order.

    The first ``fractions[0]`` go to train, the next ``fractions[1]`` to val, the rest to test (20 stimuli:
    1-14 train, 15-17 val, 18-20 test). With ``groups`` (stimulus name -> group, e.g. CRCNS stimulus type)
    each group is split on its own, so every split holds every kind of stimulus.
    """
    names = list(names)
    if len(set(names)) != len(names):
        raise ValueError("stimulus names must be unique")
    if groups:
        by_group: Dict[str, List[str]] = {}
        for name in names:
            by_group.setdefault(str(groups.get(name, "")), []).append(name)
        out: Dict[str, str] = {}
        for members in by_group.values():
            out.update(default_split(members, fractions))
        return {n: out[n] for n in names}
    ordered = natural_sorted(names)
    n_train, n_val, _ = _counts(len(ordered), fractions)
    out = {}
    for i, name in enumerate(ordered):
        out[name] = "train" if i < n_train else ("val" if i < n_train + n_val else "test")
    return {n: out[n] for n in names}


def explicit_split(names: Iterable[str], train: Sequence[str] = (), val: Sequence[str] = (),
                   test: Sequence[str] = ()) -> Dict[str, str]:
    """A split from explicit lists; every stimulus must be named exactly once."""
    names = list(names)
    known = set(names)
    out: Dict[str, str] = {}
    for part, members in (("train", train), ("val", val), ("test", test)):
        for m in members:
            if m not in known:
                raise ValueError(f"split lists stimulus {m!r}, which the dataset does not have")
            if m in out:
                raise ValueError(f"stimulus {m!r} is in both {out[m]!r} and {part!r}")
            out[m] = part
    missing = [n for n in names if n not in out]
    if missing:
        raise ValueError(f"split does not place {len(missing)} stimuli, e.g. {missing[:3]}")
    return {n: out[n] for n in names}


SplitSpec = Union[None, Mapping[str, object], Sequence[float]]


def resolve_split(names: Sequence[str], split: SplitSpec,
                  groups: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Turn what a caller passes as ``split`` into ``{name: part}``.

    Accepts ``None`` (the default 70/15/15 split), three fractions, ``{name: 'train'|'val'|'test'}`` or
    ``{'train': [...], 'val': [...], 'test': [...]}`` (explicit lists).
    """
    if split is None:
        return default_split(names, groups=groups)
    if isinstance(split, Mapping):
        keys = set(split)
        if keys and keys <= set(SPLITS) and all(not isinstance(v, str) for v in split.values()):
            return explicit_split(names, **{k: list(v) for k, v in split.items()})  # type: ignore[arg-type]
        out = {str(k): str(v) for k, v in split.items()}
        bad = [v for v in out.values() if v not in SPLITS]
        if bad:
            raise ValueError(f"split value {bad[0]!r} is not one of {SPLITS}")
        return explicit_split(names, **{p: [n for n, v in out.items() if v == p] for p in SPLITS})
    fractions = list(split)  # type: ignore[arg-type]
    return default_split(names, fractions, groups=groups)
