"""Cut long stimuli into equal chunks for training (truncated back-propagation through time).

A chunk covers ``warmup + frames`` frames of the stimulus: the first ``warmup`` frames are context whose
responses are set to NaN (so they feed the model but are never scored), the next ``frames`` are scored. With
``warmup`` at least the model's temporal window ``T - 1`` a convolutional model sees exactly what it would see
on the whole stimulus; a recurrent model's memory is truncated to ``warmup`` frames. Chunks of equal length
batch without padding, and many short chunks run in parallel where one long sequence would run serially.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence

import numpy as np


@dataclass
class Chunk:
    """A piece of a stimulus: ``spec (1, F, L)`` (or its audio ``(1, L * hop)``), ``responses (N, R, L)`` with
    NaN over the warm-up."""

    name: str
    spec: np.ndarray
    responses: np.ndarray


def chunk_stimuli(stimuli: Sequence, frames: int, warmup: int = 0) -> List[Chunk]:
    """Chunks of ``frames`` scored frames (the last one of a stimulus may be shorter) after ``warmup`` frames.

    The first chunk of a stimulus starts at frame 0 with no warm-up (the model sees silence-free onset, as on
    the whole stimulus); later chunks start ``warmup`` frames before their scored part.
    """
    if frames < 1 or warmup < 0:
        raise ValueError(f"chunk frames must be >= 1 and warm-up >= 0, got {frames} and {warmup}")
    out: List[Chunk] = []
    for s in stimuli:
        T = int(s.responses.shape[-1])
        step = int(s.spec.shape[-1]) // max(T, 1)          # 1 for spectrograms, hop samples for audio
        for k, start in enumerate(range(0, T, frames)):
            stop = min(start + frames, T)
            lo = max(0, start - warmup)
            resp = np.array(s.responses[..., lo:stop], dtype=np.float32, copy=True)
            resp[..., : start - lo] = np.nan
            out.append(Chunk(name=f"{s.name}#{k}", spec=s.spec[..., lo * step:stop * step],
                             responses=resp))
    return out
