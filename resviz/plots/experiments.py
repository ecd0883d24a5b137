"""The Experiments page's figures: the paper's Fig. 6 (training error against iterations per
depth, plain beside residual) and final error against depth."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..runs import Run
from ..sweep import final_errors
from .curves import PALETTE, kind_colour, series, smooth, train_window

DEPTH_COLOURS = dict(zip((20, 32, 44, 56, 110, 8, 14), PALETTE))


def depth_colour(depth: int) -> str:
    """One colour per depth on both panels, so plain-56 and ResNet-56 match as in Fig. 6."""
    return DEPTH_COLOURS.get(depth, PALETTE[depth % len(PALETTE)])


def figure6(runs: list[Run]) -> go.Figure:
    """Left plain, right residual; thin lines training error, bold lines validation error."""
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=("plain networks", "residual networks (ResNets)"))
    for run in sorted(runs, key=lambda r: (r.net.residual, r.net.depth)):
        col, c = 1 + run.net.residual, depth_colour(run.net.depth)
        steps, err = series(run, "train_error")
        xs, ys = smooth(steps, err, train_window(len(err)))
        # One legend entry a run (its bold line); the thin one follows it on a click.
        fig.add_scatter(x=xs, y=[100 * y for y in ys], mode="lines", name=f"{run.label} train",
                        legendgroup=run.label, showlegend=False, line=dict(color=c, width=1.2),
                        row=1, col=col)
        vs, verr = series(run, "val_error")
        fig.add_scatter(x=vs, y=[100 * v for v in verr], mode="lines",
                        name=f"{run.label} validation", legendgroup=run.label,
                        line=dict(color=c, width=4), row=1, col=col)
    fig.update_xaxes(title_text="iteration (training step)")
    fig.update_yaxes(title_text="error (%)", col=1)
    fig.update_layout(height=440, legend=dict(orientation="h", yanchor="top", y=-0.2),
                      margin=dict(l=10, r=10, t=40, b=10), hovermode="x unified")
    return fig


def error_vs_depth(runs: list[Run]) -> go.Figure:
    """Final error against depth, plain and residual: does deeper help or hurt?"""
    fig = go.Figure()
    for residual, name in ((False, "plain"), (True, "ResNet")):
        colour = kind_colour(residual)
        chosen = sorted((r for r in runs if r.net.residual == residual), key=lambda r: r.net.depth)
        finals = [final_errors(r) for r in chosen]
        depths = [r.net.depth for r in chosen]
        for i, (part, width) in enumerate((("training", 1.5), ("validation", 4))):
            fig.add_scatter(x=depths, y=[None if f[i] is None else 100 * f[i] for f in finals],
                            mode="lines+markers", name=f"{name} {part}",
                            line=dict(color=colour, width=width), marker=dict(size=6 + 2 * i))
    fig.update_layout(xaxis=dict(title="depth (layers)", tickmode="array",
                                 tickvals=sorted({r.net.depth for r in runs})),
                      yaxis_title="final error (%)", height=380,
                      legend=dict(orientation="h", y=-0.25), margin=dict(l=10, r=10, t=10, b=10))
    return fig
