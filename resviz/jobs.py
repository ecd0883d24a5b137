"""Background training for the app: shared runs, one job per session, a fair queue with ETAs.

A session asks for runs with `JobManager.submit` and gets a `Ticket`. Each run it asks for is
identified by everything that decides its numbers (`resviz.cache`): one that finished before is
served from the shared store at once, one that is training is followed from where it is, and
only the rest are trained, in one new `Job`. A job trains until no ticket follows it any more,
then stops and keeps what it finished. One session has one ticket at a time, however many tabs
it has open, and jobs start first come, first served, so no session can hold the others back.

Workers never touch Streamlit: they append records to plain `Run` objects under a lock, and the
page's fragment reads `Ticket.snapshot()`. A job too large for the memory budget is refused
before it is queued (`resviz.budget`). On a CPU a job trains its configurations side by side,
one thread each: small networks' convolutions are too small to share threads, so stepping them
in turn on all threads is slower (python -m scripts.bench_train --threads). A network alone
gets the spare CPUs if it is large enough to use them (`runtime.plan_threads`).
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import torch

from . import budget
from . import data as datasets
from .cache import SharedRuns, Stored, device_kind, run_key
from .config import NetConfig, TrainConfig
from .models import cpu_state
from .pace import Eta, Pace, Plan, Slot, balanced, schedule, step_macs, step_seconds
from .runs import Run
from .runtime import environment, pick_device, plan_threads, return_freed_memory, slots_needed
from .schema import FINISHED, Status
from .tickets import Part, Snapshot, Ticket
from .train import Trainer

MAX_CONFIGS = 4
MAX_OWNERS = 1000  # sessions whose latest ticket is kept (a reload finds it)
WARM_STEPS = 2  # a job's first steps build kernels and caches: its pace is measured after them
MEASURED_STEPS = 3  # a job's own pace counts once it has trained this many steps after those

Specs = list[tuple[NetConfig, TrainConfig]]


class Job:
    """Up to four configurations sharing seed, data order and budget, trained side by side:
    each thread takes a balanced share and steps its configurations in turn."""

    def __init__(
        self,
        specs: Specs,
        keys: list[str] | None = None,
        threads: list[int] | None = None,
        plan: Plan | None = None,
    ):
        if not 1 <= len(specs) <= MAX_CONFIGS:
            raise ValueError(f"a job trains 1 to {MAX_CONFIGS} configurations, not {len(specs)}")
        self.runs = [Run(net=n, train=t) for n, t in specs]
        self.keys = keys or [""] * len(specs)
        self.threads = threads or [1] * len(specs)
        self.plan = plan
        self.weights: list[dict | None] = [None] * len(specs)  # final state dicts, on the CPU
        self.state = Status.QUEUED
        self.message = ""
        self.position: int | None = None
        self.tickets: list[Ticket] = []  # following it; changed under the manager's lock
        self.val_images: int | None = None
        self._warm: tuple[float, list[int]] | None = None  # (time, steps) once past WARM_STEPS
        self._stop = threading.Event()
        self._lock = threading.Lock()

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

    def measured_factor(self) -> float | None:
        """Its seconds per predicted second since its first steps, or None before it has
        trained MEASURED_STEPS more."""
        if self.plan is None or self._warm is None:
            return None
        t0, done0 = self._warm
        done = self.done_steps()
        if min(d - d0 for d, d0 in zip(done, done0)) < MEASURED_STEPS and self.active:
            return None
        predicted = self.plan.predicted(done0) - self.plan.predicted(done)
        return (time.monotonic() - t0) / predicted if predicted > 0 else None

    def train(self, workers: int = 1) -> None:
        """Run every configuration to its end (or the stop flag), on up to `workers` threads
        (one on a GPU, which runs one kernel at a time anyway); called by the job's thread."""
        trainers = [Trainer(r.net, r.train, threads=t) for r, t in zip(self.runs, self.threads)]
        device = pick_device(self.runs[0].train.device)
        env = environment(device)
        with self._lock:
            self.val_images = len(trainers[0].data.x_val)
            for r, t in zip(self.runs, self.threads):
                r.env = {**env, "threads": t}
        if self.plan is not None:
            groups = [list(g) for g in self.plan.groups]
        else:
            costs = [step_macs(t.net_cfg, t.cfg.batch_size, t.data.info.size) for t in trainers]
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
        with self._lock:
            for r in self.runs:
                if r.status == Status.RUNNING:
                    r.status = Status.STOPPED
            self.weights = [cpu_state(t.net) for t in trainers]

    def _train_in_turn(self, streams: dict, failed: threading.Event) -> None:
        """One step of each configuration in turn, so their curves grow at the same pace."""
        while streams and not self._stop.is_set() and not failed.is_set():
            for i, stream in list(streams.items()):
                rec = next(stream, None)
                with self._lock:
                    if rec is None:
                        del streams[i]
                        self.runs[i].status = Status.STOPPED if self._stop.is_set() else Status.DONE
                        continue
                    self.runs[i].records.append(rec)
                    if rec.get("diverged"):
                        del streams[i]
                        self.runs[i].status, self.runs[i].message = Status.DIVERGED, rec["message"]
                    if self._warm is None and all(
                        len(r.records) >= WARM_STEPS or r.status != Status.RUNNING
                        for r in self.runs
                    ):
                        self._warm = (time.monotonic(), [len(r.records) for r in self.runs])


class JobManager:
    """Shared by every session: identifies runs, starts each job's thread, caps the slots.

    On a CPU a slot is a core: a job takes one per torch thread it trains on, at most all of
    them, so on 2 slots two one-network jobs train side by side and a four-network job uses both
    slots for its four networks. On a GPU a slot is a job the GPU trains at the same time.
    """

    def __init__(
        self,
        slots: int = 1,
        on_finish: Callable[[Ticket], None] | None = None,
        memory_budget: int | None = None,
        store: SharedRuns | None = None,
        device_type: str = "cpu",
        pace: Pace | None = None,
    ):
        self.slots = max(1, slots)
        self.memory_budget = memory_budget  # bytes a slot may use; None: no limit
        self.store = store  # None: nothing is shared across requests once its job has ended
        self.device_type = device_type
        self.pace = pace or Pace()
        self._on_finish = on_finish
        self._cond = threading.Condition()
        self._queue: list[Job] = []
        self._running: list[Job] = []
        self._live: dict[str, tuple[Job, int]] = {}  # run key -> the job training it, its index
        self._owners: OrderedDict[str, Ticket] = OrderedDict()  # session id -> latest ticket
        self._val_images: dict[str, int] = {}  # dataset -> validation images, once seen

    # --- asking for runs --------------------------------------------------------------------

    def submit(
        self,
        specs: Specs,
        on_finish: Callable[[Ticket], None] | None = None,
        owner: str | None = None,
    ) -> Ticket:
        """The runs of `specs`: finished ones at once, training ones followed, the rest trained.

        `owner` (a session id) has one ticket at a time: while its ticket is active, that one is
        returned. Raises `budget.OverBudget` (one sentence) if what must be trained cannot fit in
        memory; nothing is queued then. `on_finish(ticket)` runs once every run of the ticket
        has ended, whether or not a page is still open (it files the runs away).
        """
        if not 1 <= len(specs) <= MAX_CONFIGS:
            raise ValueError(f"a job trains 1 to {MAX_CONFIGS} configurations, not {len(specs)}")
        with self._cond:
            current = self._owners.get(owner) if owner else None
            if current is not None and current.active:
                return current
        device, sizes, threads, keys = self._identify(specs)
        stored = {k: s for k in dict.fromkeys(keys) if self.store and (s := self.store.get(k))}
        with self._cond:
            todo = [k for k in dict.fromkeys(keys) if k not in stored and not self._training(k)]
            job = self._new_job(todo, specs, keys, threads, sizes, device.type) if todo else None
            parts = [Part(stored=stored[k]) if k in stored else Part(*self._live[k]) for k in keys]
            ticket = Ticket(self, parts, on_finish)
            for j in ticket.jobs():
                j.tickets.append(ticket)
            if owner:
                self._owners[owner] = ticket
                self._owners.move_to_end(owner)
                while len(self._owners) > MAX_OWNERS:  # sessions long gone
                    self._owners.popitem(last=False)
            if job is not None:
                threading.Thread(
                    target=self._work, args=(job,), daemon=True, name="resviz-job"
                ).start()
        if not ticket.jobs():  # every run was finished: nothing to follow
            ticket.settle()
        return ticket

    def _identify(self, specs: Specs) -> tuple[torch.device, list[int], list[int], list[str]]:
        """The device, image sizes, torch threads and run keys a request's runs would have."""
        device = pick_device(specs[0][1].device)
        sizes = [datasets.info(t.dataset).size for _, t in specs]
        threads = plan_threads(
            [step_macs(n, t.batch_size, s) for (n, t), s in zip(specs, sizes)],
            self.slots,
            device.type,
        )
        keys = [run_key(n, t, device_kind(device), th) for (n, t), th in zip(specs, threads)]
        return device, sizes, threads, keys

    def finished(self, specs: Specs) -> list[Stored | None]:
        """Each run of `specs` as the store has it finished, or None: nothing is trained."""
        keys = self._identify(specs)[3]
        return [self.store.get(k) if self.store else None for k in keys]

    def _training(self, key: str) -> bool:
        live = self._live.get(key)
        return live is not None and not live[0].stopping

    def _new_job(
        self,
        todo: list[str],
        specs: Specs,
        keys: list[str],
        threads: list[int],
        sizes: list[int],
        device_type: str,
    ) -> Job:
        picked = [keys.index(k) for k in todo]
        chosen = [specs[i] for i in picked]
        chosen_threads = [threads[i] for i in picked]
        workers = min(len(chosen), self.slots) if device_type == "cpu" else 1
        need = slots_needed(chosen_threads, workers, device_type)
        if self.memory_budget is not None:  # a job has the memory of the slots it takes
            budget.check(chosen, self.memory_budget * need, workers)
        seconds = [
            step_seconds(n, t, sizes[i], threads[i], self._val_images.get(t.dataset, 1000))
            for i, (n, t) in zip(picked, chosen)
        ]
        groups = balanced(seconds, workers)
        plan = Plan(
            tuple(seconds),
            tuple(t.steps for _, t in chosen),
            tuple(tuple(g) for g in groups),
            min(need, self.slots),
        )
        job = Job(chosen, todo, chosen_threads, plan)
        for j, key in enumerate(todo):
            self._live[key] = (job, j)
        self._queue.append(job)
        self._renumber()
        return job

    def ticket(self, owner: str) -> Ticket | None:
        """The session's latest ticket, the one every tab of the session shows."""
        with self._cond:
            return self._owners.get(owner)

    def release(self, ticket: Ticket) -> None:
        """A ticket stops following its jobs: each job nobody follows any more stops. The runs
        of jobs that go on for others are kept as they are now; the rest when their job ends."""
        with self._cond:
            for job in ticket.jobs():
                others = [t for t in job.tickets if t is not ticket]
                if others:
                    job.tickets.remove(ticket)
                    ticket.freeze(job)
                else:
                    job.stop()
        if not ticket.jobs():
            ticket.settle()

    # --- the queue ----------------------------------------------------------------------------

    def _renumber(self) -> None:
        for i, job in enumerate(self._queue):
            job.place(i + 1)

    def _work(self, job: Job) -> None:
        need = job.plan.slots
        with self._cond:
            while not job.stopping and (
                self._busy() + need > self.slots or self._queue[0] is not job
            ):
                self._cond.wait(timeout=0.5)
            self._queue.remove(job)
            self._renumber()
            self._cond.notify_all()
            # Decided once, here: a stop that comes after it is seen by the training loop.
            start = not job.stopping
            if start:
                self._running.append(job)
        if not start:
            job.cancel()
            self._finished(job, Status.STOPPED)
            return
        job.begin()
        state, message = Status.FAILED, "training was interrupted"
        try:
            job.train(workers=len(job.plan.groups))
            state, message = (Status.STOPPED if job.stopping else Status.DONE), ""
        except Exception as e:  # noqa: BLE001 - a worker must report, never die silently
            message = f"training failed: {e}"
            job.fail(message)
        finally:
            if (measured := job.measured_factor()) is not None:
                self.pace.observe(measured)
            with self._cond:
                self._running.remove(job)
                if job.val_images:
                    self._val_images[job.runs[0].train.dataset] = job.val_images
                self._cond.notify_all()
        self._finished(job, state, message)
        return_freed_memory()

    def _busy(self) -> int:
        return sum(j.plan.slots for j in self._running)

    def _finished(self, job: Job, state: Status, message: str = "") -> None:
        """Keep the finished runs, settle the tickets (saving their runs), then publish the
        end: a ticket that reads `done` has been saved."""
        with self._cond:
            for key in job.keys:
                if self._live.get(key, (None,))[0] is job:
                    del self._live[key]
            tickets = list(job.tickets)
        if self.store is not None and state != Status.FAILED:
            for key, run, weights in zip(job.keys, job.snapshot().runs, job.weights):
                try:
                    if run.status in FINISHED:
                        self.store.put(key, run, weights)
                except OSError:
                    pass  # not shared, but every ticket still gets its copy below
        job.end(state, message)
        for ticket in tickets:
            ticket.settle()
        if self._on_finish is not None:
            for ticket in tickets:
                self._on_finish(ticket)

    # --- what the page shows -------------------------------------------------------------------

    def etas(self) -> dict[Job, Eta]:
        """Estimated start and finish of every queued and running job, from measured speed."""
        with self._cond:
            running, queued = list(self._running), list(self._queue)
        factors = [m for j in running if (m := j.measured_factor()) is not None]
        factor = sum(factors) / len(factors) if factors else self.pace.factor
        etas = {}
        slots = []
        for job in running:
            left = job.plan.predicted(job.done_steps()) * (job.measured_factor() or factor)
            etas[job] = Eta(0.0, left)
            slots.append(Slot(job.plan.slots, left))
        for job, eta in zip(
            queued,
            schedule(
                self.slots, slots, [(j.plan.slots, j.plan.predicted() * factor) for j in queued]
            ),
        ):
            etas[job] = eta
        return etas

    def viewers(self) -> int:
        """Tabs following a queued or training job: each redraws its live view."""
        with self._cond:
            tickets = {id(t): t for j in self._running + self._queue for t in j.tickets}
        return sum(max(1, len(t.tabs)) for t in tickets.values())
