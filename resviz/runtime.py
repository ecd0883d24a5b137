"""Where the work runs: device choice, CPU quota and thread count, environment facts.

Nothing here runs at import; entry points (app, command line) call `configure_threads()`.
"""
from __future__ import annotations

import math
import os
import platform
from pathlib import Path

import torch


def cpu_quota() -> int:
    """CPUs this process may really use: affinity, capped by a cgroup v2 `cpu.max` quota.

    On a hosted container the host may show 8+ CPUs while the quota allows 2; sizing torch
    threads from the host count made two threads run 3-10x slower than one there.
    """
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def configure_threads(threads: int = 1) -> int:
    """Set torch's intra-op threads, process-wide: one unless asked for more.

    The networks trained here are small: on 2 cores ResNet-20 at width 8 trained at 1,223
    images/s on one torch thread against 915 on two, and ResNet-56 at 449 against 403. The app
    spends the other cores on other networks instead (`resviz.jobs`).
    """
    torch.set_num_threads(threads)
    return threads


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
        raise ValueError("device 'cuda' was asked for, but no CUDA GPU is available here; use 'cpu'")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was asked for, but Apple's MPS is not available here")
    return device


def fast_precision(device: torch.device) -> str:
    """"bf16" where the hardware computes it natively (AVX512-BF16/AMX CPUs, Ampere+ GPUs)."""
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
    return {"device": describe_device(device), "torch": torch.__version__,
            "python": platform.python_version(), "threads": torch.get_num_threads()}
