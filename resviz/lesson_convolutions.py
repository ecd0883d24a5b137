"""The CNN building block on one image: 3x3 convolution, ReLU, 2x2 max pooling; AlexNet's table.

Like every CNN library, `F.conv2d` slides the kernel without flipping it (cross-correlation),
so the kernel the learner types is the pattern each output pixel is compared with.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .data import Dataset
from .models import AlexNet
from .summary import LayerRow, summarize, totals
from .uploads import MAX_SIDE, to_grayscale

PRESETS: dict[str, tuple[tuple[float, ...], ...]] = {
    "Sobel x (vertical edges)": ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1)),
    "Sobel y (horizontal edges)": ((-1, -2, -1), (0, 0, 0), (1, 2, 1)),
    "Laplacian (all edges)": ((0, 1, 0), (1, -4, 1), (0, 1, 0)),
    "Blur (box)": ((1 / 9,) * 3,) * 3,
    "Sharpen": ((0, -1, 0), (-1, 5, -1), (0, -1, 0)),
    "Identity": ((0, 0, 0), (0, 1, 0), (0, 0, 0)),
}
SAMPLE_PHOTOS = ("china.jpg", "flower.jpg")  # shipped inside scikit-learn: no download
ALEXNET_INPUT = (3, 224, 224)  # (C, H, W): an ImageNet colour crop
# The adaptive pool is a no-op at 224 px: left out of the table.
_ALEXNET_KINDS = ("Conv2d", "LocalResponseNorm", "MaxPool2d", "Linear")
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights: colour -> perceived brightness


@dataclass(frozen=True)
class Step:
    """One stage of the pipeline as the learner sees it."""

    title: str
    caption: str
    values: np.ndarray  # (H, W)
    signed: bool  # negative values mean something: draw them on a diverging scale
    vmax: float  # top of the colour scale (symmetric about 0 when signed)


def dataset_image(data: Dataset, index: int) -> np.ndarray:
    """Training image `index` of a dataset as grayscale (H, W) in [0, 1]."""
    img = data.images(data.x_train[index])  # (C, H, W), normalisation undone
    if img.shape[0] == 3:
        img = torch.tensordot(torch.tensor(LUMA), img, dims=1)[None]
    return img[0].numpy()


def photo_path(name: str) -> Path:
    """Where one of scikit-learn's sample photos lies.

    Found straight in the package's folder: importing scikit-learn for two JPEGs would load all
    of it into the server's memory (docs/PERFORMANCE.md)."""
    spec = importlib.util.find_spec("sklearn")  # installed with mlxtend (requirements.txt)
    if spec is None or spec.origin is None:
        raise FileNotFoundError("scikit-learn's sample photos need scikit-learn installed")
    return Path(spec.origin).parent / "datasets" / "images" / name


def sample_photo(name: str, max_side: int = MAX_SIDE) -> np.ndarray:
    """One of scikit-learn's sample photos as grayscale (H, W) in [0, 1], downsized."""
    with Image.open(photo_path(name)) as photo:
        return to_grayscale(photo, max_side)


def convolve(image: np.ndarray, kernel: np.ndarray) -> torch.Tensor:
    """A 3x3 convolution without padding: (H, W) -> (H-2, W-2)."""
    x = torch.as_tensor(image, dtype=torch.float32)[None, None]  # (1, 1, H, W)
    w = torch.as_tensor(kernel, dtype=torch.float32)[None, None]  # (out 1, in 1, 3, 3)
    return F.conv2d(x, w)[0, 0]


def steps(image: np.ndarray, kernel: np.ndarray) -> list[Step]:
    """Input, convolution, ReLU and 2x2 max pooling, each with its shape change in the caption."""
    conv = convolve(image, kernel)
    relu = F.relu(conv)
    pool = F.max_pool2d(relu[None, None], 2)[0, 0]  # floor(H/2) x floor(W/2)
    top = float(relu.max()) or 1.0  # ReLU and pooling share a scale: pooling keeps the maxima
    return [
        Step("Input", f"{_size(image)} grayscale image", image, False, 1.0),
        Step(
            "Convolution",
            f"{_size(image)} -> {_size(conv)}: 3x3 kernel, no padding, stride 1",
            conv.numpy(),
            True,
            float(conv.abs().max()) or 1.0,
        ),
        Step(
            "ReLU", f"{_size(conv)} -> {_size(relu)}: negatives set to 0", relu.numpy(), False, top
        ),
        Step(
            "Max pooling",
            f"{_size(relu)} -> {_size(pool)}: largest of each 2x2 patch",
            pool.numpy(),
            False,
            top,
        ),
    ]


def _size(values: np.ndarray | torch.Tensor | tuple[int, int]) -> str:
    h, w = values if isinstance(values, tuple) else values.shape
    return f"{h}x{w}"


def kernel_note(kernel: np.ndarray) -> str:
    """What the sum of the weights means for flat (uniform) regions of the image."""
    total = float(np.sum(kernel))
    if abs(total) < 1e-6:
        return "The weights sum to 0: flat regions give 0, only changes in brightness respond."
    if abs(total - 1) < 1e-6:
        return "The weights sum to 1: flat regions keep their brightness."
    return f"The weights sum to {total:.3g}: flat regions are scaled by {total:.3g}."


def alexnet_layers() -> list[LayerRow]:
    """AlexNet of 2012 at 224 px, 1000 classes: its 5 convolutions, 2 response normalisations,
    3 max poolings and 3 fully connected layers.

    Built on the meta device: shapes and parameter counts without allocating its 244 MB.
    """
    with torch.device("meta"):
        net = AlexNet(ALEXNET_INPUT[0], 1000)
    rows = summarize(net, ALEXNET_INPUT)
    # conv1, not features.conv1: each AlexNet layer's own name is unique without its container
    return [
        replace(r, name=r.name.rpartition(".")[2])
        for r in rows
        if r.kind.startswith(_ALEXNET_KINDS)
    ]


def totals_note(rows: list[LayerRow]) -> str:
    """Parameters and multiply-adds of the whole table, and where the parameters sit."""
    total = totals(rows)
    dense = sum(r.params for r in rows if r.kind == "Linear") / total["params"]
    return (
        f"Total: {total['params']:,} parameters ({total['params'] / 1e6:.1f}M) and "
        f"{total['macs'] / 1e6:,.0f}M multiply-adds for one {_size(ALEXNET_INPUT[1:])} colour "
        f"image; {dense:.0%} of the parameters sit in the fully connected layers."
    )


def diagram_note(rows: list[LayerRow]) -> str:
    """How to read the network diagram, with the sizes it shows."""
    maps = [r.out_shape for r in rows if len(r.out_shape) == 3]  # (C, H, W) feature maps
    dense = [r.out_shape[0] for r in rows if len(r.out_shape) == 1]
    return (
        f"Each box is one layer's output; its height grows with the side of the feature map "
        f"(square-root scale): the picture shrinks from {_size(ALEXNET_INPUT[1:])} pixels "
        f"to {_size(maps[-1][1:])} while the channels grow from {ALEXNET_INPUT[0]} to "
        f"{maps[-1][0]}, then {len(dense)} fully connected layers end in {dense[-1]:,} "
        f"class scores."
    )
