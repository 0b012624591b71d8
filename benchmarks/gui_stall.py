"""GUI responsiveness during a fit: event-loop stalls of the GUI thread and the live-curve refresh rate.

Opens the main window offscreen on the demo data, starts a StateNet fit through the fitting feature (the same
path as Fit > New fit...), and runs a 5 ms heartbeat ``QTimer`` in the GUI thread for the duration of the fit.
A stall is how late a heartbeat tick arrives: ``interval between ticks - 5 ms`` (0 when on time). It also counts
how often the training panel redrew its curves.

Targets (issue 5): p99 stall < 30 ms, max stall < 100 ms, curves refreshed at least once per second.

    python benchmarks/gui_stall.py [--epochs 6] [--device cpu] [--rnn GRU]

Prints what it measured; exit status 0 unless the fit itself failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

HEARTBEAT_MS = 5


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=6, help="epochs of the StateNet fit (default 6)")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps (default cpu)")
    parser.add_argument("--rnn", default="GRU", help="StateNet rnn_type (default GRU)")
    parser.add_argument("--batch-size", type=int, default=4, help="stimuli per step (default 4)")
    parser.add_argument("--verbose", action="store_true", help="list every stall over 20 ms with its time")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])

    import torch

    from strfviewer.data import load
    from strfviewer.fit.run import FitRequest
    from strfviewer.gui.main_window import MainWindow
    from strfviewer.models.factory import ModelSpec
    from strfviewer.session import Session

    t0 = time.perf_counter()
    dataset = load("demo")
    settings_dir = tempfile.mkdtemp(prefix="strfviewer-bench-")
    settings = QSettings(os.path.join(settings_dir, "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(session=Session(dataset), settings=settings)
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    print(f"opened the demo ({dataset.n_neurons} neurons, {len(dataset.stimuli)} stimuli) in "
          f"{time.perf_counter() - t0:.2f} s")

    feature = window.fitting
    request = FitRequest(spec=ModelSpec("StateNet", rnn_type=args.rnn), method="sgd", epochs=args.epochs,
                         patience=args.epochs, batch_size=args.batch_size, seed=0, device=args.device)

    clock = QElapsedTimer()
    ticks = []
    heartbeat = QTimer()
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(lambda: ticks.append(clock.nsecsElapsed() / 1e6))

    panel = feature.training_panel
    panel.refresh_times.clear()
    clock.start()
    heartbeat.start()
    fit_start = time.monotonic()
    loop = QEventLoop()
    idle = QTimer()  # the real event loop runs until the queue is idle (checked every 50 ms)
    idle.setInterval(50)
    idle.timeout.connect(lambda: loop.quit() if not (feature.queue.busy or feature.queue.pending) else None)
    feature.submit(request)
    idle.start()
    loop.exec()
    idle.stop()
    fit_end = time.monotonic()
    heartbeat.stop()
    for _ in range(5):
        app.processEvents()

    run = window.session.runs[-1]
    intervals = np.diff(np.asarray(ticks))
    stalls = np.maximum(intervals - HEARTBEAT_MS, 0.0)
    duration = fit_end - fit_start
    refreshes = [t for t in panel.refresh_times if fit_start <= t <= fit_end]
    gaps = np.diff([fit_start] + refreshes + [fit_end])
    print(f"fit: StateNet({args.rnn}) on {run.outcome.device if run.outcome else args.device}, {args.epochs} epochs "
          f"max, status {run.status}, {duration:.1f} s ({run.message})")
    print(f"machine: {os.cpu_count()} CPU cores, torch {torch.__version__}, torch threads in the worker "
          f"{torch.get_num_threads()}")
    if intervals.size == 0:
        print("no heartbeat ticks recorded")
        return 1
    print(f"heartbeat: {intervals.size} ticks of {HEARTBEAT_MS} ms")
    print(f"GUI stall (ms): p50 {np.percentile(stalls, 50):.1f}  p99 {np.percentile(stalls, 99):.1f}  "
          f"max {stalls.max():.1f}   (target p99 < 30, max < 100)")
    print(f"curve refreshes: {len(refreshes)} in {duration:.1f} s = {len(refreshes) / duration:.2f} per s; "
          f"longest gap between refreshes {gaps.max():.2f} s   (target >= 1 per s)")
    if args.verbose:
        late = np.nonzero(stalls > 20)[0]
        t_ticks = np.asarray(ticks[1:]) / 1e3  # s since the heartbeat started
        for i in late:
            print(f"  stall {stalls[i]:6.1f} ms ending at t = {t_ticks[i]:6.2f} s "
                  f"(fit ended at {fit_end - fit_start:.2f} s)")
    window.worker_pool.shutdown(20000)
    window.close()
    return 0 if run.status in ("done", "cancelled") else 1


if __name__ == "__main__":
    sys.exit(main())
