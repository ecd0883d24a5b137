"""One residual block on a real image, and gradient magnitude against depth at initialisation.

A block computes y = ReLU(F(x) + x) (He et al. 2016, Eq. 1 and Fig. 2); switched to plain, the
same weights compute ReLU(F(x)). The identity shortcut holds no weights, so both count the same.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from .config import NetConfig
from .data import Dataset
from .models import count_params
from .probes import Probe
from .train import build_seeded

DEPTHS = (20, 32, 44, 56, 110)  # the paper's CIFAR-10 depths (Table 6)
VARIANTS = ((False, True), (True, True), (False, False), (True, False))  # (residual, batch norm)
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass(frozen=True)
class BlockMaps:
    """A few channels of the block's input, branch and output, each (K, H, W)."""

    x: np.ndarray
    branch: np.ndarray  # F(x): conv-BN-ReLU-conv-BN, before the addition
    out: np.ndarray  # ReLU(F(x) + x) with the skip, ReLU(F(x)) without
    skip: bool
    width: int  # channels the block has; K of them are kept
    params_with_skip: int
    params_without_skip: int


def block_maps(image: torch.Tensor, skip: bool = True, channels: int = 4, width: int = 16,
               seed: int = 0) -> BlockMaps:
    """Feed one normalised image (C, H, W) through a seeded stem and the first residual block."""
    cfg = NetConfig(depth=8, width=width, in_channels=image.shape[0])
    net = build_seeded(cfg, seed)
    block = net.stage1.block1
    plain_params = count_params(build_seeded(replace(cfg, residual=False), seed).stage1.block1)
    branch: list[torch.Tensor] = []
    handle = block.bn2.register_forward_hook(lambda _m, _i, out: branch.append(out))
    block.residual = skip  # the same weights, with or without the line `out = out + identity`
    try:
        with torch.no_grad():  # BN in training mode: each channel normalised over this image
            x = net.stem(image[None])  # (1, width, H, W)
            out = block(x)
    finally:
        handle.remove()
    return BlockMaps(*(t[0, :channels].numpy() for t in (x, branch[0], out)), skip=skip,
                     width=width, params_with_skip=count_params(block),
                     params_without_skip=plain_params)


@dataclass(frozen=True)
class GradientProfile:
    """||dL/dx|| entering each block, input side first, for the four networks of one depth."""

    depth: int
    width: int
    batch: int
    curves: dict[str, tuple[float, ...]]  # label ("plain-56, no BN") -> one value per block


def gradient_profile(data: Dataset, depth: int, batch: int = 16, width: int = 8,
                     seed: int = 0) -> GradientProfile:
    """Plain and residual, with and without batch norm, at initialisation on one real batch.

    Width 8 and 16 images, as in the Train page's presets: depth 56 then takes a few tenths of
    a second on two CPU cores, and the curves keep the shape they have at width 16.
    """
    x, y = data.x_train[:batch], data.y_train[:batch]  # (B, C, H, W), (B,)
    curves = {}
    for residual, batch_norm in VARIANTS:
        cfg = NetConfig(depth=depth, residual=residual, batch_norm=batch_norm, width=width,
                        in_channels=data.info.channels, num_classes=data.info.num_classes)
        curves[cfg.label] = block_input_grads(build_seeded(cfg, seed), x, y)
    return GradientProfile(depth, width, len(x), curves)


def block_input_grads(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, ...]:
    """||dL/dx|| into each block after one forward/backward of a fresh network.

    Weights are frozen and the image asks for a gradient instead: backward then computes only
    the activation gradients the probe reads, not the weight gradients (about half the work).
    """
    net.requires_grad_(False)
    with Probe(net) as probe:
        F.cross_entropy(net(x.clone().requires_grad_(True)), y).backward()
    return tuple(probe.block_grad_norms().values())


def describe(profile: GradientProfile) -> list[str]:
    """Two sentences, computed from the curves, telling the learner what the figure shows."""
    plain, residual, plain_bn = (profile.curves[_label(profile.depth, r, bn)]
                                 for r, bn in ((False, False), (True, False), (False, True)))
    return [_without_bn(plain, residual), _with_bn(plain_bn)]


def _without_bn(plain: tuple[float, ...], residual: tuple[float, ...]) -> str:
    ratio = plain[0] / residual[0]
    text = (f"Without batch norm, the plain network's gradient {_trend(plain)} on its way back "
            f"from block {len(plain)} to block 1{' (it vanishes)' if plain[0] < plain[-1] else ''}"
            f", and at block 1 it is {_factor(ratio)} times "
            f"{'smaller' if ratio < 1 else 'larger'} than the residual network's")
    if residual[0] <= residual[-1]:
        return text + "."
    return (text + f", which {_trend(residual)} instead (without batch norm every residual "
            "block adds its branch's variance to the signal).")


def _with_bn(plain: tuple[float, ...]) -> str:
    text = (f"With batch norm, the plain network's gradient {_trend(plain)} from block "
            f"{len(plain)} to block 1")
    if plain[0] < plain[-1]:
        return text + "."
    return (text + ": it does not vanish, which is why the paper says deep plain networks with "
            "batch norm fail by degradation, not by vanishing gradients (Sec. 4.1); see the "
            "Train page's Degradation preset.")


def _label(depth: int, residual: bool, batch_norm: bool) -> str:
    return NetConfig(depth=depth, residual=residual, batch_norm=batch_norm).label


def _trend(curve: tuple[float, ...]) -> str:
    ratio = curve[0] / curve[-1]
    return f"grows {_factor(ratio)}-fold" if ratio >= 1 else f"shrinks {_factor(ratio)}-fold"


def _factor(ratio: float) -> str:
    """How many times larger or smaller: 0.01 and 100 both read "100"."""
    ratio = max(ratio, 1 / ratio)
    if ratio >= 1_000_000:  # 5 x 10^10 reads better than 49,912,741,806
        mantissa, exponent = f"{ratio:.0e}".split("e")
        return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"
    return f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:.1f}"
