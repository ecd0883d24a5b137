"""How long training takes: a job's cost from its networks' shapes, scaled by the step times
this server measures, and the queue's estimated start and finish times.

A training step of one network costs, in seconds on one thread in fp32,

    C_LAYER x weight layers + (C_ACT x activations + C_MAC x multiply-adds) x batch,

(per-layer overhead, memory traffic, arithmetic) plus its share of the validation passes (a
forward pass, a third of a training step per image, over the split every `eval_every` steps).
Activations and multiply-adds are counted as a CPU's kernels compute them, each layer's channels
in whole blocks of LANES. The constants were fitted to measured steps (python -m
scripts.bench_train --pace). What this server really does (its CPU, its load, jobs side by
side) is learnt from the jobs it runs: measured seconds over predicted, of training steps and of
validation passes apart (`Speed`), learnt from the last jobs, and for a job training now blended
with its own measure as that grows (`Pace.blended`).
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean

import torch
from torch import nn

from . import data as datasets
from .config import EVAL_BATCH, NetConfig, TrainConfig
from .models import build, counted_once

# Fitted with python -m scripts.bench_train --pace (fp32, one thread) on an idle 2-core machine:
# fifteen networks' steps within -14% to +13% of the fit (-25% to +27% counting channels one
# by one). A ResNet-20 of width 7 trained 19% slower than one of width 8, which it counts alike.
# What this server measures (Pace) sets the absolute speed; these set the proportions.
C_LAYER = 5.5e-4  # seconds per weight layer and step: dispatch, small kernels
C_ACT = 2.6e-9  # seconds per activation value (memory traffic: BN, ReLU, copies)
C_MAC = 5.2e-11  # seconds per multiply-add of the forward pass, backward included
# Channels a CPU kernel works on at once (the fp32 values of an AVX2 register): the time
# estimates count each layer's up to a multiple of it (`Shape.blocked_macs`).
LANES = 8
# A second torch thread's speed-up on a network past runtime.PARALLEL_MACS
# (python -m scripts.bench_train --threads).
PARALLEL_GAIN = 0.58
FORWARD_SHARE = 1 / 3  # an evaluation image costs a third of a training image (no backward)
# The server's speed weighs as much as this many steps a running job has measured itself. The
# first jobs of a class that arrives at once train while every student's page loads: their
# first 3-10 steps ran 1.4-2.5x slower than their average (python -m scripts.load --sessions 8
# --steps 100 --browsers 2, read from the run files' elapsed seconds).
PRIOR_STEPS = 20


@dataclass(frozen=True)
class Shape:
    """Per image: weight layers, activation values and multiply-adds of one forward pass; the
    last two also as a CPU's kernels compute them (each layer's channels in blocks of LANES)."""

    layers: int
    activations: int
    macs: int
    blocked_activations: int
    blocked_macs: int


@counted_once
def shape(net_cfg: NetConfig, size: int) -> Shape:
    """Counted on PyTorch's meta device: shapes only, no memory, no arithmetic."""
    with torch.device("meta"):
        net = build(net_cfg)
        x = torch.empty(1, net_cfg.in_channels, size, size)
    counts = [0] * 5

    def blocked(channels: int) -> int:
        return -(-channels // LANES) * LANES

    def hook(m: nn.Module, _inp, out: torch.Tensor) -> None:
        positions = out[0, 0].numel() if out.dim() > 2 else 1  # values per channel
        channels = out.shape[1] if out.dim() > 1 else out.numel()
        counts[1] += positions * channels
        counts[3] += positions * blocked(channels)
        if isinstance(m, nn.Conv2d):
            counts[0] += 1
            kh, kw = m.kernel_size
            inputs = m.in_channels // m.groups
            counts[2] += positions * channels * inputs * kh * kw
            counts[4] += positions * blocked(channels) * blocked(inputs) * kh * kw
        elif isinstance(m, nn.Linear):
            counts[0] += 1
            counts[2] += m.in_features * m.out_features
            counts[4] += m.in_features * m.out_features

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


@dataclass(frozen=True)
class Cost:
    """One network's predicted seconds: a training step, and a pass over the validation split,
    made every `every` steps and after the last of its `steps`."""

    step_s: float
    eval_s: float
    steps: int
    every: int

    @property
    def per_step(self) -> float:
        """Seconds a step, its share of the passes included: what balancing threads weighs."""
        return self.step_s + self.eval_s / self.every

    def evaluations(self, done: int) -> int:
        """Passes made in its first `done` steps."""
        return done // self.every + (done >= self.steps and self.steps % self.every != 0)

    def left(self, done: int = 0, speed: Speed | None = None) -> float:
        """Seconds for its steps after `done`, at `speed` (as predicted: None)."""
        speed = speed or Speed()
        steps = max(0, self.steps - done)
        passes = self.evaluations(self.steps) - self.evaluations(min(done, self.steps))
        return self.step_s * steps * speed.train + self.eval_s * passes * speed.evaluation


def cost(net_cfg: NetConfig, train: TrainConfig, size: int, threads: int = 1) -> Cost:
    """Predicted seconds of one network's training step and of its validation pass."""
    s = shape(net_cfg, size)
    val_images = datasets.info(train.dataset).val_images
    per_image = C_ACT * s.blocked_activations + C_MAC * s.blocked_macs
    step = C_LAYER * s.layers + per_image * train.batch_size / (1 + PARALLEL_GAIN * (threads - 1))
    passes = -(-val_images // EVAL_BATCH)
    evaluation = C_LAYER * s.layers * passes + per_image * FORWARD_SHARE * val_images
    return Cost(step, evaluation, train.steps, train.eval_every)


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
class Speed:
    """Measured seconds per predicted second, of training steps and of validation passes, which
    the fit gets wrong each its own way. With one factor for both, the load script's 10-step
    warm-up (a pass at every step) ran at 0.86 of its prediction and the 100-step ResNet-20s of
    widths 6 and 7 after it (a pass every 10) at 1.14-1.35, in one process; under the load
    script the queue's first estimates came up to 35% early."""

    train: float = 1.0
    evaluation: float = 1.0

    @staticmethod
    def mean(speeds: Sequence[Speed]) -> Speed:
        return Speed(fmean(s.train for s in speeds), fmean(s.evaluation for s in speeds))


@dataclass(frozen=True)
class Measured:
    """What a job measured since its first steps: its speed (of passes: None before one), and
    the steps that is from (its slowest network's)."""

    train: float
    evaluation: float | None
    steps: int


@dataclass(frozen=True)
class Plan:
    """A job as the queue sees it: its runs' predicted costs, in groups that train side by side
    (each group steps its runs in turn), and the slots it takes."""

    costs: tuple[Cost, ...]
    groups: tuple[tuple[int, ...], ...]
    slots: int

    def predicted(self, done: Sequence[int] | None = None, speed: Speed | None = None) -> float:
        """Seconds for the steps after `done` (each run's steps so far; None: all), at `speed`
        (as predicted: None)."""
        done = done or [0] * len(self.costs)
        return max(sum(self.costs[i].left(done[i], speed) for i in g) for g in self.groups)


@dataclass(frozen=True)
class Eta:
    """Seconds from now until a job starts (0 once it has) and until it ends."""

    start_s: float
    finish_s: float


class Pace:
    """The server's measured speed against the prediction, learnt as jobs train (as predicted
    until the first job has been measured)."""

    def __init__(self):
        self._speed: Speed | None = None
        self._lock = threading.Lock()

    @property
    def speed(self) -> Speed:
        with self._lock:
            return self._speed or Speed()

    def blended(self, measured: Measured | None) -> Speed:
        """A running job's speed from what it measured, shrunk toward the server's as if that
        were PRIOR_STEPS measured steps: a few steps say little."""
        prior = self.speed
        if measured is None:
            return prior
        w = measured.steps / (PRIOR_STEPS + measured.steps)
        evaluation = prior.evaluation if measured.evaluation is None else measured.evaluation
        return Speed(
            prior.train * (1 - w) + measured.train * w,
            prior.evaluation * (1 - w) + evaluation * w,
        )

    def observe(self, measured: Measured) -> None:
        """A finished job's speed: the first sets the server's, each later one half of it,
        since the server's load changes and the latest job says most about the next (its
        passes' speed only where it made some; the first job's training speed stands in)."""
        if measured.train <= 0:
            return
        evaluation = measured.evaluation or None
        with self._lock:
            last = self._speed
            if last is None:
                self._speed = Speed(measured.train, evaluation or measured.train)
            else:
                self._speed = Speed(
                    (last.train + measured.train) / 2,
                    last.evaluation if evaluation is None else (last.evaluation + evaluation) / 2,
                )


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
