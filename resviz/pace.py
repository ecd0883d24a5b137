"""How long training takes: a job's cost from its networks' shapes, scaled by the step times
this server measures, and the queue's estimated start and finish times.

A training step of one network costs, in seconds on one thread in fp32,

    C_LAYER x weight layers + (C_ACT x activations + C_MAC x multiply-adds) x batch,

(per-layer overhead, memory traffic, arithmetic) plus its share of the validation passes (a
forward pass, a third of a training step per image, over the split every `eval_every` steps).
Activations and multiply-adds are counted as a CPU's kernels compute them, each layer's channels
in whole blocks of LANES. The constants were fitted to measured steps (python -m
scripts.bench_train --pace). What this server really does (its CPU, its load, jobs side by
side) is a factor learnt from the jobs it runs: measured seconds over predicted, learnt from the
last jobs, and for a job training now blended with its own measure as that grows
(`Pace.blended`).
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from . import data as datasets
from .config import EVAL_BATCH, NetConfig, TrainConfig
from .models import build, counted_once

# Fitted with python -m scripts.bench_train --pace (fp32, one thread) on an idle 2-core machine:
# fifteen networks' steps within -14% to +13% of the fit (-25% to +27% counting channels one
# by one). A ResNet-20 of width 7 trained 19% slower than one of width 8, which it counts alike.
# The server's own factor (Pace) takes care of its absolute speed; these set the proportions.
C_LAYER = 5.5e-4  # seconds per weight layer and step: dispatch, small kernels
C_ACT = 2.6e-9  # seconds per activation value (memory traffic: BN, ReLU, copies)
C_MAC = 5.2e-11  # seconds per multiply-add of the forward pass, backward included
# Channels a CPU kernel works on at once (the fp32 values of an AVX2 register): each layer's are
# counted up to a multiple of it.
LANES = 8
# A second torch thread's speed-up on a network past runtime.PARALLEL_MACS
# (python -m scripts.bench_train --threads).
PARALLEL_GAIN = 0.58
FORWARD_SHARE = 1 / 3  # an evaluation image costs a third of a training image (no backward)
# The server's factor weighs as much as this many steps a running job has measured itself. The
# first jobs of a class that arrives at once train while every student's page loads: their
# first 3-10 steps ran 1.4-2.5x slower than their average (python -m scripts.load --sessions 8
# --steps 100 --browsers 2, read from the run files' elapsed seconds).
PRIOR_STEPS = 20


@dataclass(frozen=True)
class Shape:
    """Per image: weight layers, activation values and multiply-adds of one forward pass."""

    layers: int
    activations: int
    macs: int


@counted_once
def shape(net_cfg: NetConfig, size: int, lanes: int = 1) -> Shape:
    """Counted on PyTorch's meta device: shapes only, no memory, no arithmetic. With `lanes`,
    each layer's channels are counted up to a multiple of it, as a CPU's kernels compute them."""
    with torch.device("meta"):
        net = build(net_cfg)
        x = torch.empty(1, net_cfg.in_channels, size, size)
    counts = [0, 0, 0]

    def padded(channels: int) -> int:
        return -(-channels // lanes) * lanes

    def hook(m: nn.Module, _inp, out: torch.Tensor) -> None:
        per_channel = out[0, 0].numel() if out.dim() > 2 else 1
        out_channels = out.shape[1] if out.dim() > 1 else out.numel()
        counts[1] += per_channel * padded(out_channels)
        if isinstance(m, nn.Conv2d):
            counts[0] += 1
            kh, kw = m.kernel_size
            in_channels = padded(m.in_channels // m.groups)
            counts[2] += per_channel * padded(out_channels) * in_channels * kh * kw
        elif isinstance(m, nn.Linear):
            counts[0] += 1
            counts[2] += m.in_features * m.out_features

    hooks = [m.register_forward_hook(hook) for m in net.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in hooks:
            h.remove()
    return Shape(*counts)


def step_macs(net_cfg: NetConfig, batch: int, size: int) -> int:
    """Forward multiply-adds of one training step: what decides if a second thread helps."""
    return shape(net_cfg, size).macs * batch


def step_seconds(
    net_cfg: NetConfig,
    train: TrainConfig,
    size: int,
    threads: int = 1,
) -> float:
    """Predicted seconds per step of one network, its validation passes included."""
    s = shape(net_cfg, size, LANES)
    val_images = datasets.info(train.dataset).val_images
    per_image = C_ACT * s.activations + C_MAC * s.macs
    step = C_LAYER * s.layers + per_image * train.batch_size / (1 + PARALLEL_GAIN * (threads - 1))
    passes = -(-val_images // EVAL_BATCH)
    evaluation = C_LAYER * s.layers * passes + per_image * FORWARD_SHARE * val_images
    return step + evaluation / train.eval_every


def balanced(costs: Sequence[float], workers: int) -> list[list[int]]:
    """Indices of `costs` in at most `workers` groups of about equal work per step: the most
    expensive first, each to the group with the least so far."""
    groups: list[list[int]] = [[] for _ in range(max(1, min(workers, len(costs))))]
    load = [0.0] * len(groups)
    for i in sorted(range(len(costs)), key=lambda i: -costs[i]):
        g = load.index(min(load))
        groups[g].append(i)
        load[g] += costs[i]
    return [sorted(g) for g in groups]


@dataclass(frozen=True)
class Plan:
    """A job as the queue sees it: its runs' predicted seconds per step and steps, in groups
    that train side by side (each group steps its runs in turn), and the slots it takes."""

    seconds: tuple[float, ...]
    steps: tuple[int, ...]
    groups: tuple[tuple[int, ...], ...]
    slots: int

    def predicted(self, done: Sequence[int] | None = None) -> float:
        """Predicted seconds for the steps after `done` (each run's steps so far; None: all)."""
        done = done or [0] * len(self.steps)
        return max(
            sum(self.seconds[i] * max(0, self.steps[i] - done[i]) for i in g) for g in self.groups
        )


@dataclass(frozen=True)
class Eta:
    """Seconds from now until a job starts (0 once it has) and until it ends."""

    start_s: float
    finish_s: float


class Pace:
    """The server's measured speed against the prediction: one factor, learnt as jobs train
    (1 until the first job has been measured)."""

    def __init__(self):
        self._factor: float | None = None
        self._lock = threading.Lock()

    @property
    def factor(self) -> float:
        with self._lock:
            return self._factor or 1.0

    def blended(self, measured: tuple[float, int] | None) -> float:
        """A running job's factor from what it measured (factor, steps), shrunk toward the
        server's as if that were PRIOR_STEPS measured steps: a few steps say little."""
        if measured is None:
            return self.factor
        factor, steps = measured
        return (self.factor * PRIOR_STEPS + factor * steps) / (PRIOR_STEPS + steps)

    def observe(self, factor: float) -> None:
        """A finished job's measured seconds per predicted second: the first sets the factor,
        each later one half of it, since the server's load changes and the latest job says
        most about the next."""
        if factor > 0:
            with self._lock:
                self._factor = factor if self._factor is None else (self._factor + factor) / 2


@dataclass(frozen=True)
class Slot:
    """A running job for the schedule: its slots and seconds left."""

    slots: int
    left_s: float


def schedule(slots: int, running: Sequence[Slot], queued: Sequence[tuple[int, float]]) -> list[Eta]:
    """Start and finish of each queued job (slots, seconds), first come first served: a job
    starts once the jobs before it have started and enough slots are free, as `JobManager`
    does."""
    ends = [(r.left_s, r.slots) for r in running]
    heapq.heapify(ends)
    free = slots - sum(r.slots for r in running)
    now, etas = 0.0, []
    for need, seconds in queued:
        need = min(need, slots)
        while free < need and ends:
            t, freed = heapq.heappop(ends)
            now, free = max(now, t), free + freed
        etas.append(Eta(now, now + seconds))
        free -= need
        heapq.heappush(ends, (now + seconds, need))
    return etas
