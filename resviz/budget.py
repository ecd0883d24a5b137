"""Will a training job fit in memory? An estimate made before it starts, and the server's budget.

Peak memory of a job = for every network: weights, gradients and SGD momentum (3 copies of the
parameters), plus, for the largest networks that train at once (a job trains its networks on
`workers` threads, each stepping its share in turn):
- training: every tensor autograd saves for the backward pass at the batch size, counted
  exactly by building the network on PyTorch's "meta" device (shapes only, no memory, no
  arithmetic) and running a forward pass under `saved_tensors_hooks`; the step peaks `STEP`
  times higher (gradient buffers, oneDNN reorders), and
- evaluation: a no-grad forward pass over 250 validation images (`EVAL_ALIVE` activations).
Both are added, not the larger taken: on the CPU glibc's malloc keeps the memory a training step
freed and evaluation takes new memory beside it (RSS stays up after each step). bf16 autocast
halves the saved bytes, but fp32 sizes are used for both precisions: an upper bound.
`python -m tests.test_budget` prints each estimate against the peak it measures.

The budget comes from the environment: RESVIZ_MEMORY_MB is the memory the whole server may use
(default: Community Cloud's 2.7 GB); the app's own footprint is subtracted and the rest is
shared by the jobs that may train at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import data as datasets
from .config import EVAL_BATCH, NetConfig, TrainConfig
from .models import build, counted_once

MB = 1_000_000  # decimal, as the sentence shows it (2.7 GB = 2,700 MB)
SERVER_MB = 2700  # Community Cloud: up to 2.7 GB for the whole app
# The server's own memory, not available to training: a classroom's sessions making hostile
# uploads while they follow one job (Streamlit holds every upload's bytes for its session), as
# `nice -n 10 python -m scripts.load --hostile` measures it; two jobs at their full share must
# still fit Community Cloud's 2.7 GB beside it.
APP_FOOTPRINT_MB = 1500
STEP = 1.25  # a training step's peak / the bytes autograd saves (python -m tests.test_budget)
EVAL_ALIVE = 5  # a no-grad pass's peak / (largest activation x images) (the same script)
OVERHEAD_MB = 40  # per network training at once: oneDNN scratch, its batch and augmented copy
# Allocator fragmentation between steps: the estimate must cover the peak memory growth measured
# on any machine, with a margin (python -m tests.test_budget prints the comparison).
SLACK = 1.6


class OverBudget(ValueError):
    """A job too large for this server's memory; the message is one sentence for the learner."""


@dataclass(frozen=True)
class Estimate:
    """Peak bytes of one job, by what holds them."""

    parameters: int  # weights + gradients + momentum, every network of the job
    activations: int  # training steps of the networks training at once (saved tensors + buffers)
    evaluation: int  # their no-grad validation passes
    at_once: int = 1  # networks training at the same time

    @property
    def total(self) -> int:
        return (
            int((self.parameters + self.activations + self.evaluation) * SLACK)
            + OVERHEAD_MB * MB * self.at_once
        )


@counted_once
def _forward_bytes(net_cfg: NetConfig, batch: int, size: int) -> tuple[int, int, int]:
    """(parameter count, bytes saved for backward, bytes of the largest activation) in fp32."""
    with torch.device("meta"):
        net = build(net_cfg)
        x = torch.empty(batch, net_cfg.in_channels, size, size)  # (B, C, H, W)
        y = torch.empty(batch, dtype=torch.long)
    params = {id(p) for p in net.parameters()}
    saved: dict[int, int] = {}
    largest = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        if id(t) not in params:  # weights are counted once, with the parameters
            storage = t.untyped_storage()
            saved[storage._cdata] = storage.nbytes()  # the C++ storage: one entry per buffer
        return t

    def widest(_m, _inp, out) -> None:
        nonlocal largest
        largest = max(largest, out.numel() * 4)

    hooks = [m.register_forward_hook(widest) for m in net.modules() if not list(m.children())]
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            F.cross_entropy(net(x), y)
    finally:
        for h in hooks:
            h.remove()
    return sum(p.numel() for p in net.parameters()), sum(saved.values()), largest


def estimate(specs: Sequence[tuple[NetConfig, TrainConfig]], workers: int = 1) -> Estimate:
    """Peak training memory of a job whose networks train on `workers` threads at once."""
    parameters, steps = 0, []
    for net_cfg, train in specs:
        size = datasets.info(train.dataset).size
        n_params, saved, largest = _forward_bytes(net_cfg, train.batch_size, size)
        parameters += 3 * 4 * n_params  # fp32 weights, gradients, momentum
        per_image = largest // train.batch_size
        steps.append((int(STEP * saved) + 2 * largest, EVAL_ALIVE * per_image * EVAL_BATCH))
    at_once = sorted(steps, key=sum, reverse=True)[: max(1, workers)]
    return Estimate(
        parameters, sum(a for a, _ in at_once), sum(e for _, e in at_once), len(at_once)
    )


def per_slot_bytes(slots: int, env: Mapping[str, str] = os.environ) -> int:
    """What one training slot may use: (RESVIZ_MEMORY_MB - the app's footprint) / slots."""
    raw = env.get("RESVIZ_MEMORY_MB", "")
    server = int(raw) if raw.strip().isdigit() else SERVER_MB
    return max(0, server - APP_FOOTPRINT_MB) * MB // max(1, slots)


def check(
    specs: Sequence[tuple[NetConfig, TrainConfig]], budget: int, workers: int = 1
) -> Estimate:
    """The job's estimate, or `OverBudget` with one sentence saying what it needs and what to do."""
    est = estimate(specs, workers)
    if est.total > budget:
        raise OverBudget(
            f"{_what(specs)} {'needs' if len(specs) == 1 else 'need'} about "
            f"{_size(est.total)} to train; this server allows {_size(budget)} per "
            f"run. Lower the batch size, the width or the depth."
        )
    return est


def _what(specs: Sequence[tuple[NetConfig, TrainConfig]]) -> str:
    biggest = max(
        specs,
        key=lambda s: _forward_bytes(s[0], s[1].batch_size, datasets.info(s[1].dataset).size)[1],
    )
    batch = biggest[1].batch_size
    if len(specs) == 1:
        return f"{biggest[0].label} at batch {batch}"
    return f"These {len(specs)} networks (the largest is {biggest[0].label}) at batch {batch}"


def _size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:,.0f} MB"
