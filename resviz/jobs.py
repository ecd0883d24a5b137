"""Background training for the app: one job per session, worker threads, a global cap.

Workers never touch Streamlit: they append records to plain `Run` objects under a lock, and the
page's fragment reads `Job.snapshot()`. A `JobManager` is shared by all sessions and lets at
most `slots` training threads run at once; jobs that do not fit wait in a visible queue. A job
too large for the memory budget is refused before it is queued (`resviz.budget`).

On a CPU a job trains its configurations side by side, one thread each with one torch thread:
the small networks here are too small for two torch threads to share one convolution well.
Measured on 2 cores (the Degradation preset, bf16): 528 ms a round with the four networks in
turn on two torch threads, 216 ms with two threads of two networks each.
"""
from __future__ import annotations

import copy
import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
    """Up to four configurations sharing seed, data order and budget, trained side by side:
    each thread takes a balanced share and steps its configurations in turn."""

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

    def train(self, workers: int = 1) -> None:
        """Run every configuration to its end (or the stop flag), on up to `workers` threads
        (one on a GPU, which runs one kernel at a time anyway); called by the job's thread."""
        trainers = [Trainer(r.net, r.train) for r in self.runs]
        device = pick_device(self.runs[0].train.device)
        env = environment(device)
        with self._lock:
            for r in self.runs:
                r.env = env
        groups = balanced(trainers, workers if device.type == "cpu" else 1)
        failed = threading.Event()

        def work(group: list[int]) -> None:
            try:
                self._train_in_turn({i: trainers[i].run(self._stop) for i in group}, failed)
            except BaseException:
                failed.set()  # the other threads stop too: the job fails as one
                raise

        with ThreadPoolExecutor(len(groups), thread_name_prefix="resviz-train") as pool:
            for done in [pool.submit(work, g) for g in groups]:
                done.result()  # re-raises a worker's exception here
        with self._lock:
            for r in self.runs:
                if r.status == "running":
                    r.status = "stopped"
            self.weights = [{k: v.detach().cpu().clone() for k, v in t.net.state_dict().items()}
                            for t in trainers]

    def _train_in_turn(self, streams: dict, failed: threading.Event) -> None:
        """One step of each configuration in turn, so their curves grow at the same pace."""
        while streams and not self._stop.is_set() and not failed.is_set():
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


def balanced(trainers: list[Trainer], workers: int) -> list[list[int]]:
    """Indices of `trainers` in at most `workers` groups of about equal work per step: the most
    expensive first, each to the group with the least so far (depth x width^2 x batch)."""
    def cost(t: Trainer) -> int:
        return t.net_cfg.depth * t.net_cfg.width ** 2 * t.cfg.batch_size

    groups: list[list[int]] = [[] for _ in range(max(1, min(workers, len(trainers))))]
    load = [0] * len(groups)
    for i in sorted(range(len(trainers)), key=lambda i: -cost(trainers[i])):
        g = load.index(min(load))
        groups[g].append(i)
        load[g] += cost(trainers[i])
    return [sorted(g) for g in groups]


class JobManager:
    """Shared by every session: starts each job's thread and caps the training threads.

    A job takes one slot per configuration, at most all of them: on 2 slots, two one-network
    jobs train side by side and a four-network job uses both slots for its four networks.
    """

    def __init__(self, slots: int = 1,
                 on_finish: Callable[[Job], None] | None = None,
                 memory_budget: int | None = None):
        self.slots = max(1, slots)
        self.memory_budget = memory_budget  # bytes a slot may use; None: no limit
        self._on_finish = on_finish
        self._cond = threading.Condition()
        self._queue: list[Job] = []
        self._running = 0
        self._busy = 0  # slots taken

    def submit(self, specs: list[tuple[NetConfig, TrainConfig]],
               on_finish: Callable[[Job], None] | None = None) -> Job:
        """Queue a job; `budget.OverBudget` (one sentence) if it cannot fit in memory.

        `on_finish(job)` runs in the worker once the job has ended, whether or not any page is
        still open to see it (a closed tab stops its job; this still files the runs away).
        """
        if self.memory_budget is not None:  # a job has the memory of the slots it takes
            workers = min(len(specs), self.slots)
            budget.check(specs, self.memory_budget * workers, workers)
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
        need = min(len(job.runs), self.slots)
        with self._cond:
            while not job._stop.is_set() and (self._busy + need > self.slots
                                              or self._queue[0] is not job):
                self._cond.wait(timeout=0.5)
            self._queue.remove(job)
            self._renumber()
            self._cond.notify_all()
            stopped_in_queue = job._stop.is_set()
            if not stopped_in_queue:
                self._running += 1
                self._busy += need
        if stopped_in_queue:
            for r in job.runs:
                r.status = "stopped"
            self._finished(job, state="stopped", position=None)
            return
        job._set(state="running", position=None)
        final = {"state": "failed", "message": "training was interrupted"}
        try:
            job.train(workers=need)
            final = {"state": "stopped" if job._stop.is_set() else "done"}
        except Exception as e:  # noqa: BLE001 - a worker must report, never die silently
            final = {"state": "failed", "message": f"training failed: {e}"}
            with job._lock:
                for r in job.runs:
                    r.status, r.message = "failed", final["message"]
        finally:
            with self._cond:
                self._running -= 1
                self._busy -= need
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
