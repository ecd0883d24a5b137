"""Background training for the app: one job per session, a worker thread, a global cap.

The worker never touches Streamlit: it appends records to plain `Run` objects under a lock,
and the page's fragment reads `Job.snapshot()`. A `JobManager` is shared by all sessions and
lets at most `max_running` jobs train at once; the others wait in a visible queue. A job too
large for the memory budget is refused before it is queued (`resviz.budget`).
"""
from __future__ import annotations

import copy
import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass

from . import budget
from .config import NetConfig, TrainConfig
from .runs import Run
from .runtime import environment, pick_device
from .train import Trainer

MAX_CONFIGS = 4


@dataclass(frozen=True)
class Snapshot:
    state: str                 # "queued", "running", "done", "stopped", "failed"
    position: int | None       # place in the queue while queued (1 = next)
    runs: list[Run]            # copies: safe to read while the worker goes on
    message: str


class Job:
    """Up to four configurations trained in lockstep, one step each in turn, so every curve
    grows at the same pace and all share seed, data order and budget."""

    def __init__(self, specs: list[tuple[NetConfig, TrainConfig]]):
        if not 1 <= len(specs) <= MAX_CONFIGS:
            raise ValueError(f"a job trains 1 to {MAX_CONFIGS} configurations, not {len(specs)}")
        self.runs = [Run(net=n, train=t) for n, t in specs]
        self.weights: list[dict | None] = [None] * len(specs)  # final state dicts, on the CPU
        self.state = "queued"
        self.message = ""
        self.position: int | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._on_finish: Callable[[Job], None] | None = None

    def stop(self) -> None:
        self._stop.set()

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def snapshot(self) -> Snapshot:
        with self._lock:
            runs = [copy.copy(r) for r in self.runs]
            for r in runs:
                r.records = list(r.records)
            return Snapshot(self.state, self.position, runs, self.message)

    def _set(self, **fields) -> None:
        with self._lock:
            for k, v in fields.items():
                setattr(self, k, v)

    def train(self) -> None:
        """Run every configuration to its end (or the stop flag); called by the worker."""
        trainers = [Trainer(r.net, r.train) for r in self.runs]
        env = environment(pick_device(self.runs[0].train.device))
        streams = {i: t.run(self._stop) for i, t in enumerate(trainers)}
        with self._lock:
            for r in self.runs:
                r.env = env
        while streams and not self._stop.is_set():
            for i, stream in list(streams.items()):
                rec = next(stream, None)
                with self._lock:
                    if rec is None:
                        del streams[i]
                        self.runs[i].status = "stopped" if self._stop.is_set() else "done"
                        continue
                    self.runs[i].records.append(rec)
                    if rec.get("diverged"):
                        del streams[i]
                        self.runs[i].status, self.runs[i].message = "diverged", rec["message"]
        with self._lock:
            for r in self.runs:
                if r.status == "running":
                    r.status = "stopped"
            self.weights = [{k: v.detach().cpu().clone() for k, v in t.net.state_dict().items()}
                            for t in trainers]


class JobManager:
    """Shared by every session: starts each job's worker thread and caps how many train at once."""

    def __init__(self, max_running: int = 1,
                 on_finish: Callable[[Job], None] | None = None,
                 memory_budget: int | None = None):
        self.max_running = max(1, max_running)
        self.memory_budget = memory_budget  # bytes one job may use; None: no limit
        self._on_finish = on_finish
        self._cond = threading.Condition()
        self._queue: list[Job] = []
        self._running = 0

    def submit(self, specs: list[tuple[NetConfig, TrainConfig]],
               on_finish: Callable[[Job], None] | None = None) -> Job:
        """Queue a job; `budget.OverBudget` (one sentence) if it cannot fit in memory.

        `on_finish(job)` runs in the worker once the job has ended, whether or not any page is
        still open to see it (a closed tab stops its job; this still files the runs away).
        """
        if self.memory_budget is not None:
            budget.check(specs, self.memory_budget)
        job = Job(specs)
        job._on_finish = on_finish
        with self._cond:
            self._queue.append(job)
            self._renumber()
        threading.Thread(target=self._work, args=(job,), daemon=True,
                         name="resviz-train").start()
        return job

    def _renumber(self) -> None:
        for i, job in enumerate(self._queue):
            job._set(position=i + 1)

    def _work(self, job: Job) -> None:
        with self._cond:
            while not job._stop.is_set() and (self._running >= self.max_running
                                              or self._queue[0] is not job):
                self._cond.wait(timeout=0.5)
            self._queue.remove(job)
            self._renumber()
            self._cond.notify_all()
            stopped_in_queue = job._stop.is_set()
            if not stopped_in_queue:
                self._running += 1
        if stopped_in_queue:
            for r in job.runs:
                r.status = "stopped"
            self._finished(job, state="stopped", position=None)
            return
        job._set(state="running", position=None)
        final = {"state": "failed", "message": "training was interrupted"}
        try:
            job.train()
            final = {"state": "stopped" if job._stop.is_set() else "done"}
        except Exception as e:  # noqa: BLE001 - a worker must report, never die silently
            final = {"state": "failed", "message": f"training failed: {e}"}
            with job._lock:
                for r in job.runs:
                    r.status, r.message = "failed", final["message"]
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()
        self._finished(job, **final)
        _return_freed_memory()

    def _finished(self, job: Job, **final) -> None:
        """Run the callbacks (saving the runs), then publish the end: `done` means saved."""
        for callback in (job._on_finish, self._on_finish):
            if callback is not None:
                try:
                    callback(job)
                except Exception as e:  # noqa: BLE001 - e.g. a full disk: the job still ended
                    final["message"] = f"the finished runs could not be saved: {e}"
        job._set(**final)

    @property
    def running(self) -> int:
        with self._cond:
            return self._running

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._queue)


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def _return_freed_memory() -> None:
    """Hand the memory a finished job freed back to the system (glibc keeps it otherwise).

    Measured: after a ResNet-110 step glibc's malloc held ~800 MB that training had freed, so a
    server's RSS stayed at its peak after every job; malloc_trim releases it. A no-op elsewhere.
    """
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)
