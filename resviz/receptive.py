"""Receptive fields: which input pixels one unit of a layer can see, and crops of exactly those.

For a stack of convolutions and poolings with kernel k, stride s and padding p (Araujo, Norris
and Sim, "Computing receptive fields of convolutional neural networks", Distill 2019):

    size_out  = size_in + (k - 1) * jump_in      side of the square of input pixels seen
    jump_out  = jump_in * s                      input pixels between neighbouring units
    start_out = start_in + ((k - 1) / 2 - p) * jump_in   centre of unit (0, 0), input pixels

A residual block's shortcut (identity, subsampling or a 1x1 convolution) sees a subset of what
its two 3x3 convolutions see, centred on the same pixel, so the main path decides the field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn


@dataclass(frozen=True)
class Field:
    """The receptive field of every unit of one layer, in input pixels (pixel centres 0..W-1)."""

    size: int = 1
    jump: int = 1
    start: float = 0.0

    def then(self, kernel: int, stride: int, padding: int) -> Field:
        """The field after one more convolution or pooling layer."""
        return Field(
            self.size + (kernel - 1) * self.jump,
            self.jump * stride,
            self.start + ((kernel - 1) / 2 - padding) * self.jump,
        )

    def box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) of unit (row, col), bottom and right exclusive; the box
        may reach past the image (into the padding)."""
        half = (self.size - 1) / 2  # odd kernels and integer starts: a whole number of pixels
        top, left = (int(round(self.start + i * self.jump - half)) for i in (row, col))
        return top, left, top + self.size, left + self.size


def _geometry(m: nn.Module) -> tuple[int, int, int] | None:
    if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        k, s, p = (
            v if isinstance(v, int) else int(v[0]) for v in (m.kernel_size, m.stride, m.padding)
        )
        return k, s, p
    return None


def fields(net: nn.Module) -> dict[str, Field]:
    """Field of each part's output, by name, in forward order: for a `Net`, the stem and each
    block (`stage2.block1`); for a plain `nn.Sequential`, each layer.

    A part's field is the one after its last convolution or pooling on the main path
    (shortcut convolutions excluded: their field lies inside the main path's, see above).
    """
    field, out = Field(), {}
    for name, m in net.named_modules():
        if ".shortcut" in name or (g := _geometry(m)) is None:
            continue
        field = field.then(*g)
        out[name.rsplit(".", 1)[0]] = field  # stem.conv -> stem; a Sequential's "2" -> "2"
    return out


def window(field: Field, row: int, col: int, height: int, width: int) -> tuple[int, int, int]:
    """(top, left, side) of the square shown for a unit: its box, or where the box is larger
    than the image, the image-sized part of the box that overlaps the image most."""
    top, left, _, _ = field.box(row, col)
    side = min(field.size, height, width)
    return _slide(top, field.size, side), _slide(left, field.size, side), side


def _slide(start: int, size: int, side: int) -> int:
    # A window of `side` inside [start, start + size), as close to pixel 0 as it can get: the
    # box itself when side == size, otherwise the part nearest the image.
    return max(start, min(0, start + size - side))


def crop(image: np.ndarray, field: Field, row: int, col: int, fill: float = 0.5) -> np.ndarray:
    """The (C, side, side) part of a (C, H, W) image that unit (row, col) sees; pixels outside
    the image (the network's zero padding) are `fill`."""
    c, h, w = image.shape
    top, left, side = window(field, row, col, h, w)
    out = np.full((c, side, side), fill, dtype=image.dtype)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + side, h), min(left + side, w)
    if y1 > y0 and x1 > x0:
        out[:, y0 - top : y1 - top, x0 - left : x1 - left] = image[:, y0:y1, x0:x1]
    return out
