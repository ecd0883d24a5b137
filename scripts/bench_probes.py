"""Training throughput of the engine with its probes on, against a bare PyTorch loop on the same
model, data, batch and augmentation, measured in the same run. Prints a table.

    python -m scripts.bench_probes [--steps 60] [--batch-size 128] [--repeats 3]

Both loops start from the same seeded weights; each figure is the best of `repeats` timed
windows after a warm-up, so a busy neighbour process does not decide the ratio.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from resviz import data as datasets
from resviz.config import NetConfig, TrainConfig
from resviz.runtime import configure_threads, describe_device, pick_device
from resviz.train import Trainer


def bare_loop(trainer: Trainer, steps: int) -> float:
    """Images per second of the textbook loop: index, augment, forward, backward, step."""
    net, opt, d, gen, b = trainer.net, trainer.opt, trainer.data, trainer.gen, trainer.cfg.batch_size
    n = len(d.x_train)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(n, (b,), generator=gen, device=d.x_train.device)
        x = datasets.augment(d.x_train[idx], gen, flip=d.info.flip)
        loss = F.cross_entropy(net(x), d.y_train[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    loss.item()  # wait for the device
    return steps * b / (time.perf_counter() - t0)


def engine_loop(trainer: Trainer, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in zip(range(steps), trainer.run()):
        pass
    return steps * trainer.cfg.batch_size / (time.perf_counter() - t0)


def measure(depth: int, args, data, probe_every: int) -> tuple[float, float]:
    net_cfg = NetConfig(depth=depth, width=16)
    # Evaluation is left out of both loops (eval_every past the end): this times training.
    cfg = TrainConfig(steps=10 * args.steps, batch_size=args.batch_size, probe_every=probe_every,
                      eval_every=10 * args.steps)
    trainer = Trainer(net_cfg, cfg, data)
    bare_loop(trainer, 5)  # warm-up: allocator, oneDNN primitives
    bare, engine = [], []
    for _ in range(args.repeats):
        bare.append(bare_loop(trainer, args.steps))
        engine.append(engine_loop(trainer, args.steps))
    return max(bare), max(engine)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    configure_threads()
    data = datasets.load("mnist-5k")
    print(f"mnist-5k, batch {args.batch_size}, {describe_device(pick_device())}")
    print(f"{'network':<12}{'probes':<16}{'bare img/s':>12}{'engine img/s':>14}{'ratio':>8}")
    for depth in (20, 56):
        for every, label in ((10, "every 10 steps"), (1, "every step")):
            bare, engine = measure(depth, args, data, every)
            print(f"ResNet-{depth:<5}{label:<16}{bare:>12,.0f}{engine:>14,.0f}{engine / bare:>8.2f}")


if __name__ == "__main__":
    main()
