"""Cut long stimuli into equal chunks for training (truncated back-propagation through time).

A chunk covers ``warmup + frames`` frames of the stimulus: the first ``warmup`` frames are context whose
responses are set to NaN (so they feed the model but are never scored), the next ``frames`` are scored. With
``warmup`` at least the model's temporal window ``T - 1`` a convolutional model sees exactly what it would see
on the whole stimulus; a recurrent model's memory is truncated to ``warmup`` frames. Chunks of equal length
batch without padding, and many short chunks run in parallel where one long sequence would run serially.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

#: (scored frames, warm-up frames) of the automatic chunks for recurrent models: many short, cheap steps
#: per epoch get a GRU past its initial plateau much sooner than one long sequence per step
AUTO_CHUNK = (50, 25)
#: StateNet cores trained on whole stimuli instead of chunks. Mamba (STRFlab cell and demo, seeds 0-2, 20 epochs):
#: chunks at lr 1e-3 0.769 / 0.910 test cc_norm, whole stimuli at 2e-3 0.792 / 0.908, about 30 % faster (with the
#: blocked parallel scan of the time, which paid per call: fewer, longer sequences cost less). LMU (seeds 0-2, 20
#: epochs): chunks 0.564 / 0.582 / 0.731 (STRFlab) and 0.866 / 0.816 / 0.761 (demo), whole stimuli 0.738 / 0.788 / 0.757
#: and 0.862 / 0.878 / 0.883: its memory spans theta = 99 frames, which a chunk's 25 warm-up frames cut short. Learning
#: rates: fit/learning_rates.py
UNCHUNKED_CORES = ("Mamba", "LMU")
#: StateNet cores whose automatic chunks are longer than :data:`AUTO_CHUNK` (scored frames, warm-up frames). S4
#: (STRFlab cell, seeds 0-11, 20 epochs, mean test cc_norm minus deepSTRF's on the same arrays, runs below it):
#: 50-frame chunks -0.016, 8 of 12; 100 +0.013, 3 of 12 (higher than 50 on 9 of the 12 seeds); 200 -0.002, 7 of 12.
#: Its convolution kernel spans the whole sequence, which short chunks cut. Demo seeds 0-11: +0.083 (50: +0.080 on 0-5).
CORE_CHUNK: Dict[str, Tuple[int, int]] = {"S4": (100, 25)}


def default_chunking() -> str:
    """The automatic chunks in words (the CLI's help), from :data:`AUTO_CHUNK`, :data:`CORE_CHUNK` and
    :data:`UNCHUNKED_CORES`."""
    own = "; ".join([f"StateNet {core}: {frames}" for core, (frames, _) in sorted(CORE_CHUNK.items())]
                    + [f"{' and '.join(UNCHUNKED_CORES)}: whole stimuli"])
    return f"{AUTO_CHUNK[0]} for recurrent models ({own})"


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
