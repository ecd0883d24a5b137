"""Reference loss landscapes for the Experiments page: train plain and residual, then slice.

Trains plain and residual networks of each depth
(mnist-5k, width 8, batch 64, 200 steps, seed 0), then writes a 1-D and a 2-D landscape of
each (filter-normalised random directions, seed 0, on the first training images) to
assets/landscapes/, with a MANIFEST.md saying how, where and how long.

    python -m scripts.make_landscapes [--depths 20 56] [--resolution 21] [--subset 500]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

from resviz import data as datasets
from resviz import landscape
from resviz.config import NetConfig, TrainConfig
from resviz.train import Trainer

OUT = Path(__file__).resolve().parent.parent / "assets" / "landscapes"
CHANCE = math.log(10)  # the loss of a network that guesses uniformly among 10 digits


def trained(depth: int, residual: bool, data: datasets.Dataset) -> torch.nn.Module:
    net_cfg = NetConfig(depth=depth, residual=residual, width=8)
    trainer = Trainer(net_cfg, TrainConfig(steps=200, batch_size=64, eval_every=200, seed=0), data)
    for _ in trainer.run():
        pass
    return trainer.net


def summary(one: landscape.Landscape, two: landscape.Landscape) -> str:
    """A Markdown table row: loss along the 1-D slice, and how much of the plane is a basin."""
    grid = [v for row in two.loss for v in row]
    basin = sum(v < CHANCE for v in grid) / len(grid)
    cells = [f"{_nearest(one, a):.3g}" for a in _marks(one.alphas[-1])]
    return f"| {one.label} | {' | '.join(cells)} | {max(grid):.3g} | {basin:.0%} |"


def _marks(span: float) -> tuple[float, ...]:
    return (-span, -span / 2, 0.0, span / 2, span)


def _nearest(one: landscape.Landscape, alpha: float) -> float:
    """The loss at the grid point nearest `alpha` (exactly at it for the default 41 points)."""
    j = min(range(len(one.alphas)), key=lambda j: abs(one.alphas[j] - alpha))
    return one.loss[j]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depths", type=int, nargs="+", default=[20, 56])
    p.add_argument("--resolution", type=int, default=21, help="2-D grid points per axis")
    p.add_argument("--points-1d", type=int, default=41)
    p.add_argument("--subset", type=int, default=500)
    p.add_argument("--span", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    # One thread: on this shared 2-core host a landscape point took 0.4 s with one thread and
    # 1.9 s with two, while other processes held the cores.
    torch.set_num_threads(args.threads)
    data = datasets.load("mnist-5k")
    OUT.mkdir(parents=True, exist_ok=True)
    start, rows, timings = time.perf_counter(), [], []
    for depth, residual in ((d, r) for d in args.depths for r in (False, True)):
        t0 = time.perf_counter()
        net = trained(depth, residual, data)
        t1 = time.perf_counter()
        one = landscape.measure(net, data, 1, args.points_1d, args.span, args.subset)
        t2 = time.perf_counter()
        two = landscape.measure(net, data, 2, args.resolution, args.span, args.subset)
        t3 = time.perf_counter()
        stem = one.label.lower()
        landscape.save(one, OUT / f"{stem}_1d.json")
        landscape.save(two, OUT / f"{stem}_2d.json")
        rows.append(summary(one, two))
        timings.append(
            f"- {one.label}: training {t1 - t0:.0f} s, 1-D slice ({len(one.alphas)} "
            f"points) {t2 - t1:.0f} s, 2-D slice ({len(two.loss)}x{len(two.alphas)}) "
            f"{t3 - t2:.0f} s"
        )
        print(timings[-1], flush=True)
    wall = time.perf_counter() - start
    manifest = _manifest(args, rows, timings, wall)
    (OUT / "MANIFEST.md").write_text(manifest)
    print(manifest)


def _manifest(args, rows: list[str], timings: list[str], wall: float) -> str:
    command = "python -m scripts.make_landscapes " + " ".join(sys.argv[1:])
    return f"""# Reference loss landscapes

Made by `{command.strip()}` in {wall:.0f} s of wall time on {platform.machine()},
{len(os.sched_getaffinity(0))} CPUs (`nproc`), torch {torch.__version__},
{torch.get_num_threads()} torch thread(s), on a host shared with other work.

Networks: plain and ResNet of depth {", ".join(map(str, args.depths))}, width 8, trained on
mnist-5k for 200 steps of batch 64, seed 0.
Landscapes: loss on the first {args.subset} training images, batch norm in eval mode (the
trained running statistics), along filter-normalised random directions (seed 0; biases and
batch-norm parameters not moved), alpha and beta in [-{args.span:g}, {args.span:g}].

{chr(10).join(timings)}

Loss along the 1-D slice at five values of alpha (0: the trained network); the 2-D slice's
highest loss, and the share of its grid below chance loss (ln 10 = 2.30):

| network | {" | ".join(f"{a:g}" for a in _marks(args.span))} | 2-D max | 2-D below chance |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
"""


if __name__ == "__main__":
    main()
