"""The Experiments page's figures: the paper's Fig. 6 (training error against iterations per
depth, plain beside residual) and final error against depth.

Both draw `resviz.experiments` groups: a line never joins runs that differ in more than depth.
Each network in the style it has on every page (`styles.run_style`: plain blue, ResNet orange,
deeper darker, without batch norm dashed); several seeds of one configuration as their mean,
with their spread."""

from __future__ import annotations

import statistics

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..experiments import Group
from ..runs import Run
from ..schema import Measurement
from .curves import error_pair, series
from .layout import chart, legend_below, legend_row
from .styles import BN_DASH, kind_colour, run_style

# Dash styles of the lines of one kind: with batch norm from the first tuple, without from the
# second, so BN and no-BN twins never look alike. The first group of each takes the style its
# runs have on every page; further groups (another learning rate...) the next style.
DASHES = {
    True: (BN_DASH[True], "dot", "longdash"),
    False: (BN_DASH[False], "dashdot", "longdashdot"),
}


def dashes(found: list[Group]) -> dict[Group, str]:
    """Group -> its dash style: per kind, BN groups solid first, no-BN groups dashed first."""
    style: dict[Group, str] = {}
    used: dict[tuple[bool, bool], int] = {}
    for g in found:
        n = used.setdefault((g.residual, g.batch_norm), 0)
        styles = DASHES[g.batch_norm]
        style[g] = styles[n % len(styles)]
        used[(g.residual, g.batch_norm)] = n + 1
    return style


PLOT_PX, AXIS_TITLE_PX, LEGEND_ROW_PX = 300, 60, 34  # a row: 30 px, 34 in classroom mode
LEGEND_PX = 480  # the legend's width where the figure is narrowest (the column at 1024 px)


def _legend_rows(names: list[str]) -> int:
    """Rows a horizontal legend of these entries takes at LEGEND_PX (about 6 px a character and
    45 px for the line sample and gap, measured in Chromium): rather one too many than one
    that runs into the axis titles."""
    rows, used = 1, 0
    for name in names:
        width = 45 + 6 * len(name)
        if used and used + width > LEGEND_PX:
            rows, used = rows + 1, 0
        used += width
    return rows


def mean_series(
    runs: tuple[Run, ...], key: Measurement
) -> tuple[list[int], list[float], list[float]]:
    """(steps, mean, standard deviation) of a record field over runs, at the steps all share."""
    per_run = [dict(zip(*series(r, key))) for r in runs]
    steps = sorted(set.intersection(*(set(s) for s in per_run)))
    values = [[s[step] for s in per_run] for step in steps]
    spread = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in values]
    return steps, [statistics.fmean(v) for v in values], spread


def figure6(found: list[Group]) -> go.Figure:
    """Left plain, right residual; thin lines training error, bold lines validation error, each
    the mean over a configuration's seeds, with a band of ± one standard deviation."""
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=("plain networks", "residual networks (ResNets)"),
    )
    dash = dashes(found)
    for g in found:
        col = 1 + g.residual
        for p in g.points:
            label = g.label(p) + (f", {len(p.runs)} seeds" if len(p.runs) > 1 else "")
            c = run_style(p.runs[0].net).colour
            steps, err, _ = mean_series(p.runs, "train_error")
            vs, verr, vsd = mean_series(p.runs, "val_error")
            if len(p.runs) > 1:
                _band(fig, vs, verr, vsd, c, label, col)
            error_pair(fig, (steps, err), (vs, verr), label, label, c, dash[g], row=1, col=col)
    fig.update_xaxes(title_text="iteration (training step)")
    fig.update_yaxes(title_text="error (%)", col=1)
    # A bottom margin that holds the whole legend: left to plotly, the margin grew by
    # shrinking the plot, and a long legend (placed relative to the plot) rose over the axis
    # titles.
    legend = _legend_rows([t.name for t in fig.data if t.showlegend is not False])
    bottom = AXIS_TITLE_PX + LEGEND_ROW_PX * legend
    return chart(
        fig,
        40 + PLOT_PX + bottom,
        bottom=bottom,
        legend=legend_below(-AXIS_TITLE_PX / PLOT_PX),
        hovermode="x unified",
    )


def _band(
    fig: go.Figure, xs: list, mean: list, sd: list, colour: str, label: str, col: int
) -> None:
    """Mean ± one standard deviation as a filled band (upper edge, then lower edge filled up)."""
    for sign in (1, -1):
        fig.add_scatter(
            x=xs,
            y=[100 * (m + sign * s) for m, s in zip(mean, sd)],
            mode="lines",
            line=dict(width=0, color=colour),
            fill="tonexty" if sign < 0 else None,
            opacity=0.25,
            name=f"{label} spread",
            legendgroup=label,
            showlegend=False,
            hoverinfo="skip",
            row=1,
            col=col,
        )


def error_vs_depth(found: list[Group]) -> go.Figure:
    """Final error against depth, one line per group in its kind's hue, each depth's mark in
    that network's own shade: does deeper help or hurt? Error bars: ± one standard deviation
    over seeds, where a configuration has several."""
    fig = go.Figure()
    dash = dashes(found)
    for g in found:
        depths = [p.depth for p in g.points]
        for i, (part, width) in enumerate((("training", 1.5), ("validation", 4))):
            means = [None if (m := p.mean(i)) is None else 100 * m for p in g.points]
            spread = [100 * (p.spread(i) or 0) for p in g.points]
            fig.add_scatter(
                x=depths,
                y=means,
                name=f"{g.name} {part}",
                mode="lines+markers" if len(depths) > 1 else "markers",
                error_y=dict(array=spread, visible=g.seeds > 1, color=kind_colour(g.residual)),
                line=dict(color=kind_colour(g.residual), width=width, dash=dash[g]),
                marker=dict(
                    size=6 + 2 * i, color=[run_style(p.runs[0].net).colour for p in g.points]
                ),
            )
    return chart(
        fig,
        380,
        top=10,
        xaxis=dict(
            title="depth (layers)",
            tickmode="array",
            tickvals=sorted({p.depth for g in found for p in g.points}),
        ),
        yaxis_title="final error (%)",
        legend=legend_row(-0.25),
    )
