"""The front-end slot of the fit dialog and the model panel: spectrogram input or a registered waveform front-end.

Qt-free helpers over :mod:`strfviewer.models.frontend_args` and the registry (kind ``"frontend"``), so the dialog's
editors, the panel's refit buttons and the fit queue agree on what a front-end choice means:

* :func:`frontend_options`: the options a user edits (the ``OPTIONS`` the class declares), less the frame step
  (it must be the data's, one frame per response bin) and those left to the engine (default ``None``); the
  sample rate's default is the open data's audio rate, and a default top frequency above its Nyquist frequency
  shows as the Nyquist frequency (the engine lowers that default the same way).
* :func:`chosen_kwargs`: only the values that differ from those defaults go into ``spec.frontend_kwargs``;
  the engine fills the rest from the data when the fit starts (``fit.waveform_mode.resolve_spec``).
* :func:`frontend_problems`, :func:`ridge_problems`: why a spec cannot be fitted on the open data (one line
  each, naming the value), checked before anything starts.
* :func:`carried_kwargs`: what a front-end swap keeps of the previous front-end's options (the model panel's
  "Refit with front-end"): each option the new one declares under the same name, or under its own name for the
  same fact (band count, band limits, sample rate), where it still builds with it.
* :func:`resolved_spec`: the spec with the front-end's arguments completed from the data (sample rate, frame
  step), as the fit will build it; used to build the model in the dialog's check and in the app after a fit.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional

#: the label of "no front-end": the model takes the dataset's spectrograms
SPECTROGRAM = "spectrogram"
#: sample rate (Hz) and frame step (ms) assumed when no dataset is open
DEFAULT_RATE, DEFAULT_DT_MS = 16000, 5.0


def frontend_names() -> List[str]:
    """Registered waveform front-ends (canonical names)."""
    from strfviewer.models import registry

    return list(registry.names("frontend"))


def has_frontend(spec) -> bool:
    """True when ``spec`` names a waveform front-end."""
    return getattr(spec, "frontend", None) not in (None, "", "none", "None", SPECTROGRAM)


def frontend_label(spec) -> str:
    """``CausalMel`` or ``spectrogram``: what a run's model takes, for tables and titles."""
    return str(spec.frontend) if spec is not None and has_frontend(spec) else SPECTROGRAM


def dataset_audio_rate(dataset) -> Optional[int]:
    """The sample rate (Hz) of the dataset's audio (the most common one), ``None`` when a stimulus has none."""
    from strfviewer.data.waveforms import has_audio

    if dataset is None or not dataset.stimuli or not has_audio(dataset):
        return None
    from strfviewer.data.build import common_sample_rate

    return int(common_sample_rate([int(s.sample_rate) for s in dataset.stimuli]))


def frontend_options(name: Optional[str], dataset=None) -> List[Any]:
    """The options of front-end ``name`` the dialog edits (see the module docstring); ``[]`` for none."""
    if not name or name == SPECTROGRAM:
        return []
    from strfviewer.models import options
    from strfviewer.models.frontend_args import FMAX_NAMES, FRAME_NAMES, RATE_NAMES

    declared = options.options_of("frontend", name)
    rate = dataset_audio_rate(dataset)
    given_rate = next((o.default for o in declared if o.name in RATE_NAMES), None)
    nyquist = (rate or given_rate or DEFAULT_RATE) / 2.0
    out = []
    for option in declared:
        if option.name in FRAME_NAMES or option.default is None:
            continue
        if option.name in RATE_NAMES and rate is not None:
            option = dataclasses.replace(option, default=rate)
        if option.name in FMAX_NAMES and option.default > nyquist:
            option = dataclasses.replace(option, default=nyquist)
        out.append(option)
    return out


def chosen_kwargs(values: Dict[str, Any], options_list) -> Dict[str, Any]:
    """``values`` (option name -> edited value) less those equal to the option's default."""
    defaults = {o.name: o.default for o in options_list}
    return {k: v for k, v in values.items() if k not in defaults or v != defaults[k]}


def _same_fact_names():
    """Groups of option names that state one fact in different front-ends (``n_mels`` and ``n_filters``...)."""
    from strfviewer.models.frontend_args import BAND_NAMES, FMAX_NAMES, RATE_NAMES

    return (RATE_NAMES, BAND_NAMES, ("f_min_hz", "f_min"), FMAX_NAMES)


def carried_kwargs(previous_name: str, previous: Dict[str, Any], name: str, dataset=None) -> Dict[str, Any]:
    """The options of front-end ``previous_name`` (built with the keyword arguments ``previous``) that front-end
    ``name`` keeps when it replaces it: each option ``name`` declares under the same name, or under its own name
    for the same fact (band count ``n_mels`` -> ``n_filters``, ``f_max_hz`` -> ``f_max``, the sample rate).
    The filterbank's extent (band count, band limits) carries over as the previous front-end had it, defaults
    included (a 34-band CausalMel becomes a 34-band Gammatonegram, not a 50-band one); other options (the
    sample rate too: by default the engine picks it from the data) only where they were given. The frame step is left out (it is the data's). A value the new
    front-end refuses on ``dataset`` is dropped, so the swap stays possible with that option at its default."""
    from strfviewer.models import options
    from strfviewer.models.frontend_args import FRAME_NAMES

    declared = [o.name for o in options.options_of("frontend", name) if o.name not in FRAME_NAMES]
    groups = _same_fact_names()
    extent = {n for g in groups[1:] for n in g}     # band count and limits, not the rate
    defaults = {o.name: o.default for o in frontend_options(previous_name, dataset) if o.name in extent}
    previous = {**defaults, **{k: v for k, v in previous.items() if v is not None}}
    wanted: Dict[str, Any] = {}
    for option in declared:
        names = next((g for g in groups if option in g), (option,))
        source = option if option in previous else next((n for n in names if n in previous), None)
        if source is not None and previous[source] is not None:
            wanted[option] = previous[source]
    if not wanted:
        return {}
    from strfviewer.models.factory import ModelSpec

    def builds(kwargs) -> bool:
        return not frontend_problems(ModelSpec(frontend=name, frontend_kwargs=dict(kwargs)), dataset)

    if builds(wanted):
        return wanted
    kept: Dict[str, Any] = {}
    for key, value in wanted.items():       # one at a time: keep those it builds with
        if builds({**kept, key: value}):
            kept[key] = value
    return kept


def _rate_and_step(dataset):
    rate = dataset_audio_rate(dataset)
    return (rate or DEFAULT_RATE), float(getattr(dataset, "dt_ms", None) or DEFAULT_DT_MS)


def resolved_spec(spec, dataset=None):
    """``spec`` with its front-end's arguments completed from ``dataset`` (sample rate, frame step; defaults
    16 kHz and 5 ms without audio); ``spec`` itself when it has no front-end. ``ValueError`` naming a bad
    value (e.g. a sample rate below twice ``f_max``)."""
    if not has_frontend(spec):
        return spec
    from strfviewer.models import registry
    from strfviewer.models.factory import copy_spec
    from strfviewer.models.frontend_args import frontend_kwargs

    name = registry.entry("frontend", spec.frontend).name
    rate, dt_ms = _rate_and_step(dataset)
    kwargs = frontend_kwargs(name, spec.frontend_kwargs, rate, dt_ms)
    return dataclasses.replace(copy_spec(spec), frontend=name, frontend_kwargs=dict(kwargs))


def frontend_problems(spec, dataset=None) -> List[str]:
    """Why ``spec``'s front-end cannot be fitted on ``dataset``: stimuli without audio, an argument the
    front-end refuses (its one-line message). Empty for spectrogram models and for a valid choice."""
    if not has_frontend(spec):
        return []
    if dataset is not None:
        from strfviewer.data.waveforms import require_audio

        try:
            require_audio(dataset, f"front-end {spec.frontend}")
        except ValueError as exc:
            return [str(exc)]
    try:
        from strfviewer.models.frontend_args import build_frontend

        resolved = resolved_spec(spec, dataset)
        build_frontend(resolved.frontend, resolved.frontend_kwargs)
    except (ValueError, KeyError) as exc:
        return [str(exc).strip("'\"")]
    return []


def frontend_is_learnable(spec, dataset=None) -> bool:
    """True when ``spec``'s front-end, as the fit would build it, has parameters that train."""
    if not has_frontend(spec):
        return False
    from strfviewer.models.frontend_args import build_frontend, is_fixed

    resolved = resolved_spec(spec, dataset)
    return not is_fixed(build_frontend(resolved.frontend, resolved.frontend_kwargs))


def ridge_problems(spec, dataset=None) -> List[str]:
    """Why closed-form ridge cannot fit ``spec``: it fits a plain full-kernel Linear model without prefilter,
    on the spectrogram or on a fixed front-end's output."""
    out = []
    if spec.family != "Linear":
        out.append(f"Ridge regression fits only the Linear family, not {spec.family}; choose SGD.")
    if spec.kernel not in (None, "full") or spec.prefilter:
        out.append("Ridge regression fits a plain full-kernel Linear model without prefilter; choose SGD to fit "
                   "another kernel or a prefilter.")
    try:
        learnable = frontend_is_learnable(spec, dataset)
    except (ValueError, KeyError):
        learnable = False  # reported by frontend_problems
    if learnable:
        out.append(f"Ridge regression needs a fixed front-end; {spec.frontend} has trainable parameters "
                   "(choose SGD, or turn its learning off).")
    return out
