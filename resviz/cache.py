"""A run's identity, and the store of finished runs that every session shares.

A run is identified by everything that decides its numbers: the network, the training
configuration (seed, dataset, precision, schedule ...), the kind of device and the torch threads
it trains on (a different count sums in a different order: after 20 steps of ResNet-20,
validation error 79.2% on one thread, 79.5% on two), and the engine's version. Two requests with
one identity would give the same records, so the second is served the first's.

The engine's version is a digest of the source of every module that computes a run's numbers
and of the versions of the packages they use: any code change there, even a comment, names new
runs, so a changed engine never serves numbers an older one computed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch

from .config import NetConfig, TrainConfig
from .runs import Run, RunFileError, load, save, save_weights
from .schema import FINISHED

# The modules whose code decides a run's records (tests/test_shared_runs.py checks this list against
# what resviz.train imports), and the packages whose versions do.
NUMERIC_MODULES = ("config", "data", "models", "probes", "schema", "synthetic", "train")
PACKAGES = ("torch", "torchvision", "numpy", "mlxtend")


@functools.lru_cache(maxsize=1)
def engine_version() -> str:
    """A digest of the numeric modules' source and the packages' versions, read once."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in NUMERIC_MODULES:
        h.update(name.encode() + b"\0" + (here / f"{name}.py").read_bytes())
    for package in PACKAGES:
        try:
            h.update(f"{package}=={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{package} missing".encode())
    return h.hexdigest()[:16]


def device_kind(device: torch.device) -> str:
    """What about the hardware changes the numbers: the GPU model, or the CPU's vector unit."""
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    if device.type == "cpu":
        return f"cpu:{platform.machine()}:{torch.backends.cpu.get_cpu_capability()}"
    return device.type


def run_key(net: NetConfig, train: TrainConfig, device: str, threads: int) -> str:
    """The identity of a run: 32 hex digits of everything that decides its numbers."""
    what = {
        "net": net.to_dict(),
        "train": {**train.to_dict(), "device": None},
        "device": device,
        "threads": threads,
        "engine": engine_version(),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Stored:
    run: Run
    path: Path  # the run file; its weights, when kept, are beside it (`.pt`)


class SharedRuns:
    """Finished runs by identity, one file each (`<key>.json`, weights in `<key>.pt`).

    Written only by the job manager when a run ends, never by a session, so no session can
    change what another is shown. A file that cannot be read counts as absent: it is retrained.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def get(self, key: str) -> Stored | None:
        path = self.folder / f"{key}.json"
        try:
            run = load(path)
        except (OSError, RunFileError):
            return None
        return Stored(run, path) if run.status in FINISHED else None

    def put(self, key: str, run: Run, weights: dict | None) -> Path:
        """Keep a finished run (weights first: a reader that finds the run finds them too)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if weights is not None:
            save_weights(weights, self.folder / f"{key}.json")
        return save(run, self.folder, key)
