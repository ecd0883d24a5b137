"""The measurements behind how jobs share the machine (run through scripts/bench_train.py):

--threads     images/s of one network on one torch thread and on two, by its size: where two
              start to pay (resviz.runtime.PARALLEL_MACS) and how much (pace.PARALLEL_GAIN);
--pace        seconds per training step and per validation image for networks of many shapes,
              and the least-squares fit of resviz.pace's C_LAYER, C_ACT and C_MAC;
--concurrent  total images/s of k jobs training at once on this device (the presets' networks,
              one torch thread each): the k that maximises it is the GPU's job count.

Each timing is the best of `--repeats` windows after a warm-up, so a busy neighbour does not
decide it; on a shared machine, run under `nice` and read the ratios more than the absolutes.
"""

from __future__ import annotations

import statistics
import threading
import time

import numpy as np
import torch

from resviz import data as datasets
from resviz.config import EVAL_BATCH, NetConfig, TrainConfig
from resviz.pace import FORWARD_SHARE, LANES, cost, shape
from resviz.presets import PRESETS
from resviz.runtime import cpu_quota, describe_device, pick_device
from resviz.train import Trainer, evaluate

# (depth, width, batch): the form's range, small to large
SIZES = [(20, 8, 64), (56, 8, 64), (20, 16, 64), (20, 16, 128), (56, 16, 128), (110, 16, 128)]
SIZES += [(20, 32, 128)]
# (depth, width, batch) timed to fit resviz.pace's constants (python -m scripts.bench_train --pace)
SHAPES = [(8, 4, 16), (8, 8, 64), (20, 4, 64), (20, 8, 32), (20, 8, 64), (56, 8, 32)]
SHAPES += [(56, 8, 64), (20, 16, 128), (56, 16, 64), (110, 8, 64)]
SHAPES += [(20, w, 64) for w in (5, 6, 7, 11, 12)]  # widths whose channels fill no whole block


def _config(args, batch: int) -> TrainConfig:
    # Evaluation past the end: these time training steps (probes every 10, as the app runs).
    return TrainConfig(
        steps=1_000_000, batch_size=batch, eval_every=1_000_000, precision=args.precision
    )


def seconds_per_step(trainer: Trainer, steps: int, repeats: int) -> float:
    stream = trainer.run()
    for _ in range(3):  # warm-up: allocator, oneDNN primitives
        next(stream)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            next(stream)
        best = min(best, (time.perf_counter() - t0) / steps)
    return best


def threads(args, data: datasets.Dataset) -> None:
    """images/s of one network on one torch thread against two, by its size."""
    print(
        f"{describe_device(pick_device())}, {args.precision}, best of {args.repeats} windows "
        f"of {args.steps} steps"
    )
    print(
        f"{'network':<12}{'width':>6}{'batch':>6}{'MACs/step':>12}{'1 thread':>10}"
        f"{'2 threads':>11}{'ratio':>7}"
    )
    for depth, width, batch in SIZES:
        net = NetConfig(depth=depth, width=width)
        speed = [
            batch
            / seconds_per_step(
                Trainer(net, _config(args, batch), data, threads=t), args.steps, args.repeats
            )
            for t in (1, 2)
        ]
        macs = shape(net, data.info.size).macs * batch
        print(
            f"{net.label:<12}{width:>6}{batch:>6}{macs / 1e9:>11.2f}G{speed[0]:>10,.0f}"
            f"{speed[1]:>11,.0f}{speed[1] / speed[0]:>7.2f}"
        )


def pace(args, data: datasets.Dataset) -> None:
    """seconds per step and per validation image by network shape; fits resviz.pace."""
    measured = []
    print(
        f"{'network':<12}{'width':>6}{'batch':>6}{'ms/step':>9}{'predicted':>10}"
        f"{'eval ms/img':>12}{'predicted':>10}"
    )
    for depth, width, batch in SHAPES:
        net = NetConfig(depth=depth, width=width)
        trainer = Trainer(net, _config(args, batch), data, threads=1)
        step = seconds_per_step(trainer, args.steps, args.repeats)
        x, y = trainer.data.x_val, trainer.data.y_val
        t0 = time.perf_counter()
        evaluate(trainer.net, x, y, precision=args.precision)
        per_image = (time.perf_counter() - t0) / len(x)
        measured.append((net, batch, step, per_image))
        predicted = cost(net, trainer.cfg, data.info.size)
        print(
            f"{net.label:<12}{width:>6}{batch:>6}{step * 1e3:>9.1f}"
            f"{predicted.step_s * 1e3:>10.1f}{per_image * 1e3:>12.3f}"
            f"{predicted.eval_s / len(x) * 1e3:>10.3f}"
        )
    shapes = [shape(net, data.info.size) for net, *_ in measured]
    t = np.array([step for *_, step, _ in measured])
    layers = [s.layers for s in shapes]
    batches = [b for _, b, *_ in measured]
    for lanes, counts in (
        (1, [(s.activations, s.macs) for s in shapes]),
        (LANES, [(s.blocked_activations, s.blocked_macs) for s in shapes]),
    ):
        a = np.array(
            [[n, act * b, macs * b] for n, (act, macs), b in zip(layers, counts, batches)],
            dtype=float,
        )
        # Relative error is what an estimate is judged by: each row weighted by 1 / its time.
        coef, *_ = np.linalg.lstsq(a / t[:, None], np.ones(len(t)), rcond=None)
        print(
            f"fit, channels in blocks of {lanes}: C_LAYER={coef[0]:.2e}  C_ACT={coef[1]:.2e}  "
            f"C_MAC={coef[2]:.2e}  (seconds); step error {_spread(a @ coef / t)}"
        )
    # An evaluation image, its pass's layer overhead aside, against a training image (last fit).
    share = statistics.median(
        (e - coef[0] * s.layers / EVAL_BATCH)
        / (coef[1] * s.blocked_activations + coef[2] * s.blocked_macs)
        for s, (*_, e) in zip(shapes, measured)
    )
    print(
        f"an evaluation image costs {share:.2f} of a training image (median; "
        f"pace.FORWARD_SHARE is {FORWARD_SHARE:.2f})"
    )


def _spread(ratios: np.ndarray) -> str:
    return f"{(ratios.min() - 1):+.0%} to {(ratios.max() - 1):+.0%}"


def concurrent(args, data: datasets.Dataset) -> None:
    """total images/s of k jobs training at once on this device."""
    device = pick_device()
    specs = PRESETS["degradation"].specs(precision=args.precision)
    ks = [1, 2, 4, 8] if device.type != "cpu" else list(range(1, cpu_quota() + 1))
    print(
        f"{describe_device(device)}: the Degradation preset's networks, one job each, "
        f"{args.steps} steps after a warm-up"
    )
    results = {}
    for k in ks:
        trainers = [Trainer(*specs[i % len(specs)], data=data, threads=1) for i in range(k)]
        streams = [t.run() for t in trainers]
        for stream in streams:
            next(stream)
        barrier = threading.Barrier(k + 1)

        def work(stream, barrier: threading.Barrier) -> None:
            barrier.wait()
            for _ in range(args.steps):
                next(stream)
            if device.type == "cuda":
                torch.cuda.synchronize()

        pool = [threading.Thread(target=work, args=(s, barrier)) for s in streams]
        for th in pool:
            th.start()
        barrier.wait()
        t0 = time.perf_counter()
        for th in pool:
            th.join()
        seconds = time.perf_counter() - t0
        results[k] = sum(t.cfg.batch_size for t in trainers) * args.steps / seconds
        print(f"{k} at once: {results[k]:,.0f} images/s in total")
    best = max(results, key=results.get)
    print(
        f"most images/s with {best} at once: set RESVIZ_GPU_JOBS={best}"
        if device.type != "cpu"
        else f"most images/s with {best} at once (the CPU's slots are its quota, {cpu_quota()})"
    )
