"""A network's layer table: output shape, parameters and forward multiply-adds per layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

COLUMNS = ("layer", "type", "output", "parameters", "multiply-adds")
_TEXT_LEFT = 2  # the first two columns are words (left-aligned), the rest sizes and counts

# Layers that hold a row in the table; activations, dropout and containers do not.
_ROW_TYPES = (
    nn.Conv2d,
    nn.Linear,
    nn.BatchNorm2d,
    nn.LocalResponseNorm,
    nn.MaxPool2d,
    nn.AdaptiveAvgPool2d,
)


@dataclass(frozen=True)
class LayerRow:
    name: str  # stable module name, e.g. "stage2.block1.conv1"
    kind: str  # "Conv2d 3x3/2", "Conv2d 5x5, 2 groups", "Linear", "BatchNorm2d", ...
    out_shape: tuple[int, ...]  # (C, H, W) or (features,), batch dimension left out
    params: int
    macs: int  # multiply-adds of one forward pass on one image


def _kind(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        k, s = m.kernel_size[0], m.stride[0]
        groups = f", {m.groups} groups" if m.groups > 1 else ""
        return f"Conv2d {k}x{k}" + (f"/{s}" if s > 1 else "") + groups
    return type(m).__name__


def _macs(m: nn.Module, out: torch.Tensor) -> int:
    if isinstance(m, nn.Conv2d):  # every output element is a dot product over C_in/groups x k x k
        k = m.kernel_size[0] * m.kernel_size[1]
        return out[0].numel() * (m.in_channels // m.groups) * k
    if isinstance(m, nn.Linear):
        return m.in_features * m.out_features
    return 0


def summarize(net: nn.Module, input_shape: tuple[int, int, int]) -> list[LayerRow]:
    """Run one (1, C, H, W) image through `net` and record every conv, linear, norm and pool."""
    rows: list[LayerRow] = []

    def record(name: str):
        def hook(m: nn.Module, _inp, out: torch.Tensor) -> None:
            rows.append(
                LayerRow(
                    name,
                    _kind(m),
                    tuple(out.shape[1:]),
                    sum(p.numel() for p in m.parameters(recurse=False)),
                    _macs(m, out),
                )
            )

        return hook

    handles = [
        m.register_forward_hook(record(n))
        for n, m in net.named_modules()
        if isinstance(m, _ROW_TYPES)
    ]
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            net(torch.zeros(1, *input_shape, device=next(net.parameters()).device))
    finally:
        net.train(was_training)
        for h in handles:
            h.remove()
    return rows


def totals(rows: list[LayerRow]) -> dict[str, int]:
    return {"params": sum(r.params for r in rows), "macs": sum(r.macs for r in rows)}


def shape_text(shape: Sequence[int]) -> str:
    """An output shape as every table and diagram writes it: 32×14×14 (C×H×W), or 1000."""
    return "×".join(map(str, shape))


def table(rows: Sequence[LayerRow]) -> list[dict]:
    """One dict per layer, keyed by `COLUMNS`: the tables of the Build and Convolutions pages."""
    return [
        dict(zip(COLUMNS, (r.name, r.kind, shape_text(r.out_shape), r.params, r.macs)))
        for r in rows
    ]


def text(rows: Sequence[LayerRow]) -> str:
    """`table` as fixed-width text (the command line's summary), counts with thousands commas."""
    lines = [COLUMNS] + [
        tuple(f"{v:,}" if isinstance(v, int) else v for v in row.values()) for row in table(rows)
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i < _TEXT_LEFT else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths))
        ).rstrip()
        for line in lines
    )
