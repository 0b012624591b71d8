"""How long switching the selected neuron takes in the app (target < 50 ms), 100-neuron demo dataset.

Offscreen: the demo with 100 neurons, a ridge-fitted Linear model, gradmaps cached (computed once per run
in a worker, as in the app). For each of 40 neuron switches it measures

* ``update``: ``session.select_neuron(i)`` + the debounced redraw of the table selection, spectrogram, PSTH
  (with its per-stimulus cc / cc_norm) and gradmap views, i.e. the work the GUI thread does;
* ``update+paint``: the same plus a synchronous repaint of the whole window;

and prints the median, 95th percentile and maximum in ms, single view and STRF grid mode.

    .venv/bin/python benchmarks/selection_redraw.py [--neurons 100] [--switches 40]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TARGET_MS = 50.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=100)
    parser.add_argument("--switches", type=int, default=40)
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    import strfviewer.gui  # noqa: F401 - applies the PySide6 reference-count work-around first
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    torch.set_num_threads(1)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from strfviewer.data import make_demo
    from strfviewer.fit.run import run_fit
    from strfviewer.gui.main_window import MainWindow
    from strfviewer.gui.model_io import ridge_request
    from strfviewer.session import Run, Session

    t0 = time.perf_counter()
    dataset = make_demo(n_neurons=args.neurons).dataset
    outcome = run_fit(dataset, ridge_request())
    print(f"demo with {dataset.n_neurons} neurons, {len(dataset.stimuli)} stimuli, {dataset.n_freqs} bands; "
          f"ridge fit in {time.perf_counter() - t0:.1f} s")
    session = Session(dataset)
    request = ridge_request()
    session.add_run(Run(name="ridge", spec=request.spec, request=request, model=outcome.model, outcome=outcome))
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(os.path.join(tmp, "s.ini"), QSettings.IniFormat)
        window = MainWindow(session=session, settings=settings)
        window.resize(1400, 900)
        window.show()
        deadline = time.time() + 60
        while not window.is_ready() and time.time() < deadline:
            app.processEvents()
            time.sleep(0.005)
        rng = np.random.default_rng(0)
        order = [int(i) for i in rng.permutation(dataset.n_neurons)[: args.switches]]

        def measure(paint: bool) -> np.ndarray:
            times = []
            for i in order:
                if i == session.neuron:
                    continue
                start = time.perf_counter()
                session.select_neuron(i)
                window.redraw_now()
                if paint:
                    window.repaint()
                times.append((time.perf_counter() - start) * 1000)
                app.processEvents()
            return np.asarray(times)

        rows = []
        for mode in ("single", "grid"):
            window.views["gradmap"].set_grid(mode == "grid")
            window.redraw_now()
            app.processEvents()
            for paint in (False, True):
                t = measure(paint)
                rows.append((mode, "update+paint" if paint else "update", t))
        window.close()
    print(f"{'gradmap view':<14}{'measured':<15}{'n':>4}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}")
    worst = 0.0
    for mode, what, t in rows:
        print(f"{mode:<14}{what:<15}{len(t):>4}{np.median(t):>11.1f}{np.percentile(t, 95):>9.1f}{t.max():>9.1f}")
        worst = max(worst, float(np.percentile(t, 95)))
    verdict = "meets" if worst < TARGET_MS else "MISSES"
    print(f"worst p95 {worst:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
