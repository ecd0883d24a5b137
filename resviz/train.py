"""Training as a generator of per-step records: seeded, device-aware, stoppable.

>>> for record in train(NetConfig(depth=20), TrainConfig(steps=100)):
...     print(record["step"], record["train_error"])

A record is a `schema.Record`, a JSON-ready dict built here and nowhere else: by `Trainer.run`
for each step and by `_diverged` for the step whose loss was not finite. Plain and residual runs
with one seed share their initial weights (option A adds none), data order and augmentation
draws.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from . import data as datasets
from .config import EVAL_BATCH, ConfigError, NetConfig, TrainConfig
from .models import build_seeded, cpu_state
from .pace import step_macs
from .probes import Probe, weight_grad_norms
from .runtime import environment, pick_device, plan_threads, training_slots
from .schema import Record


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate for 0-based `step`: linear warm-up, then cosine, step or constant."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    if cfg.schedule == "cosine":
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * t))
    if cfg.schedule == "step":  # the paper divides by 10 at 32k and 48k of 64k iterations
        return cfg.lr * 0.1 ** ((t >= 0.5) + (t >= 0.75))
    return cfg.lr


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """bf16 autocast: convolutions and matmuls in bfloat16, losses and reductions in fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


@torch.no_grad()
def evaluate(
    net: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch: int = EVAL_BATCH,
    precision: str = "fp32",
) -> tuple[float, float]:
    """Mean loss and error rate over a whole split, in evaluation mode.

    In chunks of 250 images: as fast as larger ones on the CPU, with a smaller peak, since the
    allocator keeps what a large pass freed (docs/PERFORMANCE.md)."""
    was_training = net.training
    net.eval()
    loss = torch.zeros((), device=x.device)
    wrong = torch.zeros((), device=x.device)
    for i in range(0, len(x), batch):
        with autocast(x.device, precision):
            out = net(x[i : i + batch]).float()
        loss += F.cross_entropy(out, y[i : i + batch], reduction="sum")
        wrong += (out.argmax(1) != y[i : i + batch]).sum()
    net.train(was_training)
    total_loss, total_wrong = torch.stack([loss, wrong]).tolist()
    return total_loss / len(x), total_wrong / len(x)


def check_fits(net_cfg: NetConfig, info: datasets.DatasetInfo) -> None:
    if net_cfg.in_channels != info.channels or net_cfg.num_classes != info.num_classes:
        raise ConfigError(
            f"{info.title} has {info.channels}-channel images and {info.num_classes} classes; "
            f"the network expects {net_cfg.in_channels} and {net_cfg.num_classes}"
        )


class Trainer:
    """Holds the network, optimiser and data of one run; `run()` trains and yields records.

    `threads`: torch threads for this run's steps, set in the thread that runs it; by default
    what a network training alone on this machine gets (`runtime.plan_threads`).
    """

    def __init__(
        self,
        net_cfg: NetConfig,
        cfg: TrainConfig,
        data: datasets.Dataset | None = None,
        threads: int | None = None,
    ):
        data = data or datasets.load(cfg.dataset)
        check_fits(net_cfg, data.info)
        self.net_cfg, self.cfg = net_cfg, cfg
        self.device = pick_device(cfg.device)
        self.threads = (
            threads
            or plan_threads(
                [step_macs(net_cfg, cfg.batch_size, data.info.size)],
                training_slots(self.device.type),
                self.device.type,
            )[0]
        )
        self.data = data.to(self.device)
        self.layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.net = build_seeded(net_cfg, cfg.seed).to(self.device, memory_format=self.layout)
        # fused: one kernel updates every parameter (CPU and CUDA), instead of a loop of small ops
        self.opt = torch.optim.SGD(
            self.net.parameters(),
            lr=cfg.lr,
            momentum=cfg.momentum,
            weight_decay=cfg.weight_decay,
            fused=self.device.type in ("cpu", "cuda"),
        )
        self.gen = torch.Generator(self.device).manual_seed(cfg.seed)  # data order, augmentation

    @property
    def env(self) -> dict:
        """Where it trains, saved with its run: device, versions, and its steps' torch threads."""
        return {**environment(self.device), "threads": self.threads}

    def weights(self) -> dict[str, torch.Tensor]:
        """The network's state dict, on the CPU."""
        return cpu_state(self.net)

    def _batches(self) -> Iterator[torch.Tensor]:
        """Index batches drawn without replacement, reshuffled each epoch."""
        n, b = len(self.data.x_train), self.cfg.batch_size
        while True:
            perm = torch.randperm(n, generator=self.gen, device=self.device)
            for i in range(0, n - b + 1 if n >= b else 1, b):
                yield perm[i : i + b]

    def run(self, stop: threading.Event | None = None) -> Iterator[Record]:
        cfg, net, d = self.cfg, self.net, self.data
        if self.device.type == "cpu":
            torch.set_num_threads(self.threads)
        net.train()
        batches = self._batches()
        start = time.perf_counter()
        for step in range(cfg.steps):
            if stop is not None and stop.is_set():
                return
            t0 = time.perf_counter()
            idx = next(batches)
            x, y = d.x_train[idx], d.y_train[idx]
            if cfg.augment:
                x = datasets.augment(x, self.gen, flip=d.info.flip)
            x = x.contiguous(memory_format=self.layout)
            lr = lr_at(step, cfg)
            for group in self.opt.param_groups:
                group["lr"] = lr
            probing = step == 0 or (step + 1) % cfg.probe_every == 0 or step + 1 == cfg.steps
            with Probe(net) if probing else nullcontext() as probe:
                with autocast(self.device, cfg.precision):
                    out = net(x)
                    loss = F.cross_entropy(out, y)  # autocast computes it in fp32
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
            loss_v, err = torch.stack([loss.detach(), (out.argmax(1) != y).float().mean()]).tolist()
            if not math.isfinite(loss_v):
                yield _diverged(step + 1, lr, time.perf_counter() - start)
                return
            grads = weight_grad_norms(net) if probing else None
            self.opt.step()
            rec: Record = {
                "step": step + 1,
                "epoch": (step + 1) * len(x) / len(d.x_train),
                "train_loss": loss_v,
                "train_error": err,
                "lr": lr,
                "images_per_s": len(x) / (time.perf_counter() - t0),
                "val_loss": None,
                "val_error": None,
                "grad_norms": grads,
                "block_grad_norms": probe.block_grad_norms() if probing else None,
                "act_std": probe.activation_std() if probing else None,
            }
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
                rec["val_loss"], rec["val_error"] = evaluate(
                    net, d.x_val, d.y_val, precision=cfg.precision
                )
            rec["elapsed"] = time.perf_counter() - start
            yield rec


def _diverged(step: int, lr: float, elapsed: float) -> Record:
    return {
        "step": step,
        "diverged": True,
        "lr": lr,
        "elapsed": elapsed,
        "message": f"the loss became infinite or NaN at step {step}: the run diverged "
        f"(try a smaller learning rate)",
    }


def train(
    net_cfg: NetConfig,
    cfg: TrainConfig,
    data: datasets.Dataset | None = None,
    stop: threading.Event | None = None,
) -> Iterator[Record]:
    """Train one network; yields a record per step. Set `stop` to end within one step."""
    yield from Trainer(net_cfg, cfg, data).run(stop)
