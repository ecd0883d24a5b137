"""Loss landscapes (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets").

The loss of a trained network is a function of hundreds of thousands of weights; we look at it
along one or two random directions d (and e) through the trained weights w:
loss(w + alpha d) or loss(w + alpha d + beta e). A raw random direction would say more about
the scale of each layer's weights than about the loss: with batch norm behind a convolution,
training does not care how large a filter is (doubling it changes nothing), so the same step
is small for one filter and huge for another.
Filter normalisation (Sec. 4 of the paper) gives each filter of d the norm of the same filter
of w, so alpha = 1 moves every filter by its own size, and two networks can be compared.
"""

from __future__ import annotations

import copy
import json
import math
import os
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .config import NetConfig
from .data import Dataset
from .models import Net
from .runtime import Progress
from .train import evaluate

SCHEMA_VERSION = 2  # 2: the network's configuration, not only its name


@dataclass(frozen=True)
class Landscape:
    """Loss and error on a grid around trained weights, small enough to ship as JSON.

    1-D: `loss[j]` is at `alphas[j]` and `betas` is empty. 2-D: `loss[i][j]` is at
    (`alphas[j]`, `betas[i]`), rows along beta, as a contour plot's z expects. Errors are
    fractions (0.25 = a quarter of the subset misclassified).
    """

    net: NetConfig
    dataset: str
    subset: int  # the first `subset` training images
    seed: int  # of the random directions
    alphas: tuple[float, ...]
    betas: tuple[float, ...]
    loss: tuple
    error: tuple

    @property
    def label(self) -> str:
        return self.net.label

    @property
    def ndim(self) -> int:
        return 2 if self.betas else 1

    def to_dict(self) -> dict:
        """Plain JSON; a non-finite loss (a blown-up network far out) is stored as null."""
        d = asdict(self)
        d["loss"], d["error"] = _finite(self.loss), _finite(self.error)
        return {"schema": SCHEMA_VERSION, **d}

    @classmethod
    def from_dict(cls, d: dict) -> Landscape:
        if d.get("schema") != SCHEMA_VERSION:
            raise ValueError(
                f"this landscape file has schema version {d.get('schema')!r}; "
                f"this ResViz reads version {SCHEMA_VERSION}"
            )
        fields = {k: d[k] for k in ("dataset", "subset", "seed")}
        return cls(
            NetConfig(**d["net"]),
            **fields,
            alphas=tuple(d["alphas"]),
            betas=tuple(d["betas"]),
            loss=_tuples(d["loss"]),
            error=_tuples(d["error"]),
        )


def save(landscape: Landscape, path: str | os.PathLike) -> None:
    with open(path, "w") as f:
        json.dump(landscape.to_dict(), f, separators=(",", ":"))


def load(path: str | os.PathLike) -> Landscape:
    with open(path) as f:
        return Landscape.from_dict(json.load(f))


def _finite(rows: tuple) -> list:
    if rows and isinstance(rows[0], tuple):
        return [_finite(r) for r in rows]
    return [v if v is not None and math.isfinite(v) else None for v in rows]


def _tuples(rows: list) -> tuple:
    return tuple(tuple(r) if isinstance(r, list) else r for r in rows)


def direction(net: nn.Module, generator: torch.Generator) -> list[torch.Tensor]:
    """A filter-normalised Gaussian direction, one tensor per parameter of `net`.

    Each filter (a slice along dim 0: one output channel of a convolution, one output unit of
    the linear layer) is rescaled to the norm of the same filter of the trained weight.
    Biases and batch-norm scales and shifts (the 1-D tensors) get a zero direction, as in the
    paper: they are few, and they are left at their trained values. The BN running statistics
    are buffers, not parameters, and stay as trained too.
    """
    out = []
    for w in net.parameters():
        w = w.detach()
        if w.dim() <= 1:
            out.append(torch.zeros_like(w))
            continue
        d = torch.randn(w.shape, generator=generator, device=generator.device).to(w)
        out.append(d * (_filter_norms(w) / _filter_norms(d)))  # (out, 1, 1, 1): one per filter
    return out


def _filter_norms(t: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(t, dim=tuple(range(1, t.dim())), keepdim=True)


RESOLUTION = {1: 51, 2: 21}  # points along each axis when not given: a curve, a surface


def measure(
    net: Net,
    data: Dataset,
    dims: int = 1,
    resolution: int | None = None,
    span: float = 1.0,
    subset: int = 500,
    seed: int = 0,
    progress: Progress | None = None,
) -> Landscape:
    """Loss and error at `resolution` points alpha in [-span, span] along one random direction
    (`dims=1`), or on a `resolution` x `resolution` grid in [-span, span]^2 along two (`dims=2`).

    Two random directions among tens of thousands of weights are almost orthogonal, so the plane
    they span shows two independent cuts through the trained weights (Li et al., Sec. 4). The
    first direction drawn with `seed` is the same for both, so a curve is its surface's beta = 0
    row where the grids share points.
    """
    if dims not in RESOLUTION:
        raise ValueError(f"a landscape has 1 or 2 dimensions, not {dims}")
    axis = _axis(span, resolution or RESOLUTION[dims])
    points = [(a,) for a in axis] if dims == 1 else [(a, b) for b in axis for a in axis]
    loss, err = _evaluate_grid(net, data, subset, _directions(net, seed, dims), points, progress)
    n = len(axis)
    if dims == 2:  # row i is beta = axis[i]
        loss, err = (tuple(tuple(v[i * n : (i + 1) * n]) for i in range(n)) for v in (loss, err))
    return Landscape(
        net.cfg,
        data.info.name,
        _subset_size(data, subset),
        seed,
        axis,
        axis if dims == 2 else (),
        tuple(loss),
        tuple(err),
    )


def _axis(span: float, resolution: int) -> tuple[float, ...]:
    if resolution < 2 or span <= 0:
        raise ValueError(
            f"a landscape needs at least 2 points and a positive span, "
            f"not {resolution} points and span {span}"
        )
    # Rounded so that alpha = 0 is exactly 0 (the trained network) when the resolution is odd.
    return tuple(round(-span + 2 * span * i / (resolution - 1), 12) for i in range(resolution))


def _directions(net: nn.Module, seed: int, n: int) -> list[list[torch.Tensor]]:
    device = next(net.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    return [direction(net, generator) for _ in range(n)]


def _subset_size(data: Dataset, subset: int) -> int:
    return min(subset, len(data.x_train))


@torch.no_grad()
def _evaluate_grid(
    net: nn.Module,
    data: Dataset,
    subset: int,
    directions: list,
    points: list[tuple[float, ...]],
    progress: Progress | None,
) -> tuple[list[float], list[float]]:
    """Loss and error at w + sum(coefficient * direction) for each point, on a copy of `net`.

    The subset is the first training images (the split is shuffled, so they mix classes).
    `evaluate` puts the copy in eval mode: batch norm uses the running statistics measured for
    the trained weights, the same for every grid point, so the loss is one fixed function of
    the weights. Far from the centre those statistics no longer fit the moved weights, which
    adds to the loss there; it does so for plain and residual networks alike.
    """
    moved = copy.deepcopy(net)  # the caller's network is never touched
    params = list(moved.parameters())
    trained = [p.detach().clone() for p in params]
    device = params[0].device
    x, y = data.x_train[:subset].to(device), data.y_train[:subset].to(device)
    losses, errors = [], []
    for k, coefficients in enumerate(points):
        for p, w, *ds in zip(params, trained, *directions):
            p.copy_(w)
            for d, c in zip(ds, coefficients):
                p.add_(d, alpha=c)
        loss, err = evaluate(moved, x, y)
        losses.append(loss)
        errors.append(err)
        if progress is not None:
            progress((k + 1) / len(points))
    return losses, errors
