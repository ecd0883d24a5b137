"""One residual block on a real image; gradient against depth at initialisation, and in training.

A block computes y = ReLU(F(x) + x) (He et al. 2016, Eq. 1 and Fig. 2); switched to plain, the
same weights compute ReLU(F(x)). The identity shortcut holds no weights, so both count the same.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from .claims import Claim, Kind, factor, profile_claim, say, spread
from .config import VARIANTS, NetConfig, TrainConfig
from .data import Dataset
from .gradients import element_counts
from .models import Net, build_seeded, count_params
from .paper import CIFAR_PARAMS
from .probes import Probe
from .train import Trainer

DEPTHS = tuple(CIFAR_PARAMS)  # the paper's CIFAR-10 depths (Table 6)


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


def block_maps(
    image: torch.Tensor, skip: bool = True, channels: int = 4, width: int = 16, seed: int = 0
) -> BlockMaps:
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
    return BlockMaps(
        *(t[0, :channels].numpy() for t in (x, branch[0], out)),
        skip=skip,
        width=width,
        params_with_skip=count_params(block),
        params_without_skip=plain_params,
    )


@dataclass(frozen=True)
class GradientProfile:
    """RMS of dL/dx per element entering each block, input side first, for the four networks of
    one depth."""

    depth: int
    width: int
    batch: int
    curves: dict[NetConfig, tuple[float, ...]]  # each network -> one value per block

    def net(self, residual: bool, batch_norm: bool) -> NetConfig:
        """The network of this kind among the four."""
        return next(n for n in self.curves if (n.residual, n.batch_norm) == (residual, batch_norm))


def _config(data: Dataset, depth: int, residual: bool, batch_norm: bool, width: int) -> NetConfig:
    return data.info.net(depth=depth, residual=residual, batch_norm=batch_norm, width=width)


def gradient_profile(
    data: Dataset, depth: int, batch: int = 16, width: int = 8, seed: int = 0
) -> GradientProfile:
    """Plain and residual, with and without batch norm, at initialisation on one real batch.

    Width 8 and 16 images: depth 56 then takes a few tenths of a second on two CPU cores, and
    the curves keep the shape they have at width 16.
    """
    x, y = data.x_train[:batch], data.y_train[:batch]  # (B, C, H, W), (B,)
    curves = {}
    for residual, batch_norm in VARIANTS:
        cfg = _config(data, depth, residual, batch_norm, width)
        curves[cfg] = block_input_rms(build_seeded(cfg, seed), x, y)
    return GradientProfile(depth, width, len(x), curves)


def block_input_rms(net: Net, x: torch.Tensor, y: torch.Tensor) -> tuple[float, ...]:
    """RMS of dL/dx per element into each block after one forward/backward of `net`.

    Weights are frozen and the image asks for a gradient instead: backward then computes only
    the activation gradients the probe reads, not the weight gradients (about half the work).
    """
    net.requires_grad_(False)
    with Probe(net) as probe:
        F.cross_entropy(net(x.clone().requires_grad_(True)), y).backward()
    counts = element_counts(net.cfg, x.shape[-1])["block_grad_norms"]
    return tuple(
        norm / math.sqrt(len(x) * counts[name]) for name, norm in probe.block_grad_norms().items()
    )


def verdicts(profile: GradientProfile) -> dict[NetConfig, Claim]:
    """The gradient rule's verdict on each of the four networks at initialisation."""
    return {
        net: profile_claim(net.label, values, net.residual, None)
        for net, values in profile.curves.items()
    }


@dataclass(frozen=True)
class Settling:
    """What training does to the plain network's exploding gradient: its verdict after each
    number of steps, measured on the same images as at initialisation."""

    label: str
    train: TrainConfig
    images: int
    after: dict[int, Claim]  # steps of training (0: as initialised) -> verdict
    seconds: float


def settling(
    data: Dataset,
    depth: int,
    after: tuple[int, ...] = (0, 1, 10, 20),
    width: int = 8,
    images: int = 16,
    seed: int = 0,
) -> Settling:
    """Train the plain network with batch norm and measure its gradient profile as it goes.

    On the CPU, with the Train page presets' batch and learning rate (32, 0.05, held constant
    so that "after 10 steps" does not depend on the last step); its cost is printed by
    `python -m scripts.degradation`.
    """
    t0 = time.perf_counter()
    cfg = _config(data, depth, False, True, width)
    last = max(after)
    # One step more than measured, left untrained: a run evaluates the validation split at its
    # last step and every `eval_every`, a pass this measurement does not use.
    train = TrainConfig(
        steps=last + 1,
        batch_size=32,
        lr=0.05,
        schedule="constant",
        seed=seed,
        device="cpu",
        eval_every=last + 1,
        probe_every=last + 1,
    )
    trainer = Trainer(cfg, train, data)
    x, y = data.x_train[:images], data.y_train[:images]

    def measure() -> Claim:  # in the figure's memory layout: step 0 is the figure's curve
        net = copy.deepcopy(trainer.net).to(memory_format=torch.contiguous_format)
        values = block_input_rms(net, x, y)
        return profile_claim(cfg.label, values, False, None)

    found = {0: measure()} if 0 in after else {}
    for record in trainer.run():
        if record["step"] in after:
            found[record["step"]] = measure()
        if record["step"] == last:
            break
    return Settling(cfg.label, train, images, found, time.perf_counter() - t0)


def plain_explodes(profile: GradientProfile) -> bool:
    """Whether the plain network with batch norm explodes at initialisation at this depth."""
    return verdicts(profile)[profile.net(False, True)].kind == Kind.EXPLODING


def findings(profile: GradientProfile, settled: Settling | None = None) -> list[str]:
    """What the figure shows, computed: each network's verdict, then the comparisons."""
    said = verdicts(profile)
    plain, residual = (profile.curves[profile.net(r, False)] for r in (False, True))
    lines = say(said.values())
    lines.append(
        f"Without batch norm the plain network's gradient is "
        f"{_than(plain[-1] / residual[-1])} the residual network's at block "
        f"{len(plain)} and {_than(plain[0] / residual[0])} at block 1."
    )
    bn = said[profile.net(False, True)]
    if bn.kind == Kind.EXPLODING:
        lines.append(_explosion(bn, settled))
    elif bn.kind == Kind.HEALTHY:
        lines.append(
            "With batch norm the plain network's gradient is healthy at this depth: "
            "it does not vanish, which is why the paper says deep plain networks with "
            "batch norm fail by degradation, not by vanishing gradients (Sec. 4.1); "
            "see the Train page's Degradation preset."
        )
    return lines


def _explosion(bn: Claim, settled: Settling | None) -> str:
    blocks_apart = abs(bn["smallest_at"] - bn["largest_at"])
    text = (
        f"With batch norm the plain network's gradient does not vanish: at initialisation it "
        f"**explodes**, {factor(spread(bn))}x larger at block {bn['largest_at']:.0f} than at "
        f"block {bn['smallest_at']:.0f}, about {spread(bn) ** (1 / blocks_apart):.2f}x more a "
        f"block towards the input: the gradient explosion of batch-normalised plain networks "
        f"(Yang et al. 2019)."
    )
    if settled is None:
        return text
    steps = sorted(s for s in settled.after if s)
    each = [
        f"after {s} step{'s' if s > 1 else ''} {settled.after[s].kind.value}, "
        f"{factor(spread(settled.after[s]))}x"
        for s in steps
    ]
    gone = next((s for s in steps if settled.after[s].kind != Kind.EXPLODING), None)
    end = (
        f"The explosion is gone after {gone} step{'s' if gone > 1 else ''}."
        if gone
        else f"It still explodes after {steps[-1]} steps."
    )
    return text + (
        f" A few steps of training (batch {settled.train.batch_size}, learning rate "
        f"{settled.train.lr}; measured on the same {settled.images} images): "
        f"{'; '.join(each)}. {end}"
    )


def _than(ratio: float) -> str:
    return f"{factor(ratio)}x {'smaller than' if ratio < 1 else 'larger than'}"
