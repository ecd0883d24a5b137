"""Error and loss curves in the look of the paper's Fig. 1 and Fig. 4: training error thin,
validation error bold, each network in its own style (`styles.run_style`)."""

from __future__ import annotations

import plotly.graph_objects as go

from ..runs import Run
from ..schema import Measurement
from .layout import chart, legend_below
from .styles import run_style

# Colour-blind safe (Okabe-Ito), dark enough for a projector: for things that are not runs.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MAX_POINTS = 400  # past this, average neighbouring steps: the browser gets ~16 bytes a point


def plain(text: str) -> str:
    """Text for a trace name or title, shown as typed: Plotly reads <a href>, <b> and <br> in
    them (a run name from an uploaded file could add a link); entities show as the characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


# Marks on the validation line of a run whose network another run in the figure shares (two
# seeds of plain-20 have one colour): the first a circle, the next ones these.
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "star")


def symbols(runs: list[Run]) -> list[str]:
    """Each run's validation marker: runs of one network told apart by their marks."""
    seen: dict[str, int] = {}
    out = []
    for run in runs:
        n = seen[run.net.label] = seen.get(run.net.label, -1) + 1
        out.append(SYMBOLS[n % len(SYMBOLS)])
    return out


def smooth(steps: list[int], values: list[float], window: int) -> tuple[list, list]:
    """Mean over consecutive windows of `window` steps (x = the window's last step)."""
    if window <= 1:
        return steps, values
    xs, ys = [], []
    for i in range(0, len(values), window):
        chunk = values[i : i + window]
        xs.append(steps[i + len(chunk) - 1])
        ys.append(sum(chunk) / len(chunk))
    return xs, ys


def series(run: Run, key: Measurement) -> tuple[list[int], list[float]]:
    """(steps, values) of one record field, skipping steps where it was not measured."""
    pts = [(r["step"], r[key]) for r in run.records if r.get(key) is not None]
    return [p[0] for p in pts], [p[1] for p in pts]


def train_window(n: int) -> int:
    """Steps averaged per point of the thin training curve: at least 10 (one batch's error is
    noisy), more for long runs so at most MAX_POINTS reach the browser."""
    return max(10, -(-n // MAX_POINTS)) if n > 20 else 1


def error_pair(
    fig: go.Figure,
    train: tuple[list[int], list[float]],
    validation: tuple[list[int], list[float]],
    name: str,
    group: str,
    colour: str,
    dash: str,
    marker: dict | None = None,
    **where,
) -> None:
    """One network's error in %: training thin (averaged over a few steps), validation bold.

    One legend entry a network, its bold line (the titles say thin is training): eight rows of
    legend left the plot a sliver in a narrow column. `where` places both (row, col).
    """
    xs, ys = smooth(*train, train_window(len(train[1])))
    fig.add_scatter(
        x=xs,
        y=[100 * y for y in ys],
        mode="lines",
        name=f"{name} train",
        legendgroup=group,
        showlegend=False,
        line=dict(color=colour, width=1.2, dash=dash),
        **where,
    )
    fig.add_scatter(
        x=validation[0],
        y=[100 * v for v in validation[1]],
        mode="lines+markers" if marker else "lines",
        name=f"{name} validation",
        legendgroup=group,
        line=dict(color=colour, width=4, dash=dash),
        marker=marker,
        **where,
    )


def error_curves(runs: list[Run]) -> go.Figure:
    """Training error (thin, averaged over a few steps) and validation error (bold), in %."""
    fig = go.Figure()
    for i, (run, symbol) in enumerate(zip(runs, symbols(runs))):
        look = run_style(run.net)
        error_pair(
            fig,
            series(run, "train_error"),
            series(run, "val_error"),
            plain(run.label),
            str(i),
            look.colour,
            look.dash,
            marker=dict(size=7, symbol=symbol),
        )
    return _layout(fig, "Error: training thin, validation bold", "error (%)")


def loss_curves(runs: list[Run]) -> go.Figure:
    fig = go.Figure()
    for run in runs:
        look = run_style(run.net)
        steps, loss = series(run, "train_loss")
        xs, ys = smooth(steps, loss, train_window(len(loss)))
        line = dict(color=look.colour, dash=look.dash)
        fig.add_scatter(x=xs, y=ys, mode="lines", name=plain(run.label), line=line)
    return _layout(fig, "Training loss", "cross-entropy")


def _layout(fig: go.Figure, title: str, y_title: str) -> go.Figure:
    return chart(
        fig,
        420,
        title=title,
        xaxis_title="iteration (training step)",
        yaxis_title=y_title,
        legend=legend_below(-0.28),
        hovermode="x unified",
    )
