"""What one session asked for: its runs in the order asked, each finished when asked (a recorded
run from the shared store), followed in the job that trains it, or kept as it was when the
session stopped following it. Every tab of the session shows the same ticket."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .cache import Stored
from .pace import Eta
from .runs import Run, load_weights
from .schema import Status

if TYPE_CHECKING:
    from .jobs import JobManager
    from .training_job import Job


@dataclass(frozen=True)
class Snapshot:
    state: Status  # not DIVERGED: a job whose run diverged is done
    position: int | None  # place in the queue while queued (1 = next)
    runs: list[Run]  # copies: safe to read while the worker goes on
    message: str
    eta: Eta | None = None  # while queued or running: seconds to start and to end
    recorded: bool = False  # every run had finished before it was asked for
    followers: int = 0  # sessions following the jobs it follows


@dataclass
class Part:
    """One run of a ticket: in `job` at `index` while followed, else `stored` or `frozen`."""

    job: Job | None = None
    index: int = 0
    stored: Stored | None = None
    frozen: Run | None = None

    def run(self) -> Run:
        if self.job is not None:
            return self.job.copy_run(self.index)
        if self.frozen is not None:
            return self.frozen
        assert self.stored is not None, "a part is followed, stored or frozen"
        return self.stored.run


@dataclass
class Ticket:
    manager: JobManager
    parts: list[Part]
    on_finish: Callable[[Ticket], None] | None = None
    tabs: set[str] = field(default_factory=set)
    _final: Snapshot | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)  # on_finish may read it

    def __hash__(self) -> int:  # one ticket is one request: identity, not contents
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def jobs(self) -> list[Job]:
        """The jobs it still follows, each once."""
        return list({id(p.job): p.job for p in self.parts if p.job is not None}.values())

    @property
    def active(self) -> bool:
        return self._final is None

    @property
    def runs(self) -> list[Run]:
        return self.snapshot().runs

    @property
    def weights(self) -> list[dict | None]:
        """Final state dicts, once ended: from the job that trained it or the shared store."""
        out = []
        for p in self.parts:
            if p.job is not None and p.job.weights[p.index] is not None:
                out.append(p.job.weights[p.index])
            elif p.stored is not None:
                out.append(load_weights(p.stored.path))
            else:
                out.append(None)
        return out

    def snapshot(self) -> Snapshot:
        if self._final is not None:
            return self._final
        runs = [p.run() for p in self.parts]
        jobs = self.jobs()
        queued = [j for j in jobs if j.state == Status.QUEUED]
        state = (
            Status.RUNNING
            if any(j.state != Status.QUEUED for j in jobs) or not queued
            else Status.QUEUED
        )
        position = min(j.position or 1 for j in queued) if state == Status.QUEUED else None
        etas = self.manager.etas()
        mine = [etas[j] for j in jobs if j in etas]
        eta = Eta(min(e.start_s for e in mine), max(e.finish_s for e in mine)) if mine else None
        return Snapshot(state, position, runs, "", eta, False, self._followers(jobs))

    @staticmethod
    def _followers(jobs: list[Job]) -> int:
        return len({id(t) for j in jobs for t in j.tickets})

    def freeze(self, job: Job) -> None:
        """Stop following `job`: its runs stay as they are now, marked stopped if unfinished."""
        for p in self.parts:
            if p.job is job:
                run = job.copy_run(p.index)
                if run.status == Status.RUNNING:
                    run.status = Status.STOPPED
                p.job, p.frozen = None, run

    def settle(self) -> None:
        """Once every job it follows has ended: fix what it shows and file its runs away (the
        `on_finish` callback), then read as ended. Called by whichever thread ends it."""
        with self._lock:
            if self._final is not None or any(j.active for j in self.jobs()):
                return
            jobs = self.jobs()
            states = {j.state for j in jobs} | {Status.STOPPED for p in self.parts if p.frozen}
            state = next((s for s in (Status.FAILED, Status.STOPPED) if s in states), Status.DONE)
            message = next((j.message for j in jobs if j.message), "")
            if self.on_finish is not None:
                try:
                    self.on_finish(self)
                except Exception as e:  # noqa: BLE001 - e.g. a full disk: the runs still ended
                    message = f"the finished runs could not be saved: {e}"
            recorded = all(p.stored is not None for p in self.parts)
            self._final = Snapshot(
                state,
                None,
                [p.run() for p in self.parts],
                message,
                recorded=recorded,
                followers=self._followers(jobs),
            )

    def stop(self) -> None:
        """Stop following (the Stop button): a job nobody else follows stops too."""
        self.manager.release(self)

    def follow(self, tab: str) -> None:
        self.tabs.add(tab)

    def unfollow(self, tab: str) -> None:
        """A tab closed; when the session's last one has, the ticket stops following."""
        self.tabs.discard(tab)
        if not self.tabs and self.active:
            self.stop()
