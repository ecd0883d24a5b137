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

import threading
from collections import OrderedDict
from collections.abc import Callable

from . import budget
from . import data as datasets
from .cache import SharedRuns, Stored, device_kind, run_key
from .cluster import Cluster
from .pace import Eta, Pace, Plan, Slot, Speed, balanced, cost, schedule, step_macs
from .runtime import pick_device, plan_threads, return_freed_memory, slots_needed
from .schema import FINISHED, Status
from .tickets import Part, Ticket
from .training_job import MAX_CONFIGS, Job, Specs

MAX_OWNERS = 1000  # sessions whose latest ticket is kept (a reload finds it)


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
        cluster: Cluster | None = None,
    ):
        self.cluster = cluster  # None: jobs train in this process; else on its Ray actors
        self.slots = cluster.slots if cluster else max(1, slots)
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
        device_type, sizes, threads, keys = self._identify(specs)
        stored = {k: s for k in dict.fromkeys(keys) if self.store and (s := self.store.get(k))}
        with self._cond:
            todo = [k for k in dict.fromkeys(keys) if k not in stored and not self._training(k)]
            job = self._new_job(todo, specs, keys, threads, sizes, device_type) if todo else None
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

    def _identify(self, specs: Specs) -> tuple[str, list[int], list[int], list[str]]:
        """The device type, image sizes, torch threads and run keys a request's runs would have
        (on a Ray cluster: its workers' device, one thread each, as each actor has one CPU)."""
        sizes = [datasets.info(t.dataset).size for _, t in specs]
        if self.cluster is not None:
            kind, threads = self.cluster.device_kind, [1] * len(specs)
            device_type = "cuda" if self.cluster.gpus else "cpu"
        else:
            device = pick_device(specs[0][1].device)
            kind, device_type = device_kind(device), device.type
            threads = plan_threads(
                [step_macs(n, t.batch_size, s) for (n, t), s in zip(specs, sizes)],
                self.slots,
                device_type,
            )
        keys = [run_key(n, t, kind, th) for (n, t), th in zip(specs, threads)]
        return device_type, sizes, threads, keys

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
        if self.cluster is not None:  # an actor each, stepped by a thread each of this process
            workers = need = len(chosen)
        else:
            workers = min(len(chosen), self.slots) if device_type == "cpu" else 1
            need = slots_needed(chosen_threads, workers, device_type)
        if self.memory_budget is not None:  # a job has the memory of the slots it takes
            budget.check(chosen, self.memory_budget * need, workers)
        costs = tuple(cost(n, t, sizes[i], threads[i]) for i, (n, t) in zip(picked, chosen))
        groups = balanced([c.per_step for c in costs], workers)
        plan = Plan(costs, tuple(tuple(g) for g in groups), min(need, self.slots))
        job = Job(chosen, todo, chosen_threads, plan, self.cluster)
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
            if (measured := job.measured()) is not None:
                self.pace.observe(measured)
            with self._cond:
                self._running.remove(job)
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
        own = {job: self.pace.blended(job.measured()) for job in running}
        speed = Speed.mean(list(own.values())) if own else self.pace.speed
        etas = {}
        slots = []
        for job in running:
            left = job.plan.predicted(job.done_steps(), own[job])
            etas[job] = Eta(0.0, left)
            slots.append(Slot(job.plan.slots, left))
        for job, eta in zip(
            queued,
            schedule(
                self.slots, slots, [(j.plan.slots, j.plan.predicted(speed=speed)) for j in queued]
            ),
        ):
            etas[job] = eta
        return etas

    def viewers(self) -> int:
        """Tabs following a queued or training job: each redraws its live view."""
        with self._cond:
            tickets = {id(t): t for j in self._running + self._queue for t in j.tickets}
        return sum(max(1, len(t.tabs)) for t in tickets.values())
