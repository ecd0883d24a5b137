"""Shattered gradients (Balduzzi et al. 2017, "The Shattered Gradients Problem"), at initialisation.

Walk in small steps along a line of inputs, from one image to another, and take the gradient
of one output of the network with respect to the input at every point. In a shallow network
the gradients of neighbouring points are nearly the same vector, so gradient descent has a
smooth signal to follow. In a deep plain network they decorrelate with depth until they look
like white noise ("shattered"); skip connections slow that decay down (the paper's Sec. 3).

We measure it as the mean Pearson correlation between the gradients (over pixels) of
consecutive points: 1 means neighbours agree, 0 means they are unrelated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .config import CIFAR_DEPTHS, VARIANTS, NetConfig
from .data import Dataset
from .models import build_seeded

DEPTHS = CIFAR_DEPTHS[:-1]  # to 56 layers, as the Experiments page compares


@dataclass(frozen=True)
class Shattering:
    """Neighbour correlation at each depth, one curve per network kind."""

    depths: tuple[int, ...]
    curves: dict[tuple[bool, bool], tuple[float, ...]]  # (residual, batch norm) -> one a depth
    points: int  # inputs along the line
    width: int
    seed: int


def image_line(a: torch.Tensor, b: torch.Tensor, points: int = 256) -> torch.Tensor:
    """(points, C, H, W): evenly spaced inputs from image `a` (C, H, W) to image `b`."""
    t = torch.linspace(0, 1, points, dtype=a.dtype, device=a.device).view(-1, 1, 1, 1)
    return (1 - t) * a + t * b


def input_gradients(net: nn.Module, x: torch.Tensor, unit: int = 0) -> torch.Tensor:
    """(N, C*H*W): d output[unit] / d input at each of the N inputs, one batched backward.

    The network must treat each input on its own (eval mode, or no batch norm): then the
    gradient of the batch's summed output with respect to input i is that input's gradient.
    """
    net.requires_grad_(False)  # only the input gradient is needed, not the weights'
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(x)[:, unit].sum(), x)
    return grad.flatten(1)


def neighbour_correlation(grads: torch.Tensor) -> float:
    """Mean Pearson correlation between rows i and i + 1 of (N, D) gradients."""
    g = grads.double()
    g = g - g.mean(1, keepdim=True)
    g = g / g.norm(dim=1, keepdim=True)
    return (g[:-1] * g[1:]).sum(1).mean().item()


@torch.no_grad()
def calibrate_bn(net: nn.Module, x: torch.Tensor) -> nn.Module:
    """Set every batch norm's running statistics to those of batch `x`, then freeze (eval mode).

    In training mode batch norm normalises each input with statistics of the whole batch, so
    the points of the line would mix: the "gradient at point i" would carry terms from every
    other point. Eval mode with the defaults of a fresh network (mean 0, variance 1) would turn
    batch norm into nothing at all. Statistics of a batch of real images, then frozen, give
    each point what batch norm does to data at initialisation, as one fixed function.
    """
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # a plain average over the batches seen: here, exactly `x`'s
    net.train()
    net(x)
    return net.eval()


def correlation(
    cfg: NetConfig, line: torch.Tensor, calibration: torch.Tensor, seed: int = 0, unit: int = 0
) -> float:
    """Neighbour correlation of one freshly initialised network (He init) along `line`."""
    net = build_seeded(cfg, seed).to(line.device)
    calibrate_bn(net, calibration)
    return neighbour_correlation(input_gradients(net, line, unit))


def shattering(
    data: Dataset,
    depths: tuple[int, ...] = DEPTHS,
    points: int = 256,
    width: int = 8,
    seed: int = 0,
    ends: tuple[int, int] = (0, 1),
    calibration: int = 128,
    variants: tuple[tuple[bool, bool], ...] = VARIANTS,
    progress: Callable[[float], None] | None = None,
) -> Shattering:
    """Each (residual, batch norm) variant at each depth, on one line of inputs.

    The line runs between training images `ends` (a 4 and a 3 in mnist-5k by default); batch
    norm is calibrated on the first `calibration` training images. All networks share `seed`.
    `progress` is called with the fraction of networks done (depth 56 takes the longest).
    """
    line = image_line(data.x_train[ends[0]], data.x_train[ends[1]], points)
    batch = data.x_train[:calibration]
    curves: dict[tuple[bool, bool], list[float]] = {}
    for k, (residual, batch_norm, depth) in enumerate(
        (r, bn, d) for r, bn in variants for d in depths
    ):
        cfg = data.info.net(depth=depth, residual=residual, batch_norm=batch_norm, width=width)
        curves.setdefault((residual, batch_norm), []).append(correlation(cfg, line, batch, seed))
        if progress is not None:
            progress((k + 1) / (len(variants) * len(depths)))
    return Shattering(tuple(depths), {k: tuple(v) for k, v in curves.items()}, points, width, seed)
