"""Training speed, measured: the engine (probes on) against a bare PyTorch loop on the same model,
data, batch and augmentation, in fp32 and in bf16 + channels_last, with the FLOP/s each reaches
against this machine's matrix-multiply peak measured in the same run. Prints a table.

    python -m scripts.bench_train [--steps 30] [--batch-size 128] [--repeats 2]
    python -m scripts.bench_train --threads      # one torch thread against two, by network size
    python -m scripts.bench_train --pace         # fits resviz.pace's step-time constants
    python -m scripts.bench_train --concurrent   # jobs at once that maximise total images/s

Each figure is the best of `repeats` timed windows after a warm-up, so a busy neighbour process
does not decide the ratio. FLOPs per training image: about 6 x the forward multiply-adds
(2 FLOPs a multiply-add, backward twice the forward).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch
import torch.nn.functional as F

from resviz import data as datasets
from resviz.config import PRECISIONS, NetConfig, TrainConfig
from resviz.models import build
from resviz.runtime import describe_device, pick_device
from resviz.summary import summarize, totals
from resviz.train import Trainer
from scripts import bench_threads


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Best GFLOP/s of an n x n matrix product in `dtype` on the CPU."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bare_loop(trainer: Trainer, steps: int) -> float:
    """Images per second of the textbook fp32 loop: index, augment, forward, backward, step."""
    net, opt, d, gen = trainer.net, trainer.opt, trainer.data, trainer.gen
    b = trainer.cfg.batch_size
    n = len(d.x_train)

    def run() -> None:
        for _ in range(steps):
            idx = torch.randint(n, (b,), generator=gen, device=d.x_train.device)
            x = datasets.augment(d.x_train[idx], gen, flip=d.info.flip)
            loss = F.cross_entropy(net(x), d.y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        loss.item()  # wait for the device

    return steps * b / _timed(run)


def engine_loop(trainer: Trainer, steps: int) -> float:
    """Images per second of the engine's own loop, on the trainer's torch threads."""
    return steps * trainer.cfg.batch_size / _timed(lambda: list(zip(range(steps), trainer.run())))


def best(fn, trainer: Trainer, steps: int, repeats: int) -> float:
    fn(trainer, 3)  # warm-up: allocator, oneDNN primitives
    return max(fn(trainer, steps) for _ in range(repeats))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="for --threads, --pace and --concurrent",
    )
    for name, fn in SECTIONS.items():
        p.add_argument(f"--{name}", action="store_true", help=fn.__doc__.splitlines()[0])
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    data = datasets.load("mnist-5k")
    chosen = [fn for name, fn in SECTIONS.items() if getattr(args, name)]
    for fn in chosen:
        fn(args, data)
    if chosen:
        return
    peak = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    print(
        f"mnist-5k, batch {args.batch_size}, {describe_device(pick_device())}, one torch thread "
        f"(as each network trains in the app); matmul peak on that thread: "
        f"fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {peak['bf16']:.0f} GFLOP/s"
    )
    print(f"{'network':<12}{'loop':<30}{'img/s':>8}{'x bare':>8}{'GFLOP/s':>9}{'of peak':>9}")
    # Evaluation is left out (eval_every past the end): this times training steps.
    base = TrainConfig(
        steps=100 * args.steps,
        batch_size=args.batch_size,
        eval_every=100 * args.steps,
        channels_last=False,
    )
    loops = [
        ("bare PyTorch, fp32", bare_loop, base),
        ("engine, probes /10 steps, fp32", engine_loop, base),
        ("engine, probes every step, fp32", engine_loop, replace(base, probe_every=1)),
        (
            "engine, probes /10, bf16 + CL",
            engine_loop,
            replace(base, precision="bf16", channels_last=True),
        ),
    ]
    for arch, depth in (("plain", 20), ("residual", 20), ("plain", 56), ("residual", 56)):
        net_cfg = NetConfig(depth=depth, residual=arch == "residual", width=16)
        flops = 6 * totals(summarize(build(net_cfg), (1, 28, 28)))["macs"]
        bare = None
        for name, fn, cfg in loops:
            ips = best(fn, Trainer(net_cfg, cfg, data, threads=1), args.steps, args.repeats)
            bare = bare or ips
            gflops = ips * flops / 1e9
            print(
                f"{net_cfg.label:<12}{name:<30}{ips:>8,.0f}{ips / bare:>8.2f}{gflops:>9.0f}"
                f"{gflops / peak[cfg.precision]:>9.0%}"
            )


SECTIONS = {
    "threads": bench_threads.threads,
    "pace": bench_threads.pace,
    "concurrent": bench_threads.concurrent,
}


if __name__ == "__main__":
    main()
