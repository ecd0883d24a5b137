"""The frame every figure shares: charts keep a thin margin for their tick labels and put their
legend in one row; pictures (images, diagrams) run edge to edge."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

MARGIN = 10  # px beside and below a chart: room for the last tick label's overhang


def legend_below(y: float) -> dict:
    """A one-row legend hanging from `y` (fractions of the plot's height; negative: under the
    x axis, as far down as its title needs)."""
    return dict(orientation="h", yanchor="top", y=y)


def legend_row(y: float) -> dict:
    """A one-row legend at `y`, anchored as plotly does (by its bottom edge when `y` < 1/3)."""
    return dict(orientation="h", y=y)


def chart(
    fig: go.Figure, height: int | None = None, top: int = 40, bottom: int = MARGIN, **layout: Any
) -> go.Figure:
    """`fig` in a chart's frame: `MARGIN` px left and right, `top` px for a title (10 without),
    `bottom` px below; any other layout (legend, axes, title) passed through."""
    return _framed(fig, height, dict(l=MARGIN, r=MARGIN, t=top, b=bottom), layout)


def picture(
    fig: go.Figure, height: int | None = None, top: int = 0, left: int = 0, **layout: Any
) -> go.Figure:
    """`fig` edge to edge: no margin but `top` px for panel titles and `left` px for row
    labels."""
    return _framed(fig, height, dict(l=left, r=0, t=top, b=0), layout)


def _framed(fig: go.Figure, height: int | None, margin: dict, layout: dict) -> go.Figure:
    if height is not None:  # None: the height the figure already has, or plotly's default
        layout["height"] = height
    fig.update_layout(margin=margin, **layout)
    return fig
