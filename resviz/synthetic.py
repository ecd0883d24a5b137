"""Synthetic colour images generated from a seed: vectorised numpy, deterministic, no files.

`make_shapes`: one shape or texture an image, ten classes, for watching edge, shape and texture
detectors form. `make_scenes`: the largest of three textured objects among clutter, thirty
classes (outline x fill), hard enough at 32 px that network depth pays.
"""

from __future__ import annotations

import numpy as np
import torch

SHAPE_CLASSES = (
    "circle",
    "ring",
    "square",
    "triangle",
    "cross",
    "star",
    "horizontal stripes",
    "vertical stripes",
    "diagonal stripes",
    "checkerboard",
)
SIZE = 32  # pixels a side


# --- shapes: synthetic, so a learner sees edge, shape and texture detectors form ---------------


def make_shapes(n: int, seed: int, difficulty: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` colour images (N, 3, 32, 32) in [0, 1] and balanced labels indexing SHAPE_CLASSES.

    Colours are drawn independently of the class, so only form (edges, outline, texture) tells
    classes apart. `difficulty` in [0, 1] widens the scale range, adds noise, clutter, gradients.
    """
    if not 0 <= difficulty <= 1:
        raise ValueError(f"difficulty must be between 0 and 1, not {difficulty}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(SHAPE_CLASSES))
    mask = np.empty((n, SIZE, SIZE), np.float32)
    for c, draw in enumerate(_SHAPE_MASKS):  # one vectorised call per class, not per image
        idx = np.flatnonzero(labels == c)
        mask[idx] = draw(rng, len(idx), difficulty)
    fg, bg = _colour_pairs(rng, n)
    img = _background(rng, bg, difficulty)  # (N, 3, S, S)
    img += mask[:, None] * (fg[:, :, None, None] - img)  # paint the shape over it
    # Grey noise (one value per pixel for all channels): a third of the cost of colour noise.
    sigma = np.float32(0.02 + 0.1 * difficulty)
    img += rng.standard_normal(mask.shape, np.float32)[:, None] * sigma
    return torch.from_numpy(np.clip(img, 0, 1, out=img)), torch.from_numpy(labels.astype(np.int64))


def _grid(size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5  # pixel centres
    return xs, ys


def _soft(sdf_px: np.ndarray) -> np.ndarray:
    # A signed distance in pixels -> coverage with a one-pixel anti-aliased edge.
    return np.clip(0.5 - sdf_px, 0, 1).astype(np.float32)


def _colour_pairs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Foreground and background RGB (N, 3), redrawn until every pair is clearly distinct."""
    fg, bg = rng.random((n, 3), np.float32), rng.random((n, 3), np.float32)
    return _apart(rng, fg, bg, 0.5), bg


def _apart(
    rng: np.random.Generator, colour: np.ndarray, ref: np.ndarray, distance: float
) -> np.ndarray:
    """`colour` (N, 3), each row redrawn in place until it lies `distance` from `ref`'s row."""
    while (close := np.linalg.norm(colour - ref, axis=1) < distance).any():
        colour[close] = rng.random((close.sum(), 3), np.float32)
    return colour


def _background(rng: np.random.Generator, bg: np.ndarray, d: float, size: int = SIZE) -> np.ndarray:
    """(N, 3, S, S): the background colour, a brightness gradient and small clutter squares."""
    n, (xs, ys), half = len(bg), _grid(size), size // 2
    angle, slope = rng.uniform(0, 2 * np.pi, (2, n, 1, 1)).astype(np.float32)
    slope = 0.3 * d * np.sin(slope)  # up to +-0.3 brightness across the image
    ramp = slope * ((xs - half) * np.cos(angle) + (ys - half) * np.sin(angle)) / half
    img = bg[:, :, None, None] + ramp[:, None]
    # Clutter: 2x2 dots on a lattice of 2 px cells, one random colour per image; shapes go on top.
    dots = (rng.random((n, half, half)) < 0.03 * d).repeat(2, 1).repeat(2, 2)[:, None]
    np.copyto(img, rng.random((n, 3, 1, 1), np.float32), where=dots)
    return img


def _placed(rng: np.random.Generator, n: int, d: float) -> tuple[np.ndarray, ...]:
    """(u, v): pixel coordinates (N, S, S) in each shape's frame (shifted, rotated, in radii); r."""
    xs, ys = _grid()
    r = rng.uniform(10 - 5 * d, 12, (n, 1, 1)).astype(np.float32)  # radius in px
    cx, cy = r + 1 + rng.random((2, n, 1, 1), np.float32) * (SIZE - 2 - 2 * r)
    theta = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
    dx, dy = (xs - cx) / r, (ys - cy) / r
    return dx * np.cos(theta) + dy * np.sin(theta), dy * np.cos(theta) - dx * np.sin(theta), r


def _shape(sdf):
    """A mask drawer from a signed distance function of (u, v) in radius units."""

    def draw(rng, n, d):
        u, v, r = _placed(rng, n, d)
        return _soft(sdf(u, v) * r)

    return draw


def _triangle(u, v):
    # Equilateral, circumradius 1: inside all three half-planes with normals 120 degrees apart.
    a = np.pi / 2 + 2 * np.pi * np.arange(3) / 3
    return np.max([u * np.cos(t) + v * np.sin(t) for t in a], axis=0) - 0.5


def _star(u, v):
    phase = (np.arctan2(v, u) * 5 / (2 * np.pi)) % 1  # five points
    return np.hypot(u, v) - (0.4 + 0.6 * np.abs(phase - 0.5) * 2)


def _texture(wave):
    """A mask drawer: a periodic pattern `wave(x', y', period, rng)` inside a random window."""

    def draw(rng, n, d):
        xs, ys = _grid()
        period = rng.uniform(4, 8, (n, 1, 1)).astype(np.float32)
        tilt = rng.uniform(-1, 1, (n, 1, 1)).astype(np.float32) * np.deg2rad(5 + 10 * d)
        shift = rng.uniform(0, 8, (2, n, 1, 1)).astype(np.float32)
        x = xs * np.cos(tilt) + ys * np.sin(tilt) + shift[0]
        y = ys * np.cos(tilt) - xs * np.sin(tilt) + shift[1]
        # sin(2 pi t / p) crosses zero with slope 2 pi / p, so this is ~ a distance in px.
        pattern = _soft(-wave(x, y, period, rng) * period / (2 * np.pi))
        half = rng.uniform(0.3 - 0.1 * d, 0.5, (2, n, 1, 1)).astype(np.float32) * SIZE
        cx, cy = half + rng.random((2, n, 1, 1), np.float32) * (SIZE - 2 * half)
        return pattern * _soft(np.maximum(np.abs(xs - cx) - half[0], np.abs(ys - cy) - half[1]))

    return draw


def _diagonal(x, y, p, rng):
    side = rng.choice(np.float32([-1, 1]), (len(p), 1, 1))  # "/" or "\", which a flip swaps
    return np.sin(2 * np.pi * (x + side * y) / (p * np.sqrt(2)))


_OUTLINE_SDFS = (  # signed distances in radius units, in SHAPE_CLASSES order
    lambda u, v: np.hypot(u, v) - 1,  # circle
    lambda u, v: np.abs(np.hypot(u, v) - 0.7) - 0.3,  # ring
    lambda u, v: np.maximum(np.abs(u), np.abs(v)) - 0.75,  # square
    _triangle,
    lambda u, v: np.minimum(
        np.maximum(np.abs(u) - 1, np.abs(v) - 0.3), np.maximum(np.abs(u) - 0.3, np.abs(v) - 1)
    ),  # cross
    _star,
)
_SHAPE_MASKS = (
    *map(_shape, _OUTLINE_SDFS),
    _texture(lambda x, y, p, rng: np.sin(2 * np.pi * y / p)),  # horizontal stripes
    _texture(lambda x, y, p, rng: np.sin(2 * np.pi * x / p)),  # vertical stripes
    _texture(_diagonal),
    _texture(lambda x, y, p, rng: np.sin(2 * np.pi * x / p) * np.sin(2 * np.pi * y / p)),
)


# --- scenes: 30 classes (outline x fill) of the largest object among smaller distractors -------

SCENE_OUTLINES = SHAPE_CLASSES[:6]  # circle, ring, square, triangle, cross, star
SCENE_FILLS = ("solid", "horizontal stripes", "vertical stripes", "checkerboard", "dots")
SCENE_CLASSES = tuple(f"{o}, {f}" for o in SCENE_OUTLINES for f in SCENE_FILLS)
_SCENE_CHUNK = 2_500  # images generated at once: keeps each temporary array near 10 MB


def make_scenes(n: int, seed: int, size: int = SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` colour images (N, 3, size, size) in [0, 1] and balanced labels indexing SCENE_CLASSES.

    Each image holds three objects on a cluttered background: two small distractors of random
    class, then the labelled one over them (radius a quarter to three eighths of the image
    against a tenth to a fifth), then a thin bar across the image that may cover part of it.
    The label is the largest object's outline and fill (stripes, checks or dots in a second
    colour), so a network must find which object counts and then combine its form with its
    texture. Colours are independent of the class.
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(SCENE_CLASSES))
    img = np.empty((n, 3, size, size), np.float32)
    for i in range(0, n, _SCENE_CHUNK):
        img[i : i + _SCENE_CHUNK] = _scene(rng, labels[i : i + _SCENE_CHUNK], size)
    return torch.from_numpy(img), torch.from_numpy(labels.astype(np.int64))


def _scene(rng: np.random.Generator, labels: np.ndarray, size: int) -> np.ndarray:
    n, (xs, ys), k = len(labels), _grid(size), size / 32
    bg = rng.random((n, 3), np.float32)
    img = _background(rng, bg, 1.0, size)
    for _ in range(2):
        _paint(rng, img, bg, rng.integers(0, len(SCENE_CLASSES), n), (3 * k, 6 * k))
    _paint(rng, img, bg, labels, (8 * k, 12 * k))
    # The occluding bar: through a random point at a random angle, in a random colour.
    angle = rng.uniform(0, np.pi, (n, 1, 1)).astype(np.float32)
    px, py = rng.uniform(size / 8, size * 7 / 8, (2, n, 1, 1)).astype(np.float32)
    bar = _soft(np.abs((xs - px) * np.sin(angle) - (ys - py) * np.cos(angle)) - k)
    img += bar[:, None] * (rng.random((n, 3, 1, 1), np.float32) - img)
    img += rng.standard_normal((n, 1, size, size), np.float32) * np.float32(0.06)
    return np.clip(img, 0, 1, out=img)


def _paint(
    rng: np.random.Generator,
    img: np.ndarray,
    bg: np.ndarray,
    classes: np.ndarray,
    radius: tuple[float, float],
) -> None:
    """Draw one object of class `classes[i]` into each image `img[i]`, in place."""
    n, size = len(classes), img.shape[-1]
    xs, ys = _grid(size)
    r = rng.uniform(*radius, (n, 1, 1)).astype(np.float32)
    cx, cy = r + 1 + rng.random((2, n, 1, 1), np.float32) * (size - 2 - 2 * r)
    theta = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
    dx, dy = (xs - cx) / r, (ys - cy) / r
    u, v = dx * np.cos(theta) + dy * np.sin(theta), dy * np.cos(theta) - dx * np.sin(theta)
    outline, fill = np.divmod(classes, len(SCENE_FILLS))
    mask = np.empty((n, size, size), np.float32)
    for o, sdf in enumerate(_OUTLINE_SDFS):
        idx = outline == o
        mask[idx] = _soft(sdf(u[idx], v[idx]) * r[idx])
    # The fill, in image axes (stripes stay horizontal or vertical whatever the rotation).
    # Periods of 3.5-5 px at 32 px; at 16 px 3-4.2, which still leaves two or three stripes.
    period = rng.uniform(3.5, 5, (n, 1, 1)).astype(np.float32) * max(size / 32, 0.85)
    x, y = (g + rng.uniform(0, 5, (n, 1, 1)).astype(np.float32) for g in (xs, ys))
    sx, sy = np.sin(2 * np.pi * x / period), np.sin(2 * np.pi * y / period)
    waves = (np.ones_like(sx), sy, sx, sx * sy, (sx + sy) / 2 - 0.5)
    pattern = np.empty_like(mask)
    for f, wave in enumerate(waves):
        idx = fill == f
        pattern[idx] = _soft(-wave[idx] * period[idx] / (2 * np.pi))
    on = _apart(rng, rng.random((n, 3), np.float32), bg, 0.5)  # off may match the background
    off = _apart(rng, rng.random((n, 3), np.float32), on, 0.5)
    colour = off[:, :, None, None] + pattern[:, None] * (on - off)[:, :, None, None]
    img += mask[:, None] * (colour - img)
