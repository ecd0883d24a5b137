"""The kernel sliding over an image one output pixel at a time, as CNN Explainer shows it: the
patch under the kernel, the nine products and their sum; stride, zero padding and the output
size they give; and a colour image, where each input channel has its own kernel and the
channels' results add up to the layer's one output map.

Every output value comes from `F.conv2d`; the arithmetic shown beside it is recomputed from the
padded image, so the two can be checked against each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .lesson_convolutions import photo_path

CHANNELS = ("red", "green", "blue")
STRIDES = (1, 2, 3)
PADDINGS = (0, 1, 2)
RGB_SIDE = 48  # the colour example's longer side: pixels large enough to see on a projector


@dataclass(frozen=True)
class Geometry:
    """An (H, W) input, a square kernel, a stride and a zero padding on every side."""

    height: int
    width: int
    kernel: int = 3
    stride: int = 1
    padding: int = 0

    def __post_init__(self) -> None:
        if self.stride < 1 or self.padding < 0:
            raise ValueError("The stride must be at least 1 and the padding at least 0.")
        if min(self.height, self.width) + 2 * self.padding < self.kernel:
            raise ValueError(
                f"A {self.kernel}x{self.kernel} kernel does not fit in a "
                f"{self.height}x{self.width} image with padding {self.padding}."
            )

    def side(self, n: int) -> int:
        """Output side for an input side n: floor((n + 2p - k) / s) + 1."""
        return (n + 2 * self.padding - self.kernel) // self.stride + 1

    @property
    def out(self) -> tuple[int, int]:
        return self.side(self.height), self.side(self.width)

    def formula(self, n: int) -> str:
        """The output-size formula with this geometry's numbers filled in."""
        p, k, s = self.padding, self.kernel, self.stride
        return f"⌊({n} + 2×{p} − {k}) / {s}⌋ + 1 = {self.side(n)}"


@dataclass(frozen=True)
class Slide:
    """One grey image convolved with one kernel: the padded input and the output map."""

    geometry: Geometry
    padded: np.ndarray  # (H + 2p, W + 2p): the zeros the kernel sees at the border included
    kernel: np.ndarray  # (k, k)
    output: np.ndarray  # (H_out, W_out), from F.conv2d


@dataclass(frozen=True)
class Window:
    """The kernel over one output pixel: where it sits, what it sees, what it computes."""

    row: int  # output pixel
    col: int
    top: int  # the patch's top-left corner in the padded input
    left: int
    patch: np.ndarray  # (k, k)
    products: np.ndarray  # patch * kernel, element by element
    total: float  # the sum of the products: the output pixel's value

    def arithmetic(self, kernel: np.ndarray) -> str:
        """The nine products written out and summed, as a learner would on paper."""
        pairs = zip(self.patch.flat, kernel.flat)
        terms = " + ".join(f"{_minus(f'{a:.2f}')}×{_bracket(f'{b:.3g}')}" for a, b in pairs)
        return f"{terms} = **{_minus(f'{self.total:.3f}')}**"


def slide(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> Slide:
    """Convolve a grey (H, W) image with a square kernel at this stride and zero padding."""
    height, width = image.shape
    geometry = Geometry(height, width, kernel=kernel.shape[0], stride=stride, padding=padding)
    x = torch.as_tensor(image, dtype=torch.float32)[None, None]  # (1, 1, H, W)
    w = torch.as_tensor(kernel, dtype=torch.float32)[None, None]  # (1, 1, k, k)
    output = F.conv2d(x, w, stride=stride, padding=padding)[0, 0]
    padded = F.pad(x, (padding,) * 4)[0, 0]  # zeros on every side, as conv2d pads
    return Slide(geometry, padded.numpy(), np.asarray(kernel, np.float32), output.numpy())


def window(s: Slide, row: int, col: int) -> Window:
    """The patch under the kernel for output pixel (row, col), and its products."""
    rows, cols = s.geometry.out
    if not (0 <= row < rows and 0 <= col < cols):
        raise ValueError(f"The output is {rows}x{cols}; row {row}, column {col} is outside it.")
    k, stride = s.geometry.kernel, s.geometry.stride
    top, left = row * stride, col * stride
    patch = s.padded[top : top + k, left : left + k]
    products = patch.astype(np.float64) * s.kernel
    return Window(row, col, top, left, patch, products, float(products.sum()))


def strongest(output: np.ndarray) -> tuple[int, int]:
    """The (row, col) of the largest response of either sign: where the kernel finds most."""
    row, col = np.unravel_index(int(np.abs(output).argmax()), output.shape)
    return int(row), int(col)


def filled(s: Slide, row: int, col: int) -> np.ndarray:
    """The output map as far as the kernel has slid (row by row, left to right); NaN after."""
    out = s.output.astype(np.float64)
    flat = out.reshape(-1).copy()
    flat[row * out.shape[1] + col + 1 :] = np.nan
    return flat.reshape(out.shape)


def colour_photo(name: str, max_side: int = RGB_SIDE) -> np.ndarray:
    """One of the shipped sample photos in colour, (3, H, W) in [0, 1], longer side max_side."""
    with Image.open(photo_path(name)) as photo:
        rgb = photo.convert("RGB")
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(rgb, np.float32).transpose(2, 0, 1) / 255  # (H, W, 3) -> (3, H, W)


@dataclass(frozen=True)
class ColourConv:
    """One output channel of a convolution over red, green and blue."""

    image: np.ndarray  # (3, H, W)
    kernels: np.ndarray  # (3, k, k): one kernel per input channel
    per_channel: np.ndarray  # (3, H_out, W_out): each channel convolved with its own kernel
    output: np.ndarray  # (H_out, W_out): their sum


def colour_conv(image: np.ndarray, kernels: np.ndarray) -> ColourConv:
    """Each channel with its own kernel (a grouped convolution), then the three maps added."""
    x = torch.as_tensor(image, dtype=torch.float32)[None]  # (1, 3, H, W)
    w = torch.as_tensor(kernels, dtype=torch.float32)[:, None]  # (3 groups, 1, k, k)
    per_channel = F.conv2d(x, w, groups=3)[0]  # (3, H_out, W_out)
    return ColourConv(image, np.asarray(kernels), per_channel.numpy(), per_channel.sum(0).numpy())


def colour_sum(c: ColourConv, row: int, col: int) -> str:
    """One output pixel as the sum of the three channels' results."""
    parts = [f"{v:.3f}" for v in c.per_channel[:, row, col]]
    terms = " + ".join([_minus(parts[0])] + [_bracket(p) for p in parts[1:]])
    return f"{terms} = {_minus(f'{float(c.output[row, col]):.3f}')}"


def _minus(text: str) -> str:
    return text.replace("-", "−")  # the typographic minus: no hyphen between two numbers


def _bracket(text: str) -> str:
    """A negative number in brackets, so '+ (−0.5)' reads as an addition."""
    return f"({_minus(text)})" if text.startswith("-") else text
