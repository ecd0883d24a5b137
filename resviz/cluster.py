"""Ray as the engine for more than one machine (optional: pip install -r requirements-cluster.txt).

`python -m resviz sweep --ray ADDRESS` trains a sweep's configurations as Ray actors on a cluster
(on its GPUs where it has them), each streaming its records back to this process, which writes
the run files exactly as the in-process sweep does: one file per configuration, named from its
settings, so a rerun skips what finished. A configuration whose worker dies is written as failed
with the steps it trained; the others go on, and a rerun trains it again. ADDRESS is a cluster's
(`ray://head:10001`, `auto`) or `local` for a Ray instance on this machine.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from . import sweep
from .config import ConfigError, NetConfig, TrainConfig
from .runs import Run, save
from .runtime import GPU_JOBS, environment
from .schema import Record, Status
from .train import Trainer

POLL_STEPS = 10  # records fetched per round trip: the live progress lags at most this many


def connect(address: str):
    """The `ray` module, connected to `address` (once per process)."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "Ray is not installed here: pip install -r requirements-cluster.txt"
        ) from None
    if not ray.is_initialized():
        ray.init(
            address=None if address == "local" else address,
            log_to_driver=False,
            include_dashboard=False,
        )
    return ray


class RemoteTrainer:
    """One configuration training on a Ray worker; made a Ray actor by `run_sweep`."""

    def __init__(self, net: dict, train: dict):
        self.trainer = Trainer(NetConfig(**net), TrainConfig(**train))
        self.stream = self.trainer.run()

    def environment(self) -> dict:
        """Where it trains: the worker's device, versions and torch threads."""
        return {**environment(self.trainer.device), "threads": self.trainer.threads}

    def next(self, n: int) -> list[Record]:
        """Its next `n` records (fewer at the end, none once it has ended)."""
        return [rec for _, rec in zip(range(n), self.stream)]

    def pid(self) -> int:
        import os

        return os.getpid()


def records(ray, actor) -> Iterator[Record]:
    """An actor's records as they come, POLL_STEPS at a time."""
    while batch := ray.get(actor.next.remote(POLL_STEPS)):
        yield from batch


def run_sweep(
    entries: list[sweep.Entry],
    folder: str | Path,
    address: str,
    keep_every: int = 1,
    workers: int | None = None,
    on_end: Callable[[sweep.Entry, str], None] | None = None,
) -> dict[str, str]:
    """Train `entries` on Ray, `workers` at a time (default: the cluster's CPUs, or its GPUs
    times RESVIZ_GPU_JOBS' default); each entry's outcome: done, diverged or failed."""
    ray = connect(address)
    resources = ray.cluster_resources()
    gpus = resources.get("GPU", 0)
    actor = ray.remote(num_cpus=0 if gpus else 1, num_gpus=1 / GPU_JOBS if gpus else 0)(
        RemoteTrainer
    )
    workers = workers or int(gpus * GPU_JOBS or resources.get("CPU", 1))
    todo: queue.Queue[sweep.Entry] = queue.Queue()
    for entry in entries:
        todo.put(entry)
    outcomes: dict[str, str] = {}

    def work() -> None:
        while True:
            try:
                entry = todo.get_nowait()
            except queue.Empty:
                return
            outcomes[entry.filename] = _train_one(ray, actor, entry, folder, keep_every)
            if on_end is not None:
                on_end(entry, outcomes[entry.filename])

    threads = [threading.Thread(target=work, daemon=True) for _ in range(max(1, workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def _train_one(ray, actor_class, entry: sweep.Entry, folder: str | Path, keep_every: int) -> str:
    """Train one entry on an actor and write its file; a dead worker's run is written failed."""
    actor = actor_class.remote(entry.net.to_dict(), entry.train.to_dict())
    seen: list[Record] = []

    def kept(stream: Iterator[Record]) -> Iterator[Record]:
        for rec in stream:
            seen.append(rec)
            yield rec

    env: dict = {}
    try:
        env = ray.get(actor.environment.remote())
        sweep.run_one(entry, folder, keep_every, records=kept(records(ray, actor)), env=env)
        return Status.DIVERGED if seen and seen[-1].get("diverged") else Status.DONE
    except ray.exceptions.RayError as e:
        run = Run(
            net=entry.net,
            train=entry.train,
            env=env,
            records=seen,
            status=Status.FAILED,
            message=f"the Ray worker training it stopped after step {len(seen)} "
            f"({type(e).__name__}); run the sweep again to retrain it",
        )
        run.records = sweep.thin(seen, keep_every, entry.train.probe_every * keep_every)
        save(run, folder, entry.filename)
        return Status.FAILED
    finally:
        ray.kill(actor)
