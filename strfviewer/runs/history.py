"""Persistent run history: every fit (app, CLI or sweep) as one row of a SQLite database.

A run is inserted as ``running`` when it starts and updated once, in a transaction, when it ends
(``done``, ``failed`` or ``cancelled``). A process that dies mid-fit leaves a ``running`` row whose owner
process no longer exists; :meth:`RunHistory.reap_stale` (called on open) marks such rows ``failed``, so the
table never holds a half-written result. The schema carries a version number and is migrated forward on
open.

Default location: ``$STRFVIEWER_HISTORY`` if set, else ``runs.sqlite`` in the user data folder
(:func:`default_history_path`; on Linux ``$XDG_DATA_HOME/strfviewer/runs.sqlite``, by default
``~/.local/share/strfviewer/runs.sqlite``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import socket
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

from strfviewer import __version__
from strfviewer.io.atomic import atomic_write_text
from strfviewer.io.json_safe import json_safe

STATUSES = ("running", "done", "failed", "cancelled", "warning")  # warning: done, with a reason in error

#: column name -> SQL type of the ``runs`` table in the current schema
COLUMNS = {
    "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "trial_key": "TEXT",  # identity of (config, data hash, seed), used to skip repeats
    "status": "TEXT NOT NULL",
    "family": "TEXT",
    "kernel": "TEXT",
    "prefilter": "TEXT",
    "method": "TEXT",
    "seed": "INTEGER",
    "config_json": "TEXT NOT NULL",  # {"spec": ModelSpec dict, "request": FitRequest dict, "frontend": ...}
    "dataset_path": "TEXT",
    "dataset_hash": "TEXT",
    "neuron_names_json": "TEXT",
    "metrics_json": "TEXT",  # {"test": {"cc": [...], "cc_max": [...], "cc_norm": [...]}, "val": {...}}
    "mean_test_cc_norm": "REAL",
    "n_params": "INTEGER",
    "epochs": "INTEGER",
    "seconds": "REAL",
    "device": "TEXT",
    "checkpoint": "TEXT",
    "error": "TEXT",
    "source": "TEXT",  # 'app', 'cli', 'sweep:<name>'
    "host": "TEXT",
    "pid": "INTEGER",
    "version": "TEXT",  # strfviewer version that made the run
    "created": "REAL",  # unix seconds
    "finished": "REAL",
}

SCHEMA_VERSION = 2


def _migration_1(con: sqlite3.Connection) -> None:
    cols = ", ".join(f"{k} {v}" for k, v in COLUMNS.items() if k not in ("source",))
    con.execute(f"CREATE TABLE runs ({cols})")
    con.execute("CREATE INDEX runs_dataset ON runs(dataset_hash)")
    con.execute("CREATE INDEX runs_trial ON runs(trial_key)")


def _migration_2(con: sqlite3.Connection) -> None:
    con.execute("ALTER TABLE runs ADD COLUMN source TEXT")


#: MIGRATIONS[i] takes a schema at version i to version i + 1
MIGRATIONS = (_migration_1, _migration_2)


class HistoryError(RuntimeError):
    """The history database cannot be used (newer schema, corrupt file, ...); names the file."""


def default_history_path() -> Path:
    """``$STRFVIEWER_HISTORY`` when set, else ``runs.sqlite`` in the platform's user data folder from
    ``platformdirs`` (Linux: ``$XDG_DATA_HOME/strfviewer`` or ``~/.local/share/strfviewer``; macOS:
    ``~/Library/Application Support/strfviewer``; Windows: ``%LOCALAPPDATA%\\strfviewer``)."""
    env = os.environ.get("STRFVIEWER_HISTORY")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("strfviewer", appauthor=False)) / "runs.sqlite"


def _finite_or_none(x: Any) -> Optional[float]:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _retry_while_locked(step, seconds: float = 30.0):
    """Run ``step()``, again while SQLite answers "database is locked" (up to ``seconds``): switching a file
    that other connections are creating to WAL, or reading its header meanwhile, may fail at once instead of
    waiting through the connection's busy timeout."""
    deadline = time.monotonic() + seconds
    delay = 0.01
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


@dataclass
class RunRecord:
    """One row of the history, decoded."""

    id: int
    status: str
    config: Dict[str, Any]
    family: Optional[str] = None
    kernel: Optional[str] = None
    prefilter: Optional[str] = None
    method: Optional[str] = None
    seed: Optional[int] = None
    trial_key: Optional[str] = None
    dataset_path: Optional[str] = None
    dataset_hash: Optional[str] = None
    neuron_names: List[str] = field(default_factory=list)
    metrics: Dict[str, Any] = field(default_factory=dict)
    mean_test_cc_norm: Optional[float] = None
    n_params: Optional[int] = None
    epochs: Optional[int] = None
    seconds: Optional[float] = None
    device: Optional[str] = None
    checkpoint: Optional[str] = None
    error: Optional[str] = None
    source: Optional[str] = None
    host: Optional[str] = None
    pid: Optional[int] = None
    version: Optional[str] = None
    created: Optional[float] = None
    finished: Optional[float] = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "RunRecord":
        d = dict(row)
        return cls(
            id=d["id"], status=d["status"], config=json.loads(d["config_json"] or "{}"),
            family=d["family"], kernel=d["kernel"], prefilter=d["prefilter"], method=d["method"],
            seed=d["seed"], trial_key=d["trial_key"], dataset_path=d["dataset_path"],
            dataset_hash=d["dataset_hash"], neuron_names=json.loads(d["neuron_names_json"] or "[]"),
            metrics=json.loads(d["metrics_json"] or "{}"), mean_test_cc_norm=d["mean_test_cc_norm"],
            n_params=d["n_params"], epochs=d["epochs"], seconds=d["seconds"], device=d["device"],
            checkpoint=d["checkpoint"], error=d["error"], source=d.get("source"), host=d["host"],
            pid=d["pid"], version=d["version"], created=d["created"], finished=d["finished"])

    def label(self) -> str:
        """Short human label: family, kernel, prefilter, seed."""
        parts = [self.family or "?"]
        if self.kernel:
            parts.append(self.kernel)
        if self.prefilter:
            parts.append(self.prefilter)
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        return " / ".join(parts)


class RunHistory:
    """The SQLite run history. Cheap to open; every write is one transaction.

    ``RunHistory(path)`` creates the file and migrates it to :data:`SCHEMA_VERSION`. Not shared between
    threads: open one per thread (SQLite itself serialises writers across processes).
    """

    def __init__(self, path: Optional[os.PathLike] = None, reap: bool = True) -> None:
        self.path = Path(path) if path is not None else default_history_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = None
        try:
            self._con = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
            self._con.row_factory = sqlite3.Row
            _retry_while_locked(self._refuse_newer)  # before anything writes: a refused file stays byte-identical
            _retry_while_locked(lambda: self._con.execute("PRAGMA journal_mode=WAL"))
            self._migrate()
        except (sqlite3.DatabaseError, HistoryError) as exc:
            if self._con is not None:
                self._con.close()
            if isinstance(exc, HistoryError):
                raise
            raise HistoryError(f"{self.path}: not a usable run history database ({exc})") from None
        if reap:
            self.reap_stale()

    # --- plumbing ----------------------------------------------------------------------------------
    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> "RunHistory":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a file that cannot be written (read-only, full disk, locked too long)
        raises :class:`HistoryError` naming it."""
        try:
            self._con.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path}: cannot write the run history ({exc})") from None
        try:
            yield self._con
        except sqlite3.DatabaseError as exc:
            with contextlib.suppress(sqlite3.DatabaseError):
                self._con.execute("ROLLBACK")
            raise HistoryError(f"{self.path}: cannot write the run history ({exc})") from None
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        try:
            self._con.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            with contextlib.suppress(sqlite3.DatabaseError):
                self._con.execute("ROLLBACK")
            raise HistoryError(f"{self.path}: cannot write the run history ({exc})") from None

    def check_writable(self) -> None:
        """:class:`HistoryError` naming the file unless a write transaction can start (a read-only file, a
        read-only folder or a lock held for longer than the timeout)."""
        with self._transaction() as con:
            con.execute(f"PRAGMA user_version = {self.schema_version()}")  # a real write, same value

    def _refuse_newer(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise HistoryError(f"{self.path}: schema version {version} is newer than this strfviewer "
                               f"({__version__}) understands ({SCHEMA_VERSION}); upgrade strfviewer")

    def schema_version(self) -> int:
        return int(self._con.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        while True:
            # Read the version inside the write transaction: two processes opening a new file at once must
            # not both create the table.
            with self._transaction() as con:
                self._refuse_newer()
                version = self.schema_version()
                if version == SCHEMA_VERSION:
                    return
                MIGRATIONS[version](con)
                con.execute(f"PRAGMA user_version = {version + 1}")

    # --- writing -----------------------------------------------------------------------------------
    def start_run(self, config: Dict[str, Any], *, dataset_path: str = "", dataset_hash: str = "",
                  trial_key: Optional[str] = None, source: str = "cli") -> int:
        """Insert a ``running`` row for a fit that starts now; returns its id.

        ``config`` is ``{"spec": ModelSpec dict, "request": FitRequest dict, ...}``.
        """
        spec = config.get("spec") or {}
        request = config.get("request") or {}
        row = {
            "trial_key": trial_key, "status": "running", "family": spec.get("family"),
            "kernel": spec.get("kernel"), "prefilter": spec.get("prefilter"), "method": request.get("method"),
            "seed": request.get("seed"), "config_json": json.dumps(json_safe(config), sort_keys=True),
            "dataset_path": str(dataset_path), "dataset_hash": dataset_hash, "source": source,
            "host": socket.gethostname(), "pid": os.getpid(), "version": __version__, "created": time.time(),
        }
        with self._transaction() as con:
            cur = con.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                              tuple(row.values()))
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, *, metrics: Dict[str, Any], neuron_names: Sequence[str] = (),
                   n_params: Optional[int] = None, epochs: Optional[int] = None,
                   seconds: Optional[float] = None, device: str = "", checkpoint: Optional[str] = None,
                   status: str = "done", error: Optional[str] = None) -> None:
        """Record the result of a run in one transaction (``status`` 'done', 'cancelled' or 'warning': a usable
        result whose reason is ``error``)."""
        if status not in STATUSES:
            raise ValueError(f"status {status!r} is not one of {STATUSES}")
        metrics = json_safe(metrics)
        test = (metrics or {}).get("test") or {}
        mean = test.get("mean_cc_norm")
        if mean is None and test.get("cc_norm"):
            vals = [v for v in test["cc_norm"] if v is not None]
            mean = sum(vals) / len(vals) if vals else None
        self._update(run_id, status=status, metrics_json=json.dumps(metrics),
                     neuron_names_json=json.dumps(list(neuron_names)), mean_test_cc_norm=_finite_or_none(mean),
                     n_params=n_params, epochs=epochs, seconds=_finite_or_none(seconds), device=str(device),
                     checkpoint=None if checkpoint is None else str(checkpoint), error=error,
                     finished=time.time())

    def fail_run(self, run_id: int, error: str, seconds: Optional[float] = None) -> None:
        """Mark a run failed with its error message."""
        self._update(run_id, status="failed", error=str(error), seconds=_finite_or_none(seconds),
                     finished=time.time())

    def _update(self, run_id: int, **values: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in values)
        with self._transaction() as con:
            cur = con.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*values.values(), run_id))
            if cur.rowcount != 1:
                raise KeyError(f"{self.path}: no run with id {run_id}")

    def reap_stale(self) -> int:
        """Mark ``running`` rows of this host whose process is gone as failed; returns how many."""
        host = socket.gethostname()
        rows = self._con.execute("SELECT id, pid FROM runs WHERE status = 'running' AND host = ?",
                                 (host,)).fetchall()
        dead = [r["id"] for r in rows if r["pid"] is not None and not _pid_alive(int(r["pid"]))]
        for run_id in dead:
            self.fail_run(run_id, "the process running this fit ended before it finished (crash or kill)")
        return len(dead)

    def delete_run(self, run_id: int) -> Dict[str, Any]:
        """Delete a run; returns the raw row so :meth:`restore_run` can undo the deletion."""
        with self._transaction() as con:
            row = con.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(f"{self.path}: no run with id {run_id}")
            con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        return dict(row)

    def restore_run(self, row: Dict[str, Any]) -> int:
        """Put back a row returned by :meth:`delete_run` (same id)."""
        with self._transaction() as con:
            con.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                        tuple(row.values()))
        return int(row["id"])

    # --- reading -----------------------------------------------------------------------------------
    def get(self, run_id: int) -> RunRecord:
        row = self._con.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"{self.path}: no run with id {run_id}")
        return RunRecord.from_row(row)

    def runs(self, *, dataset_hash: Optional[str] = None, family: Optional[str] = None,
             status: Optional[str] = None, source_prefix: Optional[str] = None, text: Optional[str] = None,
             order_by: str = "id", descending: bool = False, limit: Optional[int] = None) -> List[RunRecord]:
        """Runs matching every given filter. ``text`` matches family, kernel, prefilter or dataset path."""
        if order_by not in COLUMNS:
            raise ValueError(f"cannot order by {order_by!r}; columns: {', '.join(COLUMNS)}")
        where, args = [], []
        for col, val in (("dataset_hash", dataset_hash), ("family", family), ("status", status)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        if source_prefix is not None:
            where.append("source LIKE ?")
            args.append(source_prefix + "%")
        if text:
            where.append("(family LIKE ? OR kernel LIKE ? OR prefilter LIKE ? OR dataset_path LIKE ?)")
            args.extend([f"%{text}%"] * 4)
        sql = "SELECT * FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {order_by} {'DESC' if descending else 'ASC'}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [RunRecord.from_row(r) for r in self._con.execute(sql, args)]

    def find_done(self, trial_key: str) -> Optional[RunRecord]:
        """The finished run with this trial key, if any (sweeps skip those)."""
        row = self._con.execute("SELECT * FROM runs WHERE trial_key = ? AND status = 'done' ORDER BY id DESC "
                                "LIMIT 1", (trial_key,)).fetchone()
        return None if row is None else RunRecord.from_row(row)

    # --- summaries and export ----------------------------------------------------------------------
    def to_csv(self, records: Optional[Iterable[RunRecord]] = None) -> str:
        """CSV text of runs (one row per run; per-neuron metrics stay in the JSON column)."""
        records = list(self.runs() if records is None else records)
        cols = ["id", "status", "family", "kernel", "prefilter", "method", "seed", "mean_test_cc_norm",
                "n_params", "epochs", "seconds", "device", "dataset_path", "dataset_hash", "checkpoint",
                "source", "version", "created", "error"]
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(cols)
        for r in records:
            w.writerow(["" if getattr(r, c) is None else getattr(r, c) for c in cols])
        return buf.getvalue()

    def export_csv(self, path: os.PathLike, records: Optional[Iterable[RunRecord]] = None) -> Path:
        return atomic_write_text(path, self.to_csv(records))


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
