"""One training job: the configurations one request trains side by side, on one thread each,
with the records a page reads while it runs, its measured pace, and a stop (`resviz.jobs`
queues jobs and shares their runs).
"""

from __future__ import annotations

import atexit
import copy
import threading
import time
import weakref

from . import data as datasets
from .cluster import Cluster, RayRun, WorkerLost
from .config import NetConfig, TrainConfig
from .pace import Measured, Plan, balanced, step_macs
from .runs import Run
from .runtime import pick_device
from .schema import Status
from .tickets import Snapshot, Ticket
from .train import Trainer

MAX_CONFIGS = 4
WARM_STEPS = 2  # a job's first steps build kernels and caches: its pace is measured after them

Specs = list[tuple[NetConfig, TrainConfig]]


_LIVE: weakref.WeakSet[Job] = weakref.WeakSet()  # every job not yet collected


@atexit.register
def _stop_all() -> None:
    """Stop every job still training when Python exits, and wait for its threads: a torch thread
    still working while the interpreter shuts down aborts the process (status 134)."""
    for job in list(_LIVE):
        job.stop()
    for thread in threading.enumerate():
        if thread.name.startswith("resviz-"):
            thread.join(timeout=60)


class Job:
    """Up to four configurations sharing seed, data order and budget, trained side by side:
    each thread takes a balanced share and steps its configurations in turn."""

    def __init__(
        self,
        specs: Specs,
        keys: list[str] | None = None,
        threads: list[int] | None = None,
        plan: Plan | None = None,
        cluster: Cluster | None = None,
    ):
        if not 1 <= len(specs) <= MAX_CONFIGS:
            raise ValueError(f"a job trains 1 to {MAX_CONFIGS} configurations, not {len(specs)}")
        self.runs = [Run(net=n, train=t) for n, t in specs]
        self.keys = keys or [""] * len(specs)
        self.threads = threads or [1] * len(specs)
        self.plan = plan
        self.cluster = cluster  # None: trained in this process; else each run on a Ray actor
        self.weights: list[dict | None] = [None] * len(specs)  # final state dicts, on the CPU
        self.state = Status.QUEUED
        self.message = ""
        self.position: int | None = None
        self.tickets: list[Ticket] = []  # following it; changed under the manager's lock
        self._warm: list[int] | None = None  # each run's steps once all are past WARM_STEPS
        # Seconds each run has taken since: in its training steps, and in all (passes included).
        self._spent = [[0.0, 0.0] for _ in specs]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        _LIVE.add(self)

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def active(self) -> bool:
        return self.state in (Status.QUEUED, Status.RUNNING)

    def snapshot(self) -> Snapshot:
        with self._lock:
            runs = [self._copy(i) for i in range(len(self.runs))]
            return Snapshot(self.state, self.position, runs, self.message)

    def copy_run(self, i: int) -> Run:
        with self._lock:
            return self._copy(i)

    def _copy(self, i: int) -> Run:
        run = copy.copy(self.runs[i])
        run.records = list(run.records)
        return run

    # What the manager changes, each under the job's lock: a snapshot never sees half of it.

    def place(self, position: int) -> None:
        """Its place in the queue (1 = next)."""
        with self._lock:
            self.position = position

    def begin(self) -> None:
        with self._lock:
            self.state, self.position = Status.RUNNING, None

    def cancel(self) -> None:
        """Stopped before it started: every run reads stopped, with no records."""
        with self._lock:
            for r in self.runs:
                r.status = Status.STOPPED

    def fail(self, message: str) -> None:
        """Every run failed, with `message`."""
        with self._lock:
            for r in self.runs:
                r.status, r.message = Status.FAILED, message

    def end(self, state: Status, message: str = "") -> None:
        with self._lock:
            self.state, self.message, self.position = state, message, None

    def done_steps(self) -> list[int]:
        """Steps each run has trained (all of them once it has ended)."""
        with self._lock:
            return [
                r.train.steps if r.status != Status.RUNNING else len(r.records) for r in self.runs
            ]

    def measured(self) -> Measured | None:
        """Its speed since its first steps (`pace.Speed`), or None before it has trained any."""
        if self.plan is None or self._warm is None:
            return None
        with self._lock:
            done = [len(r.records) for r in self.runs]
            spent = [list(s) for s in self._spent]
        steps = min(d - d0 for d, d0 in zip(done, self._warm))
        costs = self.plan.costs
        step_s = sum((d - d0) * c.step_s for d, d0, c in zip(done, self._warm, costs))
        eval_s = sum(
            (c.evaluations(d) - c.evaluations(d0)) * c.eval_s
            for d, d0, c in zip(done, self._warm, costs)
        )
        if steps <= 0 or step_s <= 0:
            return None
        train = sum(t for t, _ in spent)
        passes = max(0.0, sum(a for _, a in spent) - train)
        return Measured(train / step_s, passes / eval_s if eval_s > 0 else None, steps)

    def train(self, workers: int = 1) -> None:
        """Run every configuration to its end (or the stop flag), on up to `workers` threads
        (one on a GPU, which runs one kernel at a time anyway); called by the job's thread."""
        trainers = [self._trainer(r, t) for r, t in zip(self.runs, self.threads)]
        with self._lock:
            for r, t in zip(self.runs, trainers):
                r.env = t.env
        if self.plan is not None:
            groups = [list(g) for g in self.plan.groups]
        else:
            device = pick_device(self.runs[0].train.device)
            costs = [
                step_macs(r.net, r.train.batch_size, datasets.info(r.train.dataset).size)
                for r in self.runs
            ]
            groups = balanced(costs, workers if device.type == "cpu" else 1)
        failed = threading.Event()
        errors: list[BaseException] = []

        def work(group: list[int]) -> None:
            try:
                self._train_in_turn({i: trainers[i].run(self._stop) for i in group}, failed)
            except BaseException as e:  # noqa: BLE001 - re-raised below, in the job's thread
                errors.append(e)
                failed.set()  # the other threads stop too: the job fails as one

        # Daemon threads: a server that is told to stop does not wait for a job to end.
        pool = [
            threading.Thread(target=work, args=(g,), daemon=True, name="resviz-train")
            for g in groups
        ]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        if errors:
            raise errors[0]
        weights = [
            t.weights() if r.status != Status.FAILED else None for r, t in zip(self.runs, trainers)
        ]
        with self._lock:
            for r in self.runs:
                if r.status == Status.RUNNING:
                    r.status = Status.STOPPED
            self.weights = weights

    def _trainer(self, run: Run, threads: int) -> Trainer | RayRun:
        if self.cluster is not None:
            share = min(1.0, self.cluster.slots / len(self.runs))
            return RayRun(self.cluster, run.net, run.train, threads, share)
        return Trainer(run.net, run.train, threads=threads)

    def _train_in_turn(self, streams: dict, failed: threading.Event) -> None:
        """One step of each configuration in turn, so their curves grow at the same pace."""
        while streams and not self._stop.is_set() and not failed.is_set():
            for i, stream in list(streams.items()):
                t0 = time.perf_counter()
                try:
                    rec = next(stream, None)
                except WorkerLost as e:  # that run fails; the job's other runs go on
                    with self._lock:
                        del streams[i]
                        run = self.runs[i]
                        run.status = Status.FAILED
                        run.message = f"{e} after step {len(run.records)}"
                    continue
                with self._lock:
                    if rec is None:
                        del streams[i]
                        self.runs[i].status = Status.STOPPED if self._stop.is_set() else Status.DONE
                        continue
                    self.runs[i].records.append(rec)
                    if self._warm is not None:
                        self._spend(i, rec, time.perf_counter() - t0)
                    if rec.get("diverged"):
                        del streams[i]
                        self.runs[i].status, self.runs[i].message = Status.DIVERGED, rec["message"]
                    if self._warm is None and all(
                        len(r.records) >= WARM_STEPS or r.status != Status.RUNNING
                        for r in self.runs
                    ):
                        self._warm = [len(r.records) for r in self.runs]

    def _spend(self, i: int, rec: dict, took: float) -> None:
        """Count a step's seconds: its training, as the trainer timed it (images/s), and all it
        took, passes included; summed, since a Ray run's records come in batches."""
        speed = rec.get("images_per_s")
        self._spent[i][0] += self.runs[i].train.batch_size / speed if speed else took
        self._spent[i][1] += took
