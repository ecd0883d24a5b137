"""Figures of the sliding kernel: the window over the padded input and the output as it fills,
the arithmetic of one output pixel, and a colour image convolved channel by channel."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..sliding import CHANNELS, ColourConv, Slide, Window
from .layout import picture
from .lessons import DIVERGING

WINDOW = "#f5b700"  # the kernel's outline: amber reads on grey, red and blue alike
_TINTS = {"red": "#d62728", "green": "#2ca02c", "blue": "#1f77b4"}


def slide_figure(s: Slide, w: Window, output: np.ndarray, height: int = 340) -> go.Figure:
    """The padded input with the kernel's window, and the output map as far as it has slid
    (`output`: NaN where the kernel has not been yet), the current pixel outlined."""
    g = s.geometry
    rows, cols = g.out
    fig = make_subplots(
        cols=2,
        column_titles=[
            f"input {g.height}x{g.width}"
            + (f", padded to {s.padded.shape[0]}x{s.padded.shape[1]}" if g.padding else ""),
            f"output {rows}x{cols}",
        ],
        horizontal_spacing=0.06,
    )
    fig.add_heatmap(
        z=s.padded,
        colorscale="gray",
        zmin=0,
        zmax=max(float(s.padded.max()), 1.0),
        showscale=False,
        hovertemplate="padded row %{y}, col %{x}: %{z:.3f}<extra></extra>",
        row=1,
        col=1,
    )
    vmax = float(np.abs(s.output).max()) or 1.0
    fig.add_heatmap(
        z=output,
        colorscale=DIVERGING,
        zmin=-vmax,
        zmax=vmax,
        showscale=False,
        hovertemplate="output row %{y}, col %{x}: %{z:.3f}<extra></extra>",
        row=1,
        col=2,
    )
    fig.add_shape(  # where the output will be: grey until the kernel has been there
        type="rect",
        x0=-0.5,
        x1=cols - 0.5,
        y0=-0.5,
        y1=rows - 0.5,
        fillcolor="#e8e8e8",
        line=dict(color="#888", dash="dot"),
        layer="below",
        name="output extent",
        row=1,
        col=2,
    )
    if g.padding:  # the image itself, inside its ring of zeros
        edge = dict(color="#888", dash="dot")
        _outline(fig, "image edge", (g.padding, g.padding, g.height, g.width), 1, edge)
    _outline(fig, "window", (w.top, w.left, g.kernel, g.kernel), 1, dict(color=WINDOW, width=3))
    _outline(fig, "pixel", (w.row, w.col, 1, 1), 2, dict(color=WINDOW, width=3))
    _square_pixels(fig, [s.padded.shape, output.shape])
    return picture(fig, height, top=30)


def window_figure(w: Window, kernel: np.ndarray, height: int = 220) -> go.Figure:
    """Patch, kernel and their element-wise products, each number written in its cell."""
    panels = {
        "patch under the kernel": (w.patch, dict(colorscale="gray", zmin=0, zmax=1)),
        "kernel": (kernel, _diverging(kernel)),
        f"products: sum {w.total:.3f}": (w.products, _diverging(w.products)),
    }
    fig = make_subplots(cols=3, column_titles=list(panels), horizontal_spacing=0.08)
    for i, (values, scale) in enumerate(panels.values(), 1):
        fig.add_heatmap(
            z=values,
            **scale,
            text=[[f"{v:.2f}".replace("-0.00", "0.00") for v in r] for r in values],
            texttemplate="%{text}",
            textfont=dict(size=15),  # plotly picks black or white for each cell
            showscale=False,
            hoverinfo="skip",
            row=1,
            col=i,
        )
    _square_pixels(fig, [kernel.shape] * 3)
    return picture(fig, height, top=30)


def colour_figure(c: ColourConv, names: list[str], panel_width: int = 190) -> go.Figure:
    """Top: the photo's red, green and blue channels, then the photo. Bottom: each channel
    convolved with its own kernel (`names`), then their sum, the layer's output. The height
    fits two rows of panels about `panel_width` pixels wide."""
    vmax = float(np.abs(c.per_channel).max()) or 1.0
    short = [name.split(" (")[0] for name in names]  # "Sobel x (vertical edges)" -> "Sobel x"
    fig = make_subplots(
        rows=2,
        cols=4,
        subplot_titles=[*CHANNELS, "photo"]
        + [f"{ch} ⊛ {name}" for ch, name in zip(CHANNELS, short)]
        + ["sum: the output"],
        horizontal_spacing=0.02,
        vertical_spacing=0.1,
    )
    for i, ch in enumerate(CHANNELS, 1):
        fig.add_heatmap(
            z=c.image[i - 1],
            colorscale=[[0, "black"], [1, _TINTS[ch]]],
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate=f"{ch} %{{z:.2f}}<extra></extra>",
            row=1,
            col=i,
        )
    fig.add_image(z=np.round(c.image.transpose(1, 2, 0) * 255), row=1, col=4)  # (H, W, 3)
    for i, values in enumerate([*c.per_channel, c.output], 1):
        fig.add_heatmap(
            z=values,
            coloraxis="coloraxis",
            hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>",
            row=2,
            col=i,
        )
    _, h, w = c.image.shape
    picture(
        fig,
        round(2 * panel_width * h / w) + 80,
        top=30,
        coloraxis=dict(colorscale=DIVERGING, cmin=-vmax, cmax=vmax, showscale=False),
    )
    _square_pixels(fig, [(h, w)] * 4 + [c.output.shape] * 4)
    return fig


def _diverging(values: np.ndarray) -> dict:
    top = float(np.abs(values).max()) or 1.0
    return dict(colorscale=DIVERGING, zmin=-top, zmax=top)


def _outline(fig: go.Figure, name: str, box: tuple, col: int, line: dict) -> None:
    """A rectangle around pixels [top, top + h) x [left, left + w) of subplot `col`."""
    top, left, h, w = box
    fig.add_shape(
        type="rect",
        name=name,
        x0=left - 0.5,
        x1=left + w - 0.5,
        y0=top - 0.5,
        y1=top + h - 0.5,
        line=line,
        row=1,
        col=col,
    )


def _square_pixels(fig: go.Figure, shapes: Sequence[tuple[int, ...]]) -> None:
    """Each panel an image of its (H, W): square pixels, row 0 at the top, no axes; the ranges
    fixed, so pixels not computed yet (NaN) keep their place."""
    for i, (h, w) in enumerate(shapes, 1):
        suffix = "" if i == 1 else str(i)
        fig.update_layout(
            {
                f"xaxis{suffix}": dict(visible=False, range=[-0.5, w - 0.5], constrain="domain"),
                f"yaxis{suffix}": dict(
                    visible=False,
                    range=[h - 0.5, -0.5],
                    scaleanchor=f"x{suffix}",
                    constrain="domain",
                ),
            }
        )
