"""Figures of the Convolutions and Residual block lessons: data in, plotly Figure out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..config import NetConfig
from ..summary import LayerRow
from .curves import colour
from .layout import chart, legend_row, picture
from .styles import run_style

DIVERGING = "RdBu_r"  # negative blue, zero white, positive red: signs of a response at a glance
_NO_AXES = dict(visible=False)


def feature_map(values: np.ndarray, signed: bool, vmax: float, height: int = 220) -> go.Figure:
    """One (H, W) map as an image, hover shows each pixel's value; signed maps use red/blue.

    No colour bar: four maps share a row, and the pixels need the width more.
    """
    scale = (
        dict(colorscale=DIVERGING, zmin=-vmax, zmax=vmax)
        if signed
        else dict(colorscale="gray", zmin=0, zmax=vmax)
    )
    fig = go.Figure(
        go.Heatmap(
            z=values,
            **scale,
            showscale=False,
            hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>",
        )
    )
    return _image_axes(fig, height)


def _image_axes(fig: go.Figure, height: int) -> go.Figure:
    # Square pixels, row 0 at the top as in an image.
    fig.update_xaxes(**_NO_AXES, constrain="domain")
    fig.update_yaxes(**_NO_AXES, autorange="reversed", scaleanchor="x", constrain="domain")
    return picture(fig, height)


def block_maps(stages: Mapping[str, np.ndarray], height_per_row: int = 150) -> go.Figure:
    """Stages (rows, e.g. x, F(x), output) x channels (columns), all on one colour scale."""
    maps = list(stages.values())  # each (K, H, W)
    channels = maps[0].shape[0]
    vmax = float(max(np.abs(m).max() for m in maps)) or 1.0
    fig = make_subplots(
        rows=len(maps),
        cols=channels,
        row_titles=list(stages),
        column_titles=[f"channel {k + 1}" for k in range(channels)],
        horizontal_spacing=0.01,
        vertical_spacing=0.03,
    )
    for row, m in enumerate(maps, 1):
        for col in range(channels):
            fig.add_heatmap(
                z=m[col],
                coloraxis="coloraxis",
                row=row,
                col=col + 1,
                hovertemplate="%{z:.3f}<extra></extra>",
            )
    # Row titles read left to right, left of the maps, rather than rotated on the right.
    fig.for_each_annotation(
        lambda a: (
            a.update(x=0, xanchor="right", xshift=-8, textangle=0) if a.text in stages else None
        )
    )
    fig.update_layout(
        coloraxis=dict(colorscale=DIVERGING, cmin=-vmax, cmax=vmax, colorbar=dict(thickness=12))
    )
    _image_axes(fig, height_per_row * len(maps) + 40)
    return picture(fig, top=30, left=110)


def gradient_vs_depth(curves: Mapping[NetConfig, Sequence[float]], height: int = 420) -> go.Figure:
    """RMS of dL/dx per element entering each block (input side left), one line per network,
    log y axis.

    Each network in its style on every page (plain blue, ResNet orange, without batch norm
    dashed).
    """
    fig = go.Figure()
    for net, values in curves.items():
        look = run_style(net)
        fig.add_scatter(
            x=list(range(1, len(values) + 1)),
            y=list(values),
            name=net.label,
            mode="lines+markers",
            marker=dict(size=5),
            line=dict(color=look.colour, width=2.5, dash=look.dash),
            hovertemplate=f"{net.label}<br>block %{{x}}: %{{y:.3g}}<extra></extra>",
        )
    fig.update_yaxes(type="log", dtick=1, exponentformat="power")  # one tick per decade
    return chart(
        fig,
        height,
        top=10,
        xaxis_title="block (input side → output side)",
        yaxis_title="RMS of dL/dx entering the block",
        legend=legend_row(-0.2),
    )


def network_diagram(
    rows: Sequence[LayerRow], input_shape: tuple[int, int, int], height: int = 360
) -> go.Figure:
    """Layers as boxes whose height grows with the feature map's side (square-root scale),
    labelled with channels; fully connected layers are 1x1."""
    names = ["input"] + [r.name for r in rows]
    shapes = [input_shape] + [r.out_shape for r in rows]
    sides = [s[1] if len(s) == 3 else 1 for s in shapes]  # (C, H, W) or (features,)
    kinds = ["input"] + [_family(r.kind) for r in rows]
    fig = go.Figure()
    for i, kind in enumerate(dict.fromkeys(kinds)):
        idx = [j for j, k in enumerate(kinds) if k == kind]
        tall = [float(np.sqrt(sides[j])) for j in idx]
        fig.add_bar(
            x=[names[j] for j in idx],
            y=tall,
            base=[-t / 2 for t in tall],
            name=kind,
            marker_color=colour(i),
            text=[_shape_label(shapes[j]) for j in idx],
            textposition="outside",
            cliponaxis=False,
            textfont_size=13,
            hovertemplate="%{x}: %{text}<extra></extra>",
        )
    fig.update_xaxes(categoryorder="array", categoryarray=names)
    fig.update_yaxes(visible=False)
    return chart(fig, height, barmode="overlay", legend=legend_row(-0.15))


def _family(kind: str) -> str:
    return {
        "Conv2d": "convolution",
        "MaxPool2d": "max pooling",
        "Linear": "fully connected",
        "LocalResponseNorm": "response normalisation",
    }.get(kind.split()[0], kind)


def _shape_label(shape: tuple[int, ...]) -> str:
    if len(shape) == 3:
        c, h, w = shape
        return f"{c} ch<br>{h}x{w}"
    return f"{shape[0]:,}"
