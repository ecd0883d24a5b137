"""Gradient flow figures: per-layer profile, layers x steps heatmap, activation spread."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from ..gradients import Matrix
from .curves import plain
from .layout import chart, legend_row
from .styles import Style


def profile(
    profiles: list[tuple[str, list[str], list[float | None], Style]], y_title: str, log: bool = True
) -> go.Figure:
    """One line per run over its layers (input side left): (label, layer names, values, the
    run's style)."""
    fig = go.Figure()
    for label, layers, values, look in profiles:
        fig.add_scatter(
            x=list(range(1, len(values) + 1)),
            y=values,
            customdata=layers,
            mode="lines+markers",
            name=plain(label),
            line=dict(color=look.colour, width=2.5, dash=look.dash),
            hovertemplate="%{customdata}: %{y:.3g}<extra></extra>",
        )
    yaxis = (
        dict(title=y_title, type="log", dtick=1, exponentformat="power")
        if log
        else dict(title=y_title)
    )  # log: one tick per decade, as 10^-3, so factors of 10 read at once
    return chart(
        fig,
        400,
        top=10,
        xaxis_title="layer (input → output)",
        yaxis=yaxis,
        legend=legend_row(-0.25),
    )


MAX_LABELS = 30  # layer names on a heatmap's axis


def heatmap(m: Matrix, title: str) -> go.Figure:
    """log10 colours with decade tick labels (plotly 7 has no log colour bar); raw on hover."""
    logs = [[math.log10(v) if v and v > 0 else None for v in row] for row in m.values]
    finite = [v for row in logs for v in row if v is not None]
    lo, hi = (math.floor(min(finite)), math.ceil(max(finite))) if finite else (0, 1)
    ticks = list(range(lo, hi + 1))
    fig = go.Figure(
        go.Heatmap(
            z=logs,
            x=m.steps,
            y=m.layers,
            customdata=m.values,
            colorscale="Viridis",
            zmin=lo,
            zmax=hi,
            colorbar=dict(tickvals=ticks, ticktext=[f"1e{t}" for t in ticks]),
            hovertemplate="%{y}<br>step %{x}: %{customdata:.3g}<extra></extra>",
        )
    )
    # Rows of 9 px are too close for a label each: every `every`-th layer is named (at most
    # MAX_LABELS), the input side at the top; hover names them all.
    every = math.ceil(len(m.layers) / MAX_LABELS) or 1
    return chart(
        fig,
        max(360, 9 * len(m.layers)),
        title=plain(title),
        xaxis_title="training step",
        yaxis=dict(
            title="layer (input side at the top)",
            autorange="reversed",
            tickmode="array",
            tickvals=m.layers[::every],
        ),
    )
