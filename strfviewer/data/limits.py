"""The largest sizes strfviewer accepts from a file, a checkpoint or an option (documented in
docs/data-formats.md and docs/checkpoints.md). Each is checked *before* the memory is allocated, and a refusal
is one line naming the file or option and the size.

Bytes are estimates of the largest array a step builds; the limits leave room for a laptop (16 GB)."""

from __future__ import annotations

#: audio sample rates a stimulus may declare (Hz)
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 1_000_000
#: an audio file read whole into memory (bytes)
MAX_AUDIO_BYTES = 2 * 1024 ** 3
#: spectrogram settings
MAX_BANDS = 1024
MIN_DT_MS = 0.1
MAX_DT_MS = 10_000.0
MAX_WINDOW_MS = 10_000.0
#: frames of one stimulus's spectrogram, and the working memory of computing it (bytes)
MAX_FRAMES = 10_000_000
MAX_SPECTROGRAM_BYTES = 4 * 1024 ** 3
#: a spike file: its size (bytes) and its number of trials (lines)
MAX_SPIKE_FILE_BYTES = 256 * 1024 ** 2
MAX_TRIALS = 10_000
#: the responses array of a dataset (N x R x T float32 per stimulus, bytes)
MAX_RESPONSE_BYTES = 4 * 1024 ** 3
#: the arrays of an NPZ file, as their headers declare them (bytes, all keys together)
MAX_NPZ_BYTES = 8 * 1024 ** 3
#: one file of a dataset archive or folder read whole into memory (a NAT4 recording's CSV or HDF5 file, bytes)
MAX_ARCHIVE_MEMBER_BYTES = 2 * 1024 ** 3
#: a JSON file of a checkpoint (config.json, metadata.json) or of a dataset (bytes)
MAX_JSON_BYTES = 64 * 1024 ** 2
#: any whole number in a checkpoint's config.json (a kernel size, a band count, a layer width ...)
MAX_CONFIG_INT = 1_000_000
#: parameters and buffers of a model rebuilt from a checkpoint (values)
MAX_MODEL_VALUES = 1024 ** 3 // 2
#: frames of a gradmap or a dream (-T), and the values of its result (N x C x F x T)
MAX_ANALYSIS_FRAMES = 100_000
MAX_ANALYSIS_VALUES = 256 * 1024 ** 2


def size_text(n_bytes: float) -> str:
    """``n_bytes`` as a short human size (``1.5 GiB``)."""
    value = float(n_bytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
