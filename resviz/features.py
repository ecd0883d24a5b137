"""What a network has learned, read from an evaluation-mode copy: filters, feature maps, the
dataset images a channel responds to most, activation maximisation, and two measurements of
the edges -> shapes -> objects progression.

Every function here works on `eval_copy(net)`: batch norm uses its running statistics and never
updates them, hooks go on the copy (and are removed), and the caller's network is left as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import Dataset
from .models import blocks, eval_copy
from .receptive import fields
from .runtime import Progress


def layer_names(net: nn.Module) -> list[str]:
    """The layers a learner can look at, in forward order: the stem, then every block."""
    return ["stem"] + [name for name, _ in blocks(net)]


def depth_labels(names: Sequence[str]) -> dict[str, str]:
    """Early, middle and late: the stem, the first block of the middle stage, the last block."""
    stages = len({n.split(".")[0] for n in names[1:]})  # names[0] is the stem
    middle = next(n for n in names if n.startswith(f"stage{(stages + 1) // 2}."))
    return {names[0]: "early", middle: "middle", names[-1]: "late"}


class _Stop(Exception):
    """Raised by a hook once every wanted layer has run: the rest of the network is skipped."""


def outputs(
    net: nn.Module, x: torch.Tensor, names: Sequence[str], inputs: bool = False
) -> dict[str, torch.Tensor]:
    """Outputs (or with `inputs`, inputs) of the named layers for x (B, C, H, W); the forward
    pass stops after the last of them. Gradients flow when x requires them. `net` must be an
    evaluation copy."""
    found: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(_m, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            found[name] = inp[0] if inputs else out
            if len(found) == len(names):
                raise _Stop

        return hook

    handles = [net.get_submodule(n).register_forward_hook(keep(n)) for n in names]
    try:
        net(x)
    except _Stop:
        pass
    finally:
        for h in handles:
            h.remove()
    return found


def first_layer_filters(net: nn.Module) -> np.ndarray:
    """The first convolution's kernels (K, C, k, k), as float32."""
    conv = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
    return conv.weight.detach().cpu().float().numpy().copy()


@torch.no_grad()
def feature_maps(net: nn.Module, image: torch.Tensor, layer: str) -> np.ndarray:
    """Every channel of one layer for one normalised image (C, H, W): (K, h, w)."""
    net = eval_copy(net)
    return outputs(net, image[None], [layer])[layer][0].cpu().numpy()


@dataclass(frozen=True)
class TopUnits:
    """Per channel, the units that respond most across a pool of images, one per image.

    Each array is (K channels, n): activation, index into the dataset split, unit row and col.
    `grid` is the layer's map size (h, w).
    """

    value: np.ndarray
    image: np.ndarray
    row: np.ndarray
    col: np.ndarray
    grid: tuple[int, int]


@torch.no_grad()
def top_units(
    net: nn.Module,
    x: torch.Tensor,
    layer: str,
    n: int = 8,
    pool: int = 1000,
    seed: int = 0,
    batch: int = 250,
) -> TopUnits:
    """The `n` strongest units of every channel of `layer` over `pool` images of x (N, C, H, W)
    drawn with `seed`, at most one unit per image so the patches show different images."""
    net = eval_copy(net)
    picked = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:pool]
    best, where = [], []
    for i in range(0, len(picked), batch):
        out = outputs(net, x[picked[i : i + batch]], [layer])[layer]  # (B, K, h, w)
        value, pos = out.flatten(2).max(2)  # the best unit of each channel in each image
        best.append(value)
        where.append(pos)
    best, where = torch.cat(best).T, torch.cat(where).T  # (K, images)
    value, order = best.topk(min(n, best.shape[1]), dim=1)  # (K, n), strongest first
    pos, (h, w) = where.gather(1, order), out.shape[-2:]
    arrays = [a.numpy() for a in (value, picked[order], pos // w, pos % w)]
    for a in arrays:
        a.flags.writeable = False  # shared between sessions by the page's cache
    return TopUnits(*arrays, grid=(h, w))


def last_relu(net: nn.Module, layer: str) -> str:
    """The name of the layer's last ReLU: its input is the unit before clipping at zero."""
    inner = [n for n, m in net.get_submodule(layer).named_modules() if isinstance(m, nn.ReLU)]
    return f"{layer}.{inner[-1]}" if inner else layer


def centre(grid: tuple[int, int]) -> tuple[int, int]:
    """The centre unit (row, col) of an (h, w) map: its field lies the most inside the image."""
    return grid[0] // 2, grid[1] // 2


def _colour_root(data: Dataset, n: int = 500) -> torch.Tensor:
    """(C, C) square root of the normalised pixels' colour covariance: white noise times it has
    the colour correlations of the data (Olah et al. 2017's decorrelated colour space)."""
    x = data.x_train[:n].float().transpose(0, 1).flatten(1)  # (C, pixels)
    values, vectors = torch.linalg.eigh(torch.atleast_2d(torch.cov(x)))  # grey: (1, 1)
    return vectors @ torch.diag(values.clamp(min=1e-6).sqrt()) @ vectors.T


def _fourier_scale(size: int, decay: float = 1.0) -> torch.Tensor:
    """1 / frequency for each rfft2 coefficient: equal steps in these coordinates change coarse
    and fine patterns equally, where pixel steps favour fine noise."""
    fy = torch.fft.fftfreq(size)[:, None]
    fx = torch.fft.rfftfreq(size)[None, :]
    return 1 / (fy**2 + fx**2).sqrt().clamp(min=1 / size) ** decay


def _transform(x: torch.Tensor, shift: int, gen: torch.Generator) -> torch.Tensor:
    """One random rotation (up to 8 degrees), scale (0.9 to 1.1) and shift (up to `shift` px)
    about the image centre: the image must excite the unit under all of them."""
    size = x.shape[-1]
    angle, scale = (torch.rand(2, generator=gen) * 2 - 1) * torch.tensor([np.pi / 22.5, 0.1])
    dy, dx = torch.randint(-shift, shift + 1, (2,), generator=gen).tolist()
    cos, sin = torch.cos(angle) / (1 + scale), torch.sin(angle) / (1 + scale)
    theta = torch.tensor([[cos, -sin, 2 * dx / size], [sin, cos, 2 * dy / size]], dtype=x.dtype)[
        None
    ].expand(len(x), 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="reflection", align_corners=False)


def activation_maximisation(
    net: nn.Module,
    layer: str,
    channels: Sequence[int],
    data: Dataset,
    steps: int = 128,
    seed: int = 0,
    lr: float = 0.05,
    per_channel: int = 1,
    robust: bool = True,
    diversity: float = 0.5,
    on_step: Progress | None = None,
) -> torch.Tensor:
    """`per_channel` images for each channel (channel-major: (len(channels) * per_channel, C, H,
    W), normalised) that make the channel's centre unit respond as strongly as it can, found by
    gradient ascent. Only the unit's receptive field matters: crop it (`receptive.crop` at
    `centre(...)`) for display. The ascent climbs the unit's value before its last ReLU, which
    has a gradient even where the ReLU outputs 0 (from noise many units start silent).

    `robust` follows Olah et al. 2017 ("Feature visualization", Distill): the image is
    parametrised by its Fourier coefficients scaled by 1 / frequency, in a decorrelated colour
    space, through a sigmoid (so pixels stay in [0, 1]); each step sees it randomly rotated,
    scaled and shifted. The shift grows with the unit's field: a 3x3 unit shifted by 2 px would
    see other pixels each step. `diversity` pushes a channel's images apart (the cosine
    similarity of their maps of the layer, subtracted): different ways to excite one unit.
    Without `robust`: plain ascent on the pixels, clipped to [0, 1], whose images are mostly
    high-frequency noise.
    """
    net = eval_copy(net)
    shift = min(2, fields(net)[layer].size // 8)  # 3 and 7 px: 0; 11 px: 1; 21 px and more: 2
    unit = last_relu(net, layer)
    gen = torch.Generator().manual_seed(seed)
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (data.mean, data.std))
    n, c, size = len(channels) * per_channel, data.info.channels, data.info.size
    if robust:
        root, scale = _colour_root(data), _fourier_scale(size)
        param = (0.01 * torch.randn(n, c, size, size // 2 + 1, 2, generator=gen)).requires_grad_()

        def image() -> torch.Tensor:  # normalised pixels
            spectrum = torch.view_as_complex(param) * scale
            x = torch.fft.irfft2(spectrum, s=(size, size), norm="ortho")
            x = torch.einsum("dc,nchw->ndhw", root, x)  # correlated colours, normalised units
            return (torch.sigmoid(x * std + mean - 0.5) - mean) / std  # pixels in [0, 1]
    else:
        param = (0.1 * torch.randn(n, c, size, size, generator=gen)).requires_grad_()
        lo, hi = -mean / std, (1 - mean) / std  # pixel values 0 and 1, normalised

        def image() -> torch.Tensor:
            return param

    opt = torch.optim.Adam([param], lr=lr)
    rows = torch.arange(n)
    picked = torch.tensor(list(channels)).repeat_interleave(per_channel)
    for step in range(steps):
        x = image()
        if robust:
            x = _transform(x, shift, gen)
        out = outputs(net, x, [unit], inputs=True)[unit]
        row, col = centre(out.shape[-2:])
        loss = -out[rows, picked, row, col].sum()  # each image its own channel's centre unit
        if per_channel > 1 and diversity:
            maps = F.normalize(out.flatten(1), dim=1).view(len(channels), per_channel, -1)
            similar = maps @ maps.transpose(1, 2)  # (channels, k, k) cosine similarities
            off = similar.sum() - similar.diagonal(dim1=1, dim2=2).sum()
            loss = loss + diversity * out.detach().abs().mean() * off * n / per_channel
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if not robust:
            with torch.no_grad():
                param.copy_(torch.maximum(torch.minimum(param, hi), lo))
        if on_step is not None:
            on_step((step + 1) / steps)
    with torch.no_grad():
        return image().detach()


def edge_fit(weights: np.ndarray) -> np.ndarray:
    """For each filter (K, C, k, k): the share of its energy that a tilted plane a + b x + c y
    explains in every colour channel (each channel's mean removed): 1 for a pure oriented edge
    or colour ramp detector. Random kernels score 2 / (k*k - 1) on average (two of the k*k - 1
    directions left after removing the mean), 0.25 for 3x3."""
    k, c, h, w = weights.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    ramps = np.stack([xs - xs.mean(), ys - ys.mean()]).reshape(2, -1)  # (2, k*k), orthogonal
    ramps /= np.linalg.norm(ramps, axis=1, keepdims=True)
    flat = weights.reshape(k, c, -1).astype(np.float64)
    flat = flat - flat.mean(-1, keepdims=True)
    fitted = ((flat @ ramps.T) ** 2).sum((1, 2))  # energy of the projection onto the plane
    return fitted / np.maximum((flat**2).sum((1, 2)), 1e-12)


@torch.no_grad()
def readout_accuracy(
    net: nn.Module,
    data: Dataset,
    layers: Sequence[str],
    n_train: int = 2000,
    ridge: float = 0.1,
    batch: int = 500,
) -> dict[str, float]:
    """Validation accuracy of a linear readout on each layer (a "linear probe", Alain and Bengio
    2016): how well its channels, averaged over the map, tell the classes apart. The readout is
    ridge regression onto one-hot labels, fitted on the first `n_train` training images; chance
    is 1 / classes."""
    # Channels-last: the CPU's convolutions run these passes about twice as fast
    # (docs/PERFORMANCE.md, the Inside page's first render).
    net = eval_copy(net).to(memory_format=torch.channels_last)
    train = _pooled(net, data.x_train[:n_train], layers, batch)
    val = _pooled(net, data.x_val, layers, batch)
    y = F.one_hot(data.y_train[:n_train], len(data.classes)).double()
    return {name: _ridge_accuracy(train[name], y, val[name], data.y_val, ridge) for name in layers}


def _pooled(net, x, layers, batch) -> dict[str, torch.Tensor]:
    parts = [
        outputs(net, x[i : i + batch].contiguous(memory_format=torch.channels_last), layers)
        for i in range(0, len(x), batch)
    ]
    return {n: torch.cat([p[n].mean((2, 3)) for p in parts]).double() for n in layers}  # (N, K)


def _ridge_accuracy(a, y, b, labels, ridge) -> float:
    mu, sd = a.mean(0), a.std(0) + 1e-6  # standardised, so one ridge suits every layer
    a, b = (F.pad((t - mu) / sd, (0, 1), value=1.0) for t in (a, b))  # bias
    w = torch.linalg.solve(a.T @ a + ridge * torch.eye(a.shape[1], dtype=a.dtype), a.T @ y)
    return ((b @ w).argmax(1) == labels).double().mean().item()
