"""Workers on QThreads: results, readable failures, progress/partial in the GUI thread, cancel, shutdown."""

import threading
import time

from PySide6.QtCore import QThread

from strfviewer.gui.window.workers import WorkerPool, readable_error, start_worker


def test_result_progress_and_partial_arrive_in_the_gui_thread(qtbot):
    pool = WorkerPool()
    gui_thread = QThread.currentThread()
    seen = {"threads": set(), "progress": [], "partial": [], "result": None, "worker_thread": None}

    def fn(progress, cancel):
        seen["worker_thread"] = threading.get_ident()
        progress(1)
        progress.partial("half")
        return 42

    def on(kind):
        def cb(value):
            seen["threads"].add(QThread.currentThread() is gui_thread)
            if kind == "result":
                seen["result"] = value
            else:
                seen[kind].append(value)
        return cb

    pool.start(fn, on_finished=on("result"), on_progress=on("progress"), on_partial=on("partial"))
    qtbot.waitUntil(lambda: seen["result"] == 42 and not pool.workers, timeout=5000)
    assert seen["progress"] == [1] and seen["partial"] == ["half"]
    assert seen["threads"] == {True}
    assert seen["worker_thread"] != threading.get_ident()


def test_failure_becomes_a_readable_message(qtbot):
    pool = WorkerPool()
    messages = []

    def fn(progress, cancel):
        raise ValueError("/data/x: stim3.wav is not a WAV file")

    worker = pool.start(fn, on_failed=messages.append)
    qtbot.waitUntil(lambda: bool(messages), timeout=5000)
    assert messages == ["/data/x: stim3.wav is not a WAV file"]
    assert isinstance(worker.error, ValueError)
    assert readable_error(RuntimeError("CUDA out of memory")) == "RuntimeError: CUDA out of memory"


def test_cancel_and_shutdown_wait_for_the_thread(qtbot):
    pool = WorkerPool()
    started, stopped = threading.Event(), threading.Event()

    def fn(progress, cancel):
        started.set()
        while not cancel.is_set():
            time.sleep(0.005)
        stopped.set()
        return "cancelled"

    worker = pool.start(fn)
    assert started.wait(5)
    pool.shutdown(timeout_ms=5000)
    assert stopped.is_set() and worker.cancelled
    assert pool.workers == []


def test_start_worker_attaches_one_pool_to_the_parent(qtbot):
    from PySide6.QtWidgets import QWidget

    parent = QWidget()
    qtbot.addWidget(parent)
    results = []
    start_worker(parent, lambda p, c: 1, on_finished=results.append)
    start_worker(parent, lambda p, c: 2, on_finished=results.append)
    qtbot.waitUntil(lambda: sorted(results) == [1, 2], timeout=5000)
    assert isinstance(parent.worker_pool, WorkerPool)
    parent.worker_pool.shutdown()
