"""Degradation on MNIST-5k, measured: training error against depth, and the gradients behind it.

1. Training error on the whole training split after the budget, with batch norm, for plain and
   residual networks of 20 and 56 layers and several seeds, and what the claims' rule says of
   each pair (does the deeper network train worse, or better, beyond the seeds' spread?).
2. The gradient rule's verdict (resviz.claims) on each network at initialisation, per element,
   with and without batch norm, on one batch of real digits.
3. What training does to the plain network's gradient explosion at initialisation: the Residual
   block page's measurement, and how long it takes.

Prints tables, asserts nothing.

    python -m scripts.degradation [--seeds 3] [--steps 200] [--batch 64] [--width 8]
                                  [--precision bf16]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from resviz import data as datasets
from resviz import lesson_residual_block
from resviz.claims import Kind, claim, factor, say, spread
from resviz.config import PRECISIONS, NetConfig, TrainConfig
from resviz.train import Trainer, evaluate


def train_error(depth: int, residual: bool, seed: int, args, data) -> float:
    """Error on the whole training split (evaluation mode) after the budget."""
    net_cfg = NetConfig(depth=depth, residual=residual, width=args.width)
    cfg = TrainConfig(
        steps=args.steps,
        batch_size=args.batch,
        seed=seed,
        eval_every=args.steps,
        precision=args.precision,
    )
    trainer = Trainer(net_cfg, cfg, data)
    for _ in trainer.run():
        pass
    return evaluate(trainer.net, trainer.data.x_train, trainer.data.y_train)[1]


def depth_claim(name: str, deep: list[float], shallow: list[float]) -> str:
    """Deeper worse (degradation) or better, by the claims' rule on the seeds' means."""
    noise = math.hypot(
        *(
            statistics.stdev(e) / math.sqrt(len(e)) if len(e) > 1 else math.inf
            for e in (deep, shallow)
        )
    )
    d, s = statistics.fmean(deep), statistics.fmean(shallow)
    numbers = {"deep": d, "shallow": s, "noise": noise}
    kind = Kind.DEGRADATION if d > s else Kind.DEEPER_WINS
    verb = "worse" if d > s else "better"
    return say(
        [
            claim(
                kind,
                f"{name}-56 trains {verb} than {name}-20: {d:.1%} against {s:.1%}",
                numbers,
                instead=f"{name}-56 and {name}-20 are within the seeds' noise: "
                f"{d:.1%} against {s:.1%}",
            )
        ]
    )[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--precision", choices=PRECISIONS, default="fp32")
    args = p.parse_args()
    torch.set_num_threads(1)
    data = datasets.load("mnist-5k")
    print(
        f"1. Training error (whole training split) after {args.steps} steps, with batch norm, "
        f"width {args.width}, batch {args.batch}, {args.precision}, seeds 0..{args.seeds - 1}"
    )
    errors = {}
    for depth in (20, 56):
        for residual in (False, True):
            t0 = time.perf_counter()
            errs = [train_error(depth, residual, s, args, data) for s in range(args.seeds)]
            errors[residual, depth] = errs
            name = f"{'ResNet' if residual else 'plain'}-{depth}"
            print(
                f"  {name:<10} mean {statistics.mean(errs):6.1%}   per seed "
                f"{'  '.join(f'{e:6.1%}' for e in errs)}   ({time.perf_counter() - t0:.0f} s)"
            )
    for residual, name in ((False, "plain"), (True, "ResNet")):
        print(f"  {depth_claim(name, errors[residual, 56], errors[residual, 20])}")

    print(
        "\n2. The gradient rule at initialisation (RMS of dL/dx per element into each block, "
        "one batch of 16 digits, width 8):"
    )
    profile = lesson_residual_block.gradient_profile(data, 56)
    for verdict in lesson_residual_block.verdicts(profile).values():
        print(f"  {verdict.sentence.replace('**', '')}")

    print(
        "\n3. What training does to plain-56's explosion (batch norm, largest over smallest block):"
    )
    settled = lesson_residual_block.settling(data, 56)
    print(
        "  "
        + ", ".join(
            f"{factor(spread(c))}x ({c.kind}) "
            + (f"after {s} step{'s' if s > 1 else ''}" if s else "as initialised")
            for s, c in settled.after.items()
        )
    )
    print(f"  {settled.seconds:.1f} s to train and measure it")


if __name__ == "__main__":
    main()
