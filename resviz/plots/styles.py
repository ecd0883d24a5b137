"""A network's look in every figure, fixed by what it is: plain blue, ResNet orange (Okabe-Ito,
colour-blind safe and dark enough for a projector), a deeper network a darker shade of its hue,
and without batch norm dashed. Nothing else decides it (not the order of the runs, not which
others a figure shows), so plain-56 is the same line on every page."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import CIFAR_DEPTHS, NetConfig

KIND_HUE = {False: "#0072B2", True: "#D55E00"}  # plain, residual
BN_DASH = {True: "solid", False: "dash"}
# Depths placed evenly from lightest to darkest: the paper's CIFAR depths; others in between by
# their logarithm (ImageNet-style 18 near 20, 34 near 32), shallower and deeper ones at the ends.
DEPTHS = CIFAR_DEPTHS
LIGHTEST, DARKEST = 0.5, 0.45  # shallowest: mixed this far to white; deepest: to black


@dataclass(frozen=True)
class Style:
    colour: str
    dash: str


def kind_colour(residual: bool) -> str:
    return KIND_HUE[bool(residual)]


def shade(hex_colour: str, rank: float) -> str:
    """`hex_colour` lightened (rank 0, the shallowest) or darkened (rank 1, the deepest)."""
    rgb = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    if rank < 0.5:
        t = LIGHTEST * (1 - 2 * rank)
        mixed = [c + (255 - c) * t for c in rgb]
    else:
        mixed = [c * (1 - DARKEST * (2 * rank - 1)) for c in rgb]
    return "#" + "".join(f"{round(c):02x}" for c in mixed)


def depth_rank(depth: int) -> float:
    """0 for the shallowest of DEPTHS (or shallower), 1 for the deepest (or deeper)."""
    logs = [math.log(d) for d in DEPTHS]
    x = math.log(max(DEPTHS[0], min(DEPTHS[-1], depth)))
    i = max(j for j in range(len(logs)) if logs[j] <= x)
    if i == len(logs) - 1:
        return 1.0
    return (i + (x - logs[i]) / (logs[i + 1] - logs[i])) / (len(logs) - 1)


def style(residual: bool, depth: int, batch_norm: bool) -> Style:
    return Style(shade(kind_colour(residual), depth_rank(depth)), BN_DASH[bool(batch_norm)])


def run_style(net: NetConfig) -> Style:
    """The look of a run of `net`, the same in every figure of every page."""
    return style(net.residual, net.depth, net.batch_norm)
