"""Opening a large NWB file reads only what is asked for: peak memory and time to open / load a few units.

Writes (once, into --dir) an NWB file of ``--units`` units whose spike trains together take about ``--gb``
GB (float64 spike times; Poisson trains over a session of presentations of ``--stimuli`` 2 s sounds stored
as ``stimulus_template`` TimeSeries), then, each in a fresh process so peak memory is its own:

* ``open``: discover the file (unit ids, the trials table): :func:`strfviewer.data.nwb.discover_nwb`;
* ``load 3 units``: ``strfviewer.data.load("file.nwb?units=a,b,c")`` (spectrograms included);
* ``read every unit``: the spike times of every unit read through pynwb (what an eager reader would do).

Printed per step: wall seconds and peak resident memory (``VmHWM``) above the imports (pynwb, torch).

    python benchmarks/nwb_open.py [--gb 1.0] [--units 300] [--dir /tmp/strfviewer-nwb-bench]

Not a test: timings depend on the machine and its load (note it when recording figures).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RATE = 16000
SOUND_S = 2.0


def write_file(path: Path, n_units: int, gb: float, n_stimuli: int, n_trials: int) -> None:
    from datetime import datetime, timezone

    from pynwb import NWBHDF5IO, NWBFile, TimeSeries

    rng = np.random.default_rng(0)
    nwb = NWBFile(session_description="strfviewer benchmark", identifier="bench",
                  session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
    for k in range(n_stimuli):
        nwb.add_stimulus_template(TimeSeries(name=f"sound{k}", data=(0.1 * rng.standard_normal(
            int(RATE * SOUND_S))).astype(np.float32), unit="a.u.", rate=float(RATE)))
    nwb.add_trial_column("stimulus_name", "sound played")
    t = 1.0
    for _ in range(n_trials):
        for k in range(n_stimuli):
            nwb.add_trial(start_time=t, stop_time=t + SOUND_S, stimulus_name=f"sound{k}")
            t += SOUND_S + 0.5
    session_s = t
    spikes_per_unit = int(gb * 1e9 / 8 / n_units)
    for u in range(n_units):
        times = np.sort(rng.uniform(0, session_s, spikes_per_unit))
        nwb.add_unit(spike_times=times, id=u)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would carry the parent's peak across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(step: str, path: str, units: str) -> None:
    import pynwb  # noqa: F401 - the baseline includes the libraries
    import torch  # noqa: F401

    import strfviewer.data.nwb  # noqa: F401

    base = _peak_mb()
    t0 = time.perf_counter()
    if step == "open":
        from strfviewer.data.nwb import discover_nwb

        rec = discover_nwb(Path(path))
        info = f"{len(rec.neurons)} units, {len(rec.stimuli)} stimuli"
        rec.close()
    elif step == "load":
        from strfviewer.data import load

        data = load(f"{path}?units={units}", use_cache=False)
        info = f"{data.n_neurons} units x {len(data.stimuli)} stimuli x {data.stimuli[0].responses.shape[1]} trials"
    else:
        from pynwb import NWBHDF5IO

        with NWBHDF5IO(path, "r") as io:
            nwb = io.read()
            index = nwb.units["spike_times"]
            trains = [index[i] for i in range(len(nwb.units))]  # held, as an eager reader holds them
        info = f"{sum(len(t) for t in trains)} spikes"
    seconds = time.perf_counter() - t0
    print(json.dumps({"step": step, "seconds": seconds, "peak_mb": _peak_mb() - base, "info": info}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=1.0, help="spike data size in GB (default: %(default)s)")
    ap.add_argument("--units", type=int, default=300)
    ap.add_argument("--stimuli", type=int, default=20)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--dir", default="/tmp/strfviewer-nwb-bench")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"units{args.units}_{args.gb:g}gb.nwb"
    if not path.is_file():
        t0 = time.perf_counter()
        write_file(path, args.units, args.gb, args.stimuli, args.trials)
        print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f} s")
    print(f"{path.name}: {path.stat().st_size / 1e9:.2f} GB, {args.units} units")
    for step in ("open", "load", "read-all"):
        out = subprocess.run([sys.executable, __file__, "--child", step, str(path), "0,1,2"],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        name = {"open": "open (discover)", "load": "load 3 units", "read-all": "read every unit"}[step]
        print(f"{name:18s} {r['seconds']:7.2f} s  peak +{r['peak_mb']:7.1f} MB  ({r['info']})")


if __name__ == "__main__":
    main()
