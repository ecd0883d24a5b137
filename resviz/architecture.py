"""A built network as pure data: stem, stages, blocks, layers with shapes, and its skips.

The description is read off a real `Net` (module types and a `summarize` pass), so a diagram
or table drawn from it can only show what the network really is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from .config import NetConfig
from .models import Block, Net, ZeroPadShortcut, build, count_params
from .summary import LayerRow, summarize

IDENTITY, ZERO_PAD, PROJECTION = "identity", "zero-pad", "projection"
SKIP_TITLES = {
    IDENTITY: "identity skip",
    ZERO_PAD: "zero-padding skip (option A)",
    PROJECTION: "1×1 projection skip (option B)",
}
PAPER_DEPTHS = (18, 34)  # the ImageNet networks of the paper's Table 1 (Figure 3 draws 34)
FOLD_ABOVE = 6  # blocks a stage may have and still open unfolded (ResNet-34 has 6 at most)
DEEP_STAGE = 9  # past this (depth 110's 18 blocks) even the first stage opens folded


@dataclass(frozen=True)
class BlockView:
    name: str  # "stage2.block1"
    layers: tuple[LayerRow, ...]  # conv1, bn1, conv2, bn2, then the shortcut's own layers
    in_shape: tuple[int, ...]  # (C, H, W) entering the block
    skip: str | None  # None in a plain network, else IDENTITY, ZERO_PAD or PROJECTION

    @property
    def out_shape(self) -> tuple[int, ...]:
        return next(r.out_shape for r in self.layers if r.name.endswith(".conv2"))

    @property
    def main_path(self) -> tuple[LayerRow, ...]:
        """The branch F(x): every layer except the shortcut's."""
        return tuple(r for r in self.layers if ".shortcut." not in r.name)

    @property
    def params(self) -> int:
        return sum(r.params for r in self.layers)


@dataclass(frozen=True)
class StageView:
    name: str  # "stage2"
    blocks: tuple[BlockView, ...]

    @property
    def params(self) -> int:
        return sum(b.params for b in self.blocks)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.blocks[-1].out_shape

    @property
    def skips(self) -> list[BlockView]:
        return [b for b in self.blocks if b.skip]


@dataclass(frozen=True)
class Architecture:
    label: str  # "ResNet-20"
    input_shape: tuple[int, int, int]  # (C, H, W) of one image
    stem: tuple[LayerRow, ...]
    stages: tuple[StageView, ...]
    head: tuple[LayerRow, ...]  # global average pool, then the classifier

    @property
    def rows(self) -> list[LayerRow]:
        """Every layer in forward order: the table."""
        return [
            *self.stem,
            *(r for s in self.stages for b in s.blocks for r in b.layers),
            *self.head,
        ]

    @property
    def blocks(self) -> list[BlockView]:
        return [b for s in self.stages for b in s.blocks]

    @property
    def skips(self) -> list[BlockView]:
        return [b for b in self.blocks if b.skip]

    @property
    def weight_layers(self) -> int:
        """Convolutions and linear layers on the main path: the depth the paper counts."""
        main = [*self.stem, *(r for b in self.blocks for r in b.main_path), *self.head]
        return sum(r.kind.startswith(("Conv2d", "Linear")) for r in main)

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.rows)


def skip_kind(block: Block) -> str | None:
    if not block.residual:
        return None
    if isinstance(block.shortcut, nn.Identity):
        return IDENTITY
    return ZERO_PAD if isinstance(block.shortcut, ZeroPadShortcut) else PROJECTION


def from_net(net: Net, input_shape: tuple[int, int, int]) -> Architecture:
    """Group `summarize`'s rows by stem, block and head, and name each block's shortcut."""
    rows = summarize(net, input_shape)

    def within(prefix: str) -> tuple[LayerRow, ...]:
        return tuple(r for r in rows if r.name.startswith(prefix + "."))

    stem = within("stem")
    shape, stages = stem[-1].out_shape, []
    for i, stage in enumerate(net.stages, 1):
        views = []
        for j, block in enumerate(stage, 1):
            views.append(
                BlockView(
                    f"stage{i}.block{j}", within(f"stage{i}.block{j}"), shape, skip_kind(block)
                )
            )
            shape = views[-1].out_shape
        stages.append(StageView(f"stage{i}", tuple(views)))
    head = tuple(r for r in rows if r.name in ("pool", "fc"))
    return Architecture(net.cfg.label, input_shape, stem, tuple(stages), head)


def _on_meta(cfg: NetConfig) -> Net:
    # The real modules on PyTorch's meta device: true shapes and parameter counts, no memory
    # and no arithmetic, so even a 512-wide ResNet-34 is described at once.
    with torch.device("meta"):
        return build(cfg)


def from_config(cfg: NetConfig, image_size: int) -> Architecture:
    """`from_net` for the network `cfg` builds, for square images of `image_size` pixels."""
    return from_net(_on_meta(cfg), (cfg.in_channels, image_size, image_size))


def default_unfolded(arch: Architecture) -> list[str]:
    """Stages drawn block by block at first: all of a short network, the first of a deep one."""
    longest = max(len(s.blocks) for s in arch.stages)
    if longest <= FOLD_ABOVE:
        return [s.name for s in arch.stages]
    return [] if longest > DEEP_STAGE else [arch.stages[0].name]


def shortcut_params(cfg: NetConfig) -> dict[str, int]:
    """Parameters of the plain network and of its residual twins with option A and option B."""
    variants = {
        "plain": replace(cfg, residual=False),
        "A": replace(cfg, residual=True, shortcut="A"),
        "B": replace(cfg, residual=True, shortcut="B"),
    }
    return {name: count_params(_on_meta(c)) for name, c in variants.items()}


def param_note(cfg: NetConfig) -> str:
    """One sentence, from the counts, on what the skip connections cost in parameters."""
    n = shortcut_params(cfg)
    extra_b = f"option B's 1×1 projections add {n['B'] - n['plain']:,}"
    if not cfg.residual:
        return f"The residual version has {_versus(n['A'], n['plain'])}; {extra_b}."
    if cfg.shortcut == "A":
        return f"The plain version has {_versus(n['plain'], n['A'])}: {extra_b}."
    return f"The plain version has {n['plain']:,} parameters: {extra_b}."


def _versus(count: int, reference: int) -> str:
    if count == reference:
        return f"the same {count:,} parameters (option A shortcuts add none)"
    return f"{count:,} parameters ({count - reference:+,})"


def paper_configs(cfg: NetConfig) -> list[NetConfig]:
    """plain-18, ResNet-18, plain-34, ResNet-34 (option A, as in the paper's Table 2) with
    `cfg`'s input, classes, width, batch norm and stem (the small-image stem for 28-32 px)."""
    return [
        NetConfig(
            "imagenet",
            depth,
            residual,
            cfg.batch_norm,
            cfg.width,
            "A",
            cfg.in_channels,
            cfg.num_classes,
            cfg.small_input,
        )
        for depth in PAPER_DEPTHS
        for residual in (False, True)
    ]


def comparison(cfgs: list[NetConfig], archs: list[Architecture]) -> dict[str, dict[str, int]]:
    """Network -> its depth, parameters, multiply-adds and skips, to read side by side."""
    return {
        a.label: {
            "weight layers": a.weight_layers,
            "parameters": a.params,
            "multiply-adds": a.macs,
            "skip connections": len(a.skips),
            "skips that reshape": sum(b.skip != IDENTITY for b in a.skips),
            # A plain network has no shortcut to swap, so option B leaves it as it is.
            "parameters with option B": shortcut_params(c)["B"] if c.residual else a.params,
        }
        for c, a in zip(cfgs, archs)
    }


def comparison_note(table: dict[str, dict[str, int]]) -> str:
    """The comparison's lesson in one sentence, from its numbers (plain, residual, ...)."""
    names = list(table)
    parts = []
    for plain, res in zip(names[::2], names[1::2]):
        base = table[plain]["parameters"]
        parts.append(
            f"{res} adds {table[res]['parameters'] - base:,} parameters to {plain}'s "
            f"{base:,} with option A shortcuts and "
            f"{table[res]['parameters with option B'] - base:,} with option B"
        )
    return "; ".join(parts) + "."


def variant(cfg: NetConfig, image_size: int) -> str:
    """Which network of its name this is, in words: stem, input, classes, width, batch norm
    and shortcuts (a ResNet-18 for 28 px digits is not the paper's ImageNet ResNet-18)."""
    if cfg.family == "cifar":
        stem = "CIFAR-style, 3x3 stem"
    elif cfg.small_input:
        stem = "ImageNet-style, 3x3 small-image stem without max pooling"
    else:
        stem = "ImageNet-style, 7x7 stem and max pooling"
    parts = [
        stem,
        f"{image_size}x{image_size} {'colour' if cfg.in_channels == 3 else 'grey'} images",
        f"{cfg.num_classes} classes",
        f"width {cfg.width}",
        "batch norm" if cfg.batch_norm else "no batch norm",
    ]
    if cfg.residual:
        parts.append(
            "option-A zero-padding shortcuts"
            if cfg.shortcut == "A"
            else "option-B projection shortcuts"
        )
    return ", ".join(parts)
