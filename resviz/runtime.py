"""Where the work runs: device choice, CPU quota, training slots, torch threads per network,
environment facts.

Nothing here runs at import.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
import os
import platform
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from .config import ConfigError

Progress = Callable[[float], None]  # a long computation reports the fraction done, 0..1


def cpu_quota() -> int:
    """CPUs this process may really use: affinity, capped by a cgroup v2 `cpu.max` quota.

    On a hosted container the host may show 8+ CPUs while the quota allows 2: torch threads
    sized from the host count would fight over the quota's CPUs (docs/PERFORMANCE.md).
    """
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


# A training step of at least this many multiply-adds (forward, per image x batch) runs faster
# on two torch threads than on one; smaller ones run slower, their convolutions too small to
# share. Where a machine crosses over: python -m scripts.bench_train --threads.
PARALLEL_MACS = 2_000_000_000
# Jobs one GPU trains at once when RESVIZ_GPU_JOBS does not say: small networks leave a GPU
# mostly idle, so several jobs share it. The count that maximises total images/s on a GPU:
# python -m scripts.bench_train --concurrent.
GPU_JOBS = 4


def plan_threads(step_macs: list[int], slots: int, device_type: str = "cpu") -> list[int]:
    """Torch threads for each network of a job that may use `slots` CPUs.

    A job with at least as many networks as slots trains them side by side on one thread each
    (faster than sharing threads: `resviz.jobs`). With fewer, a network large enough to use them
    (`PARALLEL_MACS`) gets an equal share of the spare CPUs. Deterministic for a job and a
    server, since the thread count changes a run's last digits (`resviz.cache`).
    """
    n = len(step_macs)
    if device_type != "cpu" or n >= slots:
        return [1] * n
    share = slots // n
    return [share if macs >= PARALLEL_MACS else 1 for macs in step_macs]


def training_slots(device_type: str, env: Mapping[str, str] = os.environ) -> int:
    """How many torch threads (CPU) or jobs (GPU) train at once on this server.

    CPU: RESVIZ_TRAIN_SLOTS (a host with less memory than cores), else the CPU quota, capped by
    OMP_NUM_THREADS where set: processes started side by side (a sweep split with `--only`) each
    see the whole quota, and their threads, spinning while they wait for each other, would slow
    every step many times over. GPU: RESVIZ_GPU_JOBS, else `GPU_JOBS`.
    """
    if device_type != "cpu":
        return _positive(env, "RESVIZ_GPU_JOBS") or GPU_JOBS
    quota = cpu_quota()
    return _positive(env, "RESVIZ_TRAIN_SLOTS") or min(
        quota, _positive(env, "OMP_NUM_THREADS") or quota
    )


def _positive(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def slots_needed(threads: list[int], workers: int, device_type: str = "cpu") -> int:
    """Slots a job takes: on a CPU its torch threads (one per worker thread, or a network's
    share when each has a worker of its own); on a GPU one, since its networks step in turn."""
    if device_type != "cpu":
        return 1
    return sum(threads) if workers == len(threads) else workers


def pick_device(name: str = "auto") -> torch.device:
    """CUDA > MPS > CPU for "auto"; otherwise the named device, if it exists here."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device 'cuda' was asked for, but no CUDA GPU is available here; use 'cpu'"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' was asked for, but Apple's MPS is not available here")
    return device


def fast_precision(device: torch.device) -> str:
    """ "bf16" where the hardware computes it natively (AVX512-BF16/AMX CPUs, Ampere+ GPUs)."""
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    return "fp32"


def describe_device(device: torch.device) -> str:
    """One line for a learner: the GPU's name, or the CPU and the cores this process may use."""
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "GPU: Apple MPS"
    cores = cpu_quota()
    return f"CPU, {cores} core{'s' * (cores > 1)}"


def environment(device: torch.device) -> dict:
    """Facts saved with every run, so a curve can be traced to where it was computed."""
    return {
        "device": describe_device(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
    }


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def return_freed_memory() -> None:
    """Hand the memory a finished job freed back to the system (glibc keeps it otherwise).

    glibc's malloc keeps what a training step freed, so a server's memory would stay at its
    peak after every job (docs/PERFORMANCE.md); malloc_trim releases it. A no-op elsewhere.
    """
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)
