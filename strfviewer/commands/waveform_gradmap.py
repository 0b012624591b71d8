"""``strfviewer gradmap CKPT --waveform --data DATA --stimulus NAME --out OUT.npz``: waveform gradmaps of a model
fitted on raw audio, around a chosen time of a real stimulus (see :mod:`strfviewer.analysis.waveform_rf`).

The NPZ holds ``waveform_gradmaps (K, T_audio)`` float32 (d response / d sample, on the stimulus' time axis
at the front-end's rate), ``sample_rate``, ``neurons (K,)`` indices, ``neuron_names (K,)``, ``stimulus``,
``at_ms (K,)`` (start of the response bin each map is taken at; the map covers the audio up to that bin's
end), ``reduce``, ``population_waveform_gradmap (T_audio,)`` (their mean), ``predicted_responses (K, T)``,
``waveform_gradmap_spectrograms (K, F, T)`` (each map made audible, then through the model's front-end),
``freqs_hz (F,)`` and ``dt_ms``. With ``--wav-dir DIR``: one WAV per neuron (and ``population.wav``) at the
front-end's rate, the stretch of the map that reaches the response, with 5 ms fades, peak at -3 dBFS.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from strfviewer.commands.data_options import READER_OPTIONS, add_data_option, data_source


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("waveform gradmaps (models fitted on raw audio)")
    g.add_argument("--waveform", action="store_true",
                   help="the gradient w.r.t. the audio samples of --stimulus (the receptive field as a sound)")
    add_data_option(p, "waveform gradmaps: data holding the stimulus (cell folder, NWB file, sorter folder, NPZ "
                       "with audio, 'demo')")
    g.add_argument("--stimulus", metavar="NAME", help="stimulus around which the maps are taken")
    g.add_argument("--at-ms", type=float, metavar="T",
                   help="time in the stimulus (ms) of the response differentiated (default: each neuron's "
                        "peak predicted response)")
    g.add_argument("--reduce", choices=("last", "peak", "sum"), default="last",
                   help="response at --at-ms, its peak up to then, or its sum up to then (default: %(default)s)")
    g.add_argument("--neurons", metavar="I,J,...", help="neuron indices (default: all)")
    g.add_argument("--wav-dir", metavar="DIR", help="also write one WAV per neuron here")


def check_arguments(args: argparse.Namespace) -> None:
    """``ValueError`` for waveform options without ``--waveform``, spectrogram-gradmap options with it, or
    ``--waveform`` without its data or with a ``--wav-dir`` that is a file."""
    given = [opt for opt, value in (("--data", args.data), ("--stimulus", args.stimulus), ("--at-ms", args.at_ms),
                                    ("--neurons", args.neurons), ("--wav-dir", args.wav_dir)) if value is not None]
    given += [option for option, attribute in READER_OPTIONS if getattr(args, attribute, None) is not None]
    if args.reduce != "last":
        given.append("--reduce")
    if not args.waveform:
        if given:
            raise ValueError(f"{given[0]} applies to waveform gradmaps: add --waveform")
        return
    spectrogram_only = [opt for opt, value in (("-T", args.frames), ("--per-channel/--raw", args.per_channel))
                        if value is not None] + (["--readout"] if args.readout != "last" else [])
    if spectrogram_only:
        raise ValueError(f"{spectrogram_only[0]} applies to spectrogram gradmaps, not to --waveform (there: --at-ms "
                         "and --reduce)")
    missing = [opt for opt, value in (("--data", args.data), ("--stimulus", args.stimulus)) if not value]
    if missing:
        raise ValueError(f"--waveform needs {' and '.join(missing)} (the stimulus around which to take the maps)")
    if args.wav_dir and Path(args.wav_dir).expanduser().exists() and not Path(args.wav_dir).expanduser().is_dir():
        raise ValueError(f"--wav-dir {args.wav_dir}: is a file, not a folder")


def stimulus_audio(data: str, name: str, metadata, front_end):
    """The stimulus ``name`` of ``data`` at the front-end's rate, ``(n_frames * hop,)``; one-line errors."""
    import math

    from strfviewer.commands.checkpoint_data import find_stimulus, load_for_checkpoint
    from strfviewer.data.waveforms import framed_audio, require_audio

    dataset, _notes = load_for_checkpoint(data, metadata)
    require_audio(dataset, "--waveform")
    stim = find_stimulus(dataset, name, data)
    rate, hop = int(front_end.sample_rate), int(front_end.hop)
    n_samples = len(stim.waveform) * rate / float(stim.sample_rate)
    if n_samples < hop:
        raise ValueError(f"--stimulus {name!r}: {len(stim.waveform)} samples at {stim.sample_rate} Hz is shorter "
                         f"than one frame ({front_end.dt_ms:g} ms)")
    return framed_audio(stim, rate, hop, n_frames=math.ceil(n_samples / hop - 1e-9))


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "neuron"


def write_wavs(folder: Path, result, names) -> list:
    """One WAV per neuron (``NNN_name.wav``) and ``population.wav``: the part of each map that reaches the
    response, made audible (5 ms fades, -3 dBFS peak)."""
    from strfviewer.analysis.waveform_rf import audible, map_support
    from strfviewer.io.exports import write_wav

    folder.mkdir(parents=True, exist_ok=True)
    hop = result.maps.shape[1] // max(result.responses.shape[1], 1)
    paths = []
    rows = [(f"{int(n):03d}_{_safe(name)}", m, int(k)) for n, name, m, k in
            zip(result.neurons, names, result.maps, result.at_frames)]
    rows.append(("population", result.population, int(result.at_frames.max())))
    for stem, m, k in rows:
        end = (k + 1) * hop
        paths.append(write_wav(folder / f"{stem}.wav", audible(m[map_support(m, end)], result.sample_rate),
                               result.sample_rate))
    return paths


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from strfviewer.analysis.waveform_rf import front_end_of, stimulus_waveform_gradmaps
    from strfviewer.commands.dream import parse_neurons
    from strfviewer.commands.gradmap import load_model
    from strfviewer.io.exports import write_npz
    from strfviewer.models.frontend_args import band_centres_hz

    args.data = data_source(args)
    model, axes, metadata = load_model(args.checkpoint, args.device, args.model_args)
    try:
        front_end = front_end_of(model)
    except TypeError:
        raise ValueError(f"{args.checkpoint}: {type(model).__name__} takes spectrograms; --waveform needs a model "
                         "fitted on raw audio (strfviewer fit --frontend NAME)") from None
    neurons = parse_neurons(args.neurons, int(model.N))
    wave = stimulus_audio(args.data, args.stimulus, metadata, front_end)
    result = stimulus_waveform_gradmaps(model, wave, neurons, at_ms=args.at_ms, reduce=args.reduce)
    if not np.any(result.maps):
        print("warning: every waveform gradmap is zero", file=sys.stderr)
    names = [axes.neuron_names[int(n)] for n in result.neurons]
    centres = band_centres_hz(front_end)
    arrays = {
        "waveform_gradmaps": result.maps, "sample_rate": np.array(result.sample_rate),
        "neurons": result.neurons, "neuron_names": np.array(names, dtype=str),
        "stimulus": np.array(args.stimulus), "at_ms": result.at_ms, "reduce": np.array(args.reduce),
        "population_waveform_gradmap": result.population, "predicted_responses": result.responses,
        "waveform_gradmap_spectrograms": result.spectrograms, "dt_ms": np.array(result.dt_ms),
        "freqs_hz": centres if centres is not None else axes.freqs_hz,
    }
    out = write_npz(Path(args.out).expanduser(), arrays)
    wavs = write_wavs(Path(args.wav_dir).expanduser(), result, names) if args.wav_dir else []
    if not args.quiet:
        for note in axes.notes:
            print(f"warning: {note}", file=sys.stderr)
        K, n = result.maps.shape
        print(f"{type(model).__name__}: {K} waveform gradmap(s) around {args.stimulus!r} ({n} samples at "
              f"{result.sample_rate} Hz, reduce {args.reduce}) -> {out}"
              + (f"; {len(wavs)} WAV file(s) in {args.wav_dir}" if wavs else ""), file=sys.stderr)
    return 0
