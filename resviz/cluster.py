"""Ray as the engine for more than one machine (optional: pip install -r requirements-cluster.txt).

`python -m resviz sweep --ray ADDRESS` trains a sweep's configurations as Ray actors on a cluster
(on its GPUs where it has them), each streaming its records back to this process, which writes
the run files exactly as the in-process sweep does: one file per configuration, named from its
settings, so a rerun skips what finished. A configuration whose worker dies is written as failed
with the steps it trained; the others go on, and a rerun trains it again. ADDRESS is a cluster's
(`ray://head:10001`, `auto`) or `local` for a Ray instance on this machine.

The app does the same with RESVIZ_RAY_ADDRESS set: each configuration of a job trains on an actor
(`RemoteTrainer`), driven from the server like a local `Trainer`, so the live view, the queue and
the shared runs work as they do in-process.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import sweep
from .cache import device_kind
from .config import ConfigError, NetConfig, TrainConfig
from .runs import Run, save
from .runtime import GPU_JOBS, fast_precision, pick_device
from .schema import Record, Status
from .train import Trainer

POLL_STEPS = 10  # records fetched per round trip: the live progress lags at most this many


class WorkerLost(RuntimeError):
    """The Ray worker training a configuration stopped (killed, out of memory, its node lost)."""


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
    """One configuration training on a Ray worker; a Ray actor class through `Cluster`."""

    def __init__(self, net: dict, train: dict, threads: int | None = None):
        self.trainer = Trainer(NetConfig(**net), TrainConfig(**train), threads=threads)
        self.stream = self.trainer.run()

    def environment(self) -> dict:
        """Where it trains: the worker's device, versions and torch threads."""
        return self.trainer.env

    def next(self, n: int) -> list[Record]:
        """Its next `n` records (fewer at the end, none once it has ended)."""
        return [rec for _, rec in zip(range(n), self.stream)]

    def weights(self) -> dict[str, torch.Tensor]:
        return self.trainer.weights()

    def pid(self) -> int:
        return os.getpid()


def _hardware() -> tuple[str, str]:
    """A worker's hardware as a run's identity names it (`cache.device_kind`), and the
    precision it trains fastest in there."""
    device = pick_device()
    return device_kind(device), fast_precision(device)


@dataclass(frozen=True)
class Cluster:
    """A connected Ray cluster: the actor class with its resource request, and its capacity."""

    ray: Any
    actor: Any  # RemoteTrainer as a Ray actor class
    request: dict[str, float]  # what one slot is: one CPU, or 1 / GPU_JOBS of a GPU
    slots: int  # configurations it trains at once: its CPUs, or its GPUs times GPU_JOBS
    device_kind: str  # what its workers train on, as a run's identity names it
    precision: str  # "bf16" where its workers compute it natively

    @property
    def gpus(self) -> bool:
        return self.request["num_gpus"] > 0


def cluster(address: str) -> Cluster:
    """Connect to `address` and size what one configuration asks of a worker."""
    ray = connect(address)
    resources = ray.cluster_resources()
    gpus = resources.get("GPU", 0)
    request = {"num_cpus": 0 if gpus else 1, "num_gpus": 1 / GPU_JOBS if gpus else 0}
    kind, precision = ray.get(ray.remote(**request)(_hardware).remote())
    slots = max(1, int(gpus * GPU_JOBS or resources.get("CPU", 1)))
    return Cluster(ray, ray.remote(RemoteTrainer), request, slots, kind, precision)


def records(ray, actor) -> Iterator[Record]:
    """An actor's records as they come, POLL_STEPS at a time."""
    while batch := ray.get(actor.next.remote(POLL_STEPS)):
        yield from batch


@contextmanager
def _lost_worker(ray) -> Iterator[None]:
    """Ray's errors about a worker as `WorkerLost`: one sentence a page or a run file can show."""
    try:
        yield
    except ray.exceptions.RayError as e:
        raise WorkerLost(f"the Ray worker training it stopped ({type(e).__name__})") from e


class RayRun:
    """One configuration on a Ray actor, driven from this process as a local `Trainer` is:
    `run()` yields its records, `weights()` returns its network's and releases the actor; a lost
    worker raises `WorkerLost`. `threads`: its torch threads, None for the worker's choice;
    `share`: the part of a slot its actor holds (a job of more configurations than the cluster
    has slots holds them all at once, and they share those slots' CPUs or GPUs)."""

    def __init__(
        self,
        c: Cluster,
        net: NetConfig,
        train: TrainConfig,
        threads: int | None = None,
        share: float = 1.0,
    ):
        self.ray = c.ray
        request = {k: v * share for k, v in c.request.items()}
        self.actor = c.actor.options(**request).remote(net.to_dict(), train.to_dict(), threads)
        try:
            with _lost_worker(self.ray):
                self.env = self.ray.get(self.actor.environment.remote())
        except WorkerLost:
            self.close()
            raise
        self.threads = self.env["threads"]

    def run(self, stop: threading.Event | None = None) -> Iterator[Record]:
        with _lost_worker(self.ray):
            for rec in records(self.ray, self.actor):
                yield rec
                if stop is not None and stop.is_set():
                    return

    def weights(self) -> dict[str, torch.Tensor]:
        try:
            with _lost_worker(self.ray):
                return self.ray.get(self.actor.weights.remote())
        finally:
            self.close()

    def close(self) -> None:
        self.ray.kill(self.actor)


def run_sweep(
    entries: list[sweep.Entry],
    folder: str | Path,
    address: str,
    keep_every: int = 1,
    workers: int | None = None,
    on_end: Callable[[sweep.Entry, str], None] | None = None,
) -> dict[str, str]:
    """Train `entries` on Ray, `workers` at a time (default: the cluster's slots); each entry's
    outcome: done, diverged or failed."""
    c = cluster(address)
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
            outcomes[entry.filename] = _train_one(c, entry, folder, keep_every)
            if on_end is not None:
                on_end(entry, outcomes[entry.filename])

    threads = [
        threading.Thread(target=work, daemon=True) for _ in range(max(1, workers or c.slots))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def _train_one(c: Cluster, entry: sweep.Entry, folder: str | Path, keep_every: int) -> str:
    """Train one entry on an actor and write its file; a dead worker's run is written failed."""
    seen: list[Record] = []

    def kept(stream: Iterator[Record]) -> Iterator[Record]:
        for rec in stream:
            seen.append(rec)
            yield rec

    remote: RayRun | None = None
    try:
        remote = RayRun(c, entry.net, entry.train)
        sweep.run_one(entry, folder, keep_every, records=kept(remote.run()), env=remote.env)
        return Status.DIVERGED if seen and seen[-1].get("diverged") else Status.DONE
    except WorkerLost as e:
        run = Run(
            net=entry.net,
            train=entry.train,
            env=remote.env if remote else {},
            status=Status.FAILED,
            message=f"{e} after step {len(seen)}; run the sweep again to retrain it",
        )
        run.records = sweep.thin(seen, keep_every, entry.train.probe_every * keep_every)
        save(run, folder, entry.filename)
        return Status.FAILED
    finally:
        if remote is not None:
            remote.close()
