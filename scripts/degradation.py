"""The paper's two claims on MNIST-5k, measured: prints a table, asserts nothing.

1. Degradation (with batch norm): with the same budget and seeds, plain-56 ends with a higher
   training error than plain-20, while ResNet-56 stays close to ResNet-20.
2. Vanishing gradients (without batch norm), at initialisation: the gradient reaching the first
   block of plain-56 against ResNet-56's, on one batch of real digits.

    python -m scripts.degradation [--seeds 3] [--steps 200] [--batch 64] [--width 8] [--precision bf16]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from resviz import data as datasets
from resviz.config import NetConfig, TrainConfig
from resviz.probes import Probe
from resviz.runtime import configure_threads
from resviz.train import Trainer, build_seeded, evaluate


def train_error(depth: int, residual: bool, seed: int, args, data) -> float:
    """Error on the whole training split (evaluation mode) after the budget."""
    net_cfg = NetConfig(depth=depth, residual=residual, width=args.width)
    cfg = TrainConfig(steps=args.steps, batch_size=args.batch, seed=seed, eval_every=args.steps,
                      precision=args.precision)
    trainer = Trainer(net_cfg, cfg, data)
    for _ in trainer.run():
        pass
    return evaluate(trainer.net, trainer.data.x_train, trainer.data.y_train)[1]


def first_block_gradient(residual: bool, x: torch.Tensor, y: torch.Tensor) -> float:
    net = build_seeded(NetConfig(depth=56, residual=residual, batch_norm=False), seed=0)
    with Probe(net) as probe:
        F.cross_entropy(net(x), y).backward()
    grads = probe.block_grad_norms()
    return grads["stage1.block1"], grads["stage3.block9"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    args = p.parse_args()
    configure_threads()
    data = datasets.load("mnist-5k")
    print(f"Degradation, with batch norm: training error after {args.steps} steps, "
          f"width {args.width}, batch {args.batch}, {args.precision}, seeds 0..{args.seeds - 1}")
    for depth in (20, 56):
        for residual in (False, True):
            t0 = time.perf_counter()
            errs = [train_error(depth, residual, s, args, data) for s in range(args.seeds)]
            name = f"{'ResNet' if residual else 'plain'}-{depth}"
            print(f"  {name:<10} mean {statistics.mean(errs):6.1%}   per seed "
                  f"{'  '.join(f'{e:6.1%}' for e in errs)}   ({time.perf_counter() - t0:.0f} s)")
    x, y = data.x_train[:128], data.y_train[:128]
    print("\nVanishing gradients, without batch norm, at initialisation (||dL/dx|| into a block):")
    grads = {r: first_block_gradient(r, x, y) for r in (False, True)}
    for r, (first, last) in grads.items():
        print(f"  {'ResNet' if r else 'plain'}-56   first block {first:.3g}   last block {last:.3g}"
              f"   first/last {first / last:.3g}")
    print(f"  ResNet-56 / plain-56 at the first block: {grads[True][0] / grads[False][0]:.3g}x")


if __name__ == "__main__":
    main()
