"""Figures of the Inside-the-network page: data in, plotly Figure out.

Image grids are sent as one PNG each (go.Image `source`): a few kilobytes instead of a number
per pixel, drawn with crisp pixels. Maps whose values a learner may hover over are heatmaps.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from .curves import colour
from .layout import chart, legend_row, picture

GAP = 1.0  # the lines between tiles: white, as the page
# Attribution overlays: transparent where the map is 0, so the image shows through.
UNSIGNED = [[0, "rgba(255,140,0,0)"], [0.4, "rgba(255,140,0,0.55)"], [1, "rgba(200,0,0,0.95)"]]
SIGNED = [[0, "rgba(33,102,172,0.95)"], [0.5, "rgba(255,255,255,0)"], [1, "rgba(178,24,43,0.95)"]]


def png(image: np.ndarray) -> str:
    """(C, H, W) with C = 1 or 3, values in [0, 1] -> a PNG data URI for go.Image."""
    rgb = np.repeat(image, 3, 0) if image.shape[0] == 1 else image
    data = (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(data).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def upscale(tile: np.ndarray, size: int) -> np.ndarray:
    """(C, h, w) -> (C, size, size) by nearest neighbour: a 3x3 kernel stays nine squares."""
    rows = np.arange(size) * tile.shape[1] // size
    cols = np.arange(size) * tile.shape[2] // size
    return tile[:, rows][:, :, cols]


def mosaic(tiles: Sequence[np.ndarray], cols: int, size: int, gap: int = 2) -> np.ndarray:
    """Tiles (C, h, w) upscaled to size x size, row-major in `cols` columns, with gaps."""
    c, n = tiles[0].shape[0], len(tiles)
    rows = -(-n // cols)
    step = size + gap
    out = np.full((c, rows * step - gap, cols * step - gap), GAP, dtype=np.float32)
    for i, tile in enumerate(tiles):
        r, k = divmod(i, cols)
        out[:, r * step : r * step + size, k * step : k * step + size] = upscale(tile, size)
    return out


def _image_axes(fig: go.Figure, height: int, top: int = 30) -> go.Figure:
    # go.Image already gives each panel square pixels and row 0 at the top; a panel narrower
    # than its height leaves space below it, not above.
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, constraintoward="top")
    return picture(fig, height, top=top)


def _scaled(weights: np.ndarray) -> np.ndarray:
    """Each kernel divided by its own largest |weight|: its pattern shows, not its size."""
    largest = np.abs(weights).reshape(len(weights), -1).max(1).clip(1e-12)
    return weights / largest[:, None, None, None]


def signed_rgb(values: np.ndarray) -> np.ndarray:
    """(h, w) values in [-1, 1] -> (3, h, w): blue for negative, white for 0, red for positive."""
    red = np.array([178, 24, 43])[:, None, None] / 255  # the ends of SIGNED, opaque
    blue = np.array([33, 102, 172])[:, None, None] / 255
    v = values[None]
    return 1 + np.clip(v, 0, 1) * (red - 1) + np.clip(-v, 0, 1) * (blue - 1)  # white at 0


def filter_grid(weights: np.ndarray, width: int = 300) -> np.ndarray:
    """First-layer kernels (K, C, k, k) as one image (3, H, W) in [0, 1], in a square grid
    (8 -> 3x3, 64 -> 8x8) about `width` px wide, every weight a square of whole pixels.

    Each kernel is scaled by its own largest |weight|. Colour kernels: grey = 0 and each colour
    channel shows that colour's weight. One-channel kernels: red positive (wants light), blue
    negative (wants dark).
    """
    cols = int(np.ceil(np.sqrt(len(weights))))
    tiles = (
        list(0.5 + 0.5 * _scaled(weights))
        if weights.shape[1] == 3
        else [signed_rgb(k[0]) for k in _scaled(weights)]
    )
    k = weights.shape[-1]
    return mosaic(tiles, cols, k * max(1, width // cols // k), gap=6)


def feature_maps(maps: np.ndarray, cols: int = 8, height: int | None = None) -> go.Figure:
    """Every channel's map (K, h, w) of one layer, one colour scale, channel number on hover."""
    k, h, w = maps.shape
    rows = -(-k // cols)
    z = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan, np.float32)  # NaN: the gaps
    channel = np.full(z.shape, -1, np.int32)
    for i, m in enumerate(maps):
        r, c = divmod(i, cols)
        z[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = m
        channel[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = i + 1
    fig = go.Figure(
        go.Heatmap(
            z=z,
            customdata=channel,
            colorscale="Viridis",
            zmin=0,
            colorbar=dict(thickness=12, title="activation"),
            hovertemplate="channel %{customdata}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    return picture(fig, height or 90 * rows + 40, top=10)


def channels(
    rows: Sequence[tuple[Sequence[np.ndarray], Sequence[np.ndarray]]],
    labels: Sequence[str],
    size: int = 56,
    height_per_row: int = 78,
) -> go.Figure:
    """One row per channel: its activation-maximisation images, then its top dataset patches.

    rows: (images [(C, s, s), ...], patches [(C, s, s), ...]) in [0, 1]; labels: one per row.
    """
    m = max(len(images) for images, _ in rows)
    n = max(len(p) for _, p in rows)
    blank = np.full_like(rows[0][0][0], GAP)
    tiles = [
        t
        for images, patches in rows
        for t in (*images, *[blank] * (m - len(images)), *patches, *[blank] * (n - len(patches)))
    ]
    grid = mosaic(tiles, m + n, size, gap=3)
    fig = go.Figure(go.Image(source=png(grid), hoverinfo="skip"))
    step = size + 3
    for r, label in enumerate(labels):
        fig.add_annotation(
            x=-6,
            y=r * step + size / 2,
            text=label,
            showarrow=False,
            xanchor="right",
            font=dict(size=13),
        )
    for x, text in (
        (m * step / 2, "optimised"),
        (m * step + n * step / 2, "strongest in the data"),
    ):
        fig.add_annotation(x=x, y=-10, text=text, showarrow=False, font=dict(size=13))
    fig.add_vline(x=m * step - 1.5, line=dict(color="black", width=2))
    _image_axes(fig, height_per_row * len(rows) + 40, top=30)
    return picture(fig, top=30, left=90)


def attribution(
    image: np.ndarray, values: np.ndarray, signed: bool, titles: tuple[str, str], height: int = 340
) -> go.Figure:
    """The image (C, H, W) in [0, 1], and beside it the (H, W) map over a grey copy of it."""
    grey = image.mean(0, keepdims=True) * 0.6 + 0.4  # pale, so the colours of the map read
    vmax = float(np.abs(values).max()) or 1.0
    scale = (
        dict(colorscale=SIGNED, zmin=-vmax, zmax=vmax)
        if signed
        else dict(colorscale=UNSIGNED, zmin=0, zmax=vmax)
    )
    fig = make_subplots(1, 2, subplot_titles=titles, horizontal_spacing=0.04)
    fig.add_trace(go.Image(source=png(image), hoverinfo="skip"), 1, 1)
    fig.add_trace(go.Image(source=png(grey), hoverinfo="skip"), 1, 2)
    fig.add_trace(
        go.Heatmap(
            z=values,
            **scale,
            colorbar=dict(thickness=12),
            hovertemplate="row %{y}, col %{x}: %{z:.3g}<extra></extra>",
        ),
        1,
        2,
    )
    return _image_axes(fig, height, top=40)


def readouts(
    layers: Sequence[str],
    trained: Sequence[float],
    initial: Sequence[float],
    chance: float,
    marks: dict[str, str],
    height: int = 360,
) -> go.Figure:
    """Linear-readout accuracy per layer, trained network against its initial weights."""
    x = [f"{n}<br><b>{marks[n]}</b>" if n in marks else n for n in layers]
    fig = go.Figure(
        [
            go.Bar(
                x=x,
                y=[100 * v for v in vals],
                name=name,
                marker_color=colour(i),
                hovertemplate="%{x}: %{y:.1f}%<extra>" + name + "</extra>",
            )
            for i, (name, vals) in enumerate(
                (("after training", trained), ("at initialisation", initial))
            )
        ]
    )
    fig.add_scatter(
        x=[x[0], x[-1]],
        y=[100 * chance] * 2,
        mode="lines",
        hoverinfo="skip",
        name=f"chance ({chance:.0%})",
        line=dict(dash="dash", color="grey"),
    )
    return chart(
        fig,
        height,
        top=30,
        barmode="group",
        yaxis=dict(title="probe accuracy (%)", range=[0, 100]),
        legend=legend_row(1.1),
    )
