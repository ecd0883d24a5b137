"""A residual block as a wiring diagram: conv-BN-ReLU-conv-BN, the skip, the addition and the
final ReLU (He et al. 2016, Fig. 2), each edge labelled with the shape of the tensor it carries.

The shapes are recorded by hooks during a forward pass of the actual block inside its network,
never worked out on paper, so the diagram shows what the code computes. Where a block changes
the shape (stride 2, twice the channels) its shortcut is the paper's option A (subsample and pad
with zero channels, no weights) or option B (a 1x1 projection), Sec. 4.2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import NetConfig
from .models import Block, ZeroPadShortcut, build, count_params
from .summary import shape_text

BRANCH = ("conv1", "bn1", "relu1", "conv2", "bn2")  # F(x), in the order Block.forward runs it
STAGES = {1: "first block (the shape stays)", 2: "first block of stage 2 (stride 2)"}

Shape = tuple[int, int, int]  # (C, H, W) of one image


@dataclass(frozen=True)
class Node:
    key: str  # "x", a module's name ("conv1", "shortcut", "relu2"), "add" or "out"
    label: str  # what the box says, one line or several ("\n")
    params: int  # weights the learner's optimiser updates in it


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    shape: Shape  # the tensor on this edge, recorded in a forward pass


@dataclass(frozen=True)
class Wiring:
    title: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    skip: str  # "none", "identity", "A" or "B"
    stride: int  # of the first convolution, and of the shortcut

    def edge(self, src: str, dst: str) -> Edge:
        return next(e for e in self.edges if (e.src, e.dst) == (src, dst))


def block_wiring(
    image: Shape, stage: int = 1, residual: bool = True, shortcut: str = "A", width: int = 16
) -> Wiring:
    """The first block of `stage` of an 8-layer network (width 16, like the page's block) for
    images of shape `image`, wired and measured."""
    net = build(
        NetConfig(depth=8, width=width, in_channels=image[0], residual=residual, shortcut=shortcut)
    )
    block: Block = getattr(net, f"stage{stage}").block1
    shapes = _record(net, block, image)
    skip = _skip_kind(block)
    nodes = [Node("x", "x", 0)]
    nodes += [Node(n, _label(getattr(block, n)), count_params(getattr(block, n))) for n in BRANCH]
    edges = [Edge(a, b, shapes[a]) for a, b in zip(["x", *BRANCH], BRANCH)]
    if skip == "none":
        edges.append(Edge("bn2", "relu2", shapes["bn2"]))
    else:
        nodes.append(Node("add", "+", 0))
        edges.append(Edge("bn2", "add", shapes["bn2"]))
        if skip == "identity":
            edges.append(Edge("x", "add", shapes["x"]))
        else:
            nodes.append(Node("shortcut", _label(block.shortcut), count_params(block.shortcut)))
            edges += [
                Edge("x", "shortcut", shapes["x"]),
                Edge("shortcut", "add", shapes["shortcut"]),
            ]
        edges.append(Edge("add", "relu2", shapes["add"]))
    nodes += [Node("relu2", "ReLU", 0), Node("out", "output", 0)]
    edges.append(Edge("relu2", "out", shapes["relu2"]))
    conv = block.conv1
    title = (
        f"stage {stage}, block 1: {conv.in_channels} → {conv.out_channels} channels, "
        f"stride {conv.stride[0]}"
    )
    return Wiring(title, tuple(nodes), tuple(edges), skip, conv.stride[0])


def _record(net: nn.Module, block: Block, image: Shape) -> dict[str, Shape]:
    """Output shape of each of the block's layers, its input ("x") and the sum ("add"), from
    one forward pass of the whole network on a blank image."""
    shapes: dict[str, Shape] = {}

    def keep(name: str):
        return lambda _m, _i, out: shapes.__setitem__(name, tuple(out.shape[1:]))

    def keep_input(name: str):
        return lambda _m, args: shapes.__setitem__(name, tuple(args[0].shape[1:]))

    handles = [getattr(block, n).register_forward_hook(keep(n)) for n in (*BRANCH, "relu2")]
    handles.append(block.register_forward_pre_hook(keep_input("x")))
    handles.append(block.relu2.register_forward_pre_hook(keep_input("add")))  # F(x) + shortcut
    if block.residual:
        handles.append(block.shortcut.register_forward_hook(keep("shortcut")))
    try:
        with torch.no_grad():
            net.eval()(torch.zeros(1, *image))  # (1, C, H, W)
    finally:
        for h in handles:
            h.remove()
    return shapes


def _skip_kind(block: Block) -> str:
    if not block.residual:
        return "none"
    if isinstance(block.shortcut, nn.Identity):
        return "identity"
    return "A" if isinstance(block.shortcut, ZeroPadShortcut) else "B"


def _label(m: nn.Module) -> str:
    """A layer as the paper's figures name it."""
    if isinstance(m, nn.Conv2d):
        k, s = m.kernel_size[0], m.stride[0]
        return f"{k}x{k} conv, {m.out_channels}" + (f", /{s}" if s > 1 else "")
    if isinstance(m, nn.BatchNorm2d):
        return "batch norm"
    if isinstance(m, nn.ReLU):
        return "ReLU"
    if isinstance(m, ZeroPadShortcut):
        return f"option A\nsubsample /{m.stride}\n+{m.extra} zero channels"
    if isinstance(m, nn.Sequential):  # option B: 1x1 convolution, then batch norm
        return f"option B\n{_label(m.get_submodule('conv'))}\n+ batch norm"
    raise TypeError(f"no description for {type(m).__name__}")


def caption(w: Wiring) -> str:
    """What the diagram shows, with its shapes and weights: how the skip meets F(x)."""
    x = w.edge("x", "conv1").shape
    fx = w.edge("bn2", "relu2" if w.skip == "none" else "add").shape
    text = (
        f"{w.title[0].upper()}{w.title[1:]}. Each arrow carries one image's tensor "
        f"(channels×height×width), recorded in a forward pass of this block. "
    )
    if w.skip == "none":
        return text + "Without the skip there is no addition: the block computes ReLU(F(x))."
    if w.skip == "identity":
        return text + (
            f"x and F(x) are both {shape_text(x)}, so the skip adds x itself: the identity, "
            f"no weights."
        )
    shortcut = next(n for n in w.nodes if n.key == "shortcut")
    how = (
        f"option A keeps one pixel of each {w.stride}x{w.stride} square and appends "
        f"{fx[0] - x[0]} channels of zeros (no weights)"
        if w.skip == "A"
        else f"option B, a 1x1 convolution with stride {w.stride} and batch norm, learns "
        f"{shortcut.params:,} weights"
    )
    return text + (
        f"F(x) is {shape_text(fx)} but x is {shape_text(x)}, so the skip changes x's shape "
        f"too: {how}."
    )
