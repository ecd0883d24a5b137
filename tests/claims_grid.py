"""Record the run grid that tests/test_claims.py checks every claim against.

Plain and residual networks of 8 to 56 layers, with and without batch norm, seeds 0-2, trained
briefly on MNIST-5k with probes every 25 steps; the no-BN networks also at a smaller learning
rate with warm-up. Real runs, so the claims meet every kind of profile that training gives
(collapsed, exploding, diverged, degraded). Writes tests/fixtures/claims_grid.json.gz (numbers
kept to 4 significant digits):

    python -m tests.claims_grid          # about 30 minutes on 2 busy CPU cores
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import torch

from resviz import data as datasets
from resviz.config import NetConfig, TrainConfig
from resviz.runs import Run
from resviz.train import train

PATH = Path(__file__).parent / "fixtures" / "claims_grid.json.gz"
DEPTHS = (8, 20, 56)
SEEDS = (0, 1, 2)
_BASE = dict(steps=100, batch_size=32, eval_every=25, probe_every=25)
SETTINGS = (
    (True, TrainConfig(lr=0.05, **_BASE)),
    (False, TrainConfig(lr=0.05, **_BASE)),
    (False, TrainConfig(lr=0.01, warmup_steps=25, **_BASE)),
)
_KEEP = (
    "step",
    "train_loss",
    "train_error",
    "val_loss",
    "val_error",
    "diverged",
    "grad_norms",
    "block_grad_norms",
    "act_std",
)


def _round(value):
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def runs() -> list[Run]:
    """The recorded grid, as run objects."""
    with gzip.open(PATH, "rt") as f:
        return [Run.from_dict(d) for d in json.load(f)]


def main() -> None:
    torch.set_num_threads(1)
    data = datasets.load("mnist-5k")
    out = []
    for seed in SEEDS:
        for batch_norm, base in SETTINGS:
            cfg = TrainConfig(**{**base.to_dict(), "seed": seed})
            for depth in DEPTHS:
                for residual in (False, True):
                    net = NetConfig(depth=depth, residual=residual, batch_norm=batch_norm, width=8)
                    records = [
                        {k: _round(r[k]) for k in _KEEP if k in r} for r in train(net, cfg, data)
                    ]
                    status = "diverged" if records[-1].get("diverged") else "done"
                    run = Run(net, cfg, records, status=status, created="grid")
                    out.append(run.to_dict())
                    print(f"seed {seed} lr {cfg.lr} {net.label:<16} {status}", flush=True)
    PATH.parent.mkdir(exist_ok=True)
    with gzip.open(PATH, "wt") as f:
        json.dump(out, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
