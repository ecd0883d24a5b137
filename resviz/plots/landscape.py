"""Loss landscape and shattered gradient figures: plain beside residual, on one scale.

Losses span many decades (a residual basin near 0.1, a plain network's cliffs at 10^3), so
2-D figures colour and contour log10(loss), with the raw loss on the colour bar and in the hover.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..config import kind_label
from ..landscape import Landscape
from ..shattering import Shattering
from .layout import chart, legend_below, picture
from .styles import BN_DASH, kind_colour, run_style

ALPHA = "α (0 = trained weights)"


def slice_curves(landscapes: list[Landscape]) -> go.Figure:
    """1-D slices: loss (log scale) and error (%) along one random direction, one line a net."""
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.12,
        subplot_titles=("loss (cross-entropy)", "error on the same images (%)"),
    )
    for ls in landscapes:
        look = run_style(ls.net)
        style = dict(
            mode="lines",
            name=ls.label,
            legendgroup=ls.label,
            line=dict(color=look.colour, width=3, dash=look.dash),
        )
        fig.add_scatter(x=ls.alphas, y=ls.loss, row=1, col=1, **style)
        fig.add_scatter(
            x=ls.alphas,
            y=[100 * e if e is not None else None for e in ls.error],
            row=1,
            col=2,
            showlegend=False,
            **style,
        )
    fig.update_xaxes(title_text=ALPHA)
    fig.update_yaxes(type="log", dtick=1, exponentformat="power", row=1, col=1)
    fig.update_yaxes(range=[0, 100], row=1, col=2)
    return chart(
        fig,
        420,
        top=60,
        title="Loss along one random direction through the trained weights",
        legend=legend_below(-0.2),
    )


def _loss_map(ls: Landscape, lo: float, hi: float, i: int) -> dict:
    """A 2-D slice's log loss in one colour scale shared by every panel (the first shows it)."""
    return dict(
        x=ls.alphas,
        y=ls.betas,
        z=_log(ls.loss),
        customdata=ls.loss,
        colorscale="Viridis",
        colorbar=_colorbar(lo, hi),
        showscale=i == 1,
        hovertemplate="α %{x:.2f}, β %{y:.2f}<br>loss %{customdata:.3g}<extra></extra>",
    )


def contour_pair(landscapes: list[Landscape]) -> go.Figure:
    """2-D slices as contour maps side by side, with the same colours and levels for all."""
    lo, hi = _log_range(landscapes)
    fig = make_subplots(
        rows=1, cols=len(landscapes), subplot_titles=_titles(landscapes), horizontal_spacing=0.12
    )
    for i, ls in enumerate(landscapes, 1):
        fig.add_contour(
            **_loss_map(ls, lo, hi, i),
            zmin=lo,
            zmax=hi,
            contours=dict(start=lo, end=hi, size=0.25),  # 4 levels a decade
            row=1,
            col=i,
        )
        fig.add_scatter(
            x=[0],
            y=[0],
            # Labelled where it is, not in a legend: a legend row below the panels met the
            # "α (direction 1)" axis title on a 1024 px projector.
            mode="markers+text",
            name="trained weights",
            text=["trained weights"],
            textposition="bottom center",
            textfont=dict(color="white"),
            showlegend=False,
            marker=dict(symbol="x", size=10, color="white", line=dict(width=1, color="black")),
            row=1,
            col=i,
        )
        fig.update_yaxes(scaleanchor=f"x{i if i > 1 else ''}", row=1, col=i)
    # Square panels shrink to fit (constrain="domain") instead of padding the axes past ±1.
    fig.update_xaxes(title_text="α (direction 1)", constrain="domain")
    fig.update_yaxes(constrain="domain")
    fig.update_yaxes(title_text="β (direction 2)", row=1, col=1)
    return chart(
        fig,
        460,
        top=110,
        title="Loss around the trained weights (contour lines 4 per decade)",
    )


def surface_pair(landscapes: list[Landscape]) -> go.Figure:
    """2-D slices as 3-D surfaces one under the other: height and colour log10(loss), one scale.

    Stacked, not side by side: a 3-D box in half the width of a 1024 px projector came out too
    narrow to show its tallest cliff and its height labels.
    """
    lo, hi = _log_range(landscapes)
    n = len(landscapes)
    fig = make_subplots(
        rows=n,
        cols=1,
        subplot_titles=_titles(landscapes),
        specs=[[{"type": "surface"}]] * n,
        vertical_spacing=0.08,
    )
    ticks = _ticks(lo, hi)
    zaxis = dict(title="loss", range=[lo, hi], tickvals=ticks, ticktext=_tick_text(ticks))
    for i, ls in enumerate(landscapes, 1):
        fig.add_surface(**_loss_map(ls, lo, hi, i), cmin=lo, cmax=hi, row=i, col=1)
        fig.update_scenes(
            xaxis_title="α",
            yaxis_title="β",
            zaxis=zaxis,
            row=i,
            col=1,
            camera_eye=dict(x=2.0, y=2.0, z=1.3),
        )  # further out than plotly's
    fig.update_traces(colorbar=dict(len=1 / n, y=1, yanchor="top"))  # beside the first panel
    return picture(
        fig, 110 + 440 * n, top=110, title="The same loss as a surface (height on a log scale)"
    )


def shattering_curves(result: Shattering) -> go.Figure:
    """Correlation of neighbouring inputs' gradients against depth; dashed: without BN."""
    fig = go.Figure()
    for (residual, batch_norm), values in result.curves.items():
        fig.add_scatter(
            x=result.depths,
            y=values,
            mode="lines+markers",
            name=kind_label(residual, batch_norm),
            cliponaxis=False,
            line=dict(color=kind_colour(residual), width=3, dash=BN_DASH[batch_norm]),
            hovertemplate="depth %{x}: %{y:.3f}<extra></extra>",
        )
    return chart(
        fig,
        420,
        top=70,
        title="Do neighbouring inputs get similar gradients? (at initialisation)",
        xaxis=dict(title="depth (layers)", tickvals=list(result.depths)),
        yaxis=dict(title="gradient correlation (1 = the same)", range=[0, 1]),
        legend=legend_below(-0.2),
    )


def _titles(landscapes: list[Landscape]) -> list[str]:
    """Two lines each: side-by-side panels on a 1024 px projector had overlapping titles."""
    return [f"{ls.label}<br>{ls.dataset}, {ls.subset} images" for ls in landscapes]


def _log(rows: tuple) -> list[list[float | None]]:
    return [
        [math.log10(v) if v and v > 0 and math.isfinite(v) else None for v in row] for row in rows
    ]


def _log_range(landscapes: list[Landscape]) -> tuple[float, float]:
    """One log10 range for every panel, widened to quarter decades so contour levels align."""
    logs = [v for ls in landscapes for row in _log(ls.loss) for v in row if v is not None]
    return math.floor(4 * min(logs)) / 4, math.ceil(4 * max(logs)) / 4


def _ticks(lo: float, hi: float) -> list[float]:
    """log10 of 1, 2 and 5 times each power of ten inside [lo, hi] (only the powers of ten past
    three decades, so the colour bar stays readable): raw losses a learner reads."""
    steps = (1, 2, 5) if hi - lo <= 3 else (1,)
    out = [math.log10(m) + e for e in range(math.floor(lo), math.ceil(hi) + 1) for m in steps]
    return [t for t in out if lo <= t <= hi]


def _tick_text(ticks: list[float]) -> list[str]:
    return [f"{10**t:.3g}" for t in ticks]


def _colorbar(lo: float, hi: float) -> dict:
    ticks = _ticks(lo, hi)
    return dict(title="loss", tickvals=ticks, ticktext=_tick_text(ticks))
