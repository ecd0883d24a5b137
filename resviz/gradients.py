"""Probe matrices out of run records, per element: the numbers the gradient rule judges.

Runs record norms (‖dL/dx‖ of each block's input, ‖dL/dW‖ of each layer's weight). A norm grows
with the size of its tensor: the first stage's block inputs have 4x the elements of the last
stage's, which alone makes their norm 2x larger. Divided by the square root of the element
count, a norm becomes a root mean square, and layers of different sizes compare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from . import data as datasets
from .config import NetConfig
from .models import blocks, build, weight_layers
from .runs import Run


@dataclass(frozen=True)
class Matrix:
    """One probe of one run: `values[i][j]` is layer `layers[i]` at step `steps[j]`."""

    layers: list[str]
    steps: list[int]
    values: list[list[float | None]]

    def at(self, step: int) -> list[float | None]:
        j = self.steps.index(step)
        return [row[j] for row in self.values]


def matrix(run: Run, key: str) -> Matrix:
    """The probe as recorded (norms for the gradients, std for the responses)."""
    recs = [r for r in run.records if r.get(key)]
    layers = list(recs[0][key]) if recs else []
    return Matrix(
        layers, [r["step"] for r in recs], [[r[key].get(name) for r in recs] for name in layers]
    )


def rms_matrix(run: Run, key: str) -> Matrix | None:
    """A gradient probe per element (norm / sqrt(elements)); `act_std` as recorded.

    None when the run's dataset is unknown here, so its images' size (and the element counts)
    cannot be had.
    """
    m = matrix(run, key)
    if key == "act_std":
        return m
    image = image_size(run.train.dataset)
    if image is None:
        return None
    counts = element_counts(run.net, image)[key]
    batch = run.train.batch_size if key == "block_grad_norms" else 1
    return Matrix(
        m.layers,
        m.steps,
        [
            [_per_element(v, batch * counts[name]) for v in row]
            for name, row in zip(m.layers, m.values)
        ],
    )


def _per_element(norm: float | None, count: int) -> float | None:
    return None if norm is None else norm / math.sqrt(count)


def image_size(dataset: str) -> int | None:
    try:
        return datasets.info(dataset).size
    except ValueError:
        return None


def _down(side: int, stride: int) -> int:
    """Side after a 3x3 conv with padding 1 (or the 7x7/2 stem, or the 3x3/2 max pool)."""
    return (side - 1) // stride + 1


@lru_cache(maxsize=64)
def element_counts(cfg: NetConfig, image: int) -> dict[str, dict[str, int]]:
    """Elements of one image's input to each block, and of each layer's weight, by layer name:
    `{"block_grad_norms": {...}, "grad_norms": {...}}`."""
    net = build(cfg)
    weights = {name: m.weight.numel() for name, m in weight_layers(net)}
    side = image
    if cfg.family == "imagenet" and not cfg.small_input:
        side = _down(_down(side, 2), 2)  # 7x7/2 stem, 3x3/2 max pool
    inputs, channels = {}, cfg.width
    for name, block in blocks(net):
        inputs[name] = channels * side * side
        side, channels = _down(side, block.conv1.stride[0]), block.conv2.out_channels
    return {"block_grad_norms": inputs, "grad_norms": weights}


def probe_steps(runs: list[Run], key: str = "block_grad_norms") -> list[int]:
    """Steps at which every one of `runs` was probed."""
    sets = [set(matrix(r, key).steps) for r in runs]
    return sorted(set.intersection(*sets)) if sets else []
