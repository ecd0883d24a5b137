"""The residual block's wiring as a plotly diagram: the branch top to bottom, the skip on the
right, each edge labelled with the shape of the tensor it carries."""

from __future__ import annotations

import plotly.graph_objects as go

from ..block_wiring import Edge, Node, Wiring
from ..summary import shape_text
from .layout import picture

ROWS = {"x": 0, "conv1": 1, "bn1": 2, "relu1": 3, "conv2": 4, "bn2": 5, "add": 6, "relu2": 7}
ROWS["out"] = 8
ROWS["shortcut"] = 3  # on the skip, level with the branch's middle
SKIP_X = 1.25  # the skip's column; the branch is at 0
# Half widths and heights in axis units; an arrow between two rows leaves room for its label.
HALF = {"main": (0.55, 0.25), "shortcut": (0.5, 0.45), "add": (0.2, 0.2)}
FILL = {
    "conv": "#cfe2f3",
    "bn": "#e6e6e6",
    "relu": "#d9ead3",
    "add": "#fce5cd",
    "shortcut": "#ead1dc",
    "x": "#ffffff",
    "out": "#ffffff",
}
INK, SKIP_LINE = "#555", "#e377c2"


def wiring_figure(w: Wiring, height: int = 560) -> go.Figure:
    """Boxes for the layers, arrows for the tensors (each labelled with its shape on the arrow);
    the addition a circle where the skip joins. About 220 pixels wide at the least."""
    sketch = _Sketch()
    for e in w.edges:
        _edge(sketch, e)
    for n in w.nodes:
        _box(sketch, n)
    fig = go.Figure(layout=dict(annotations=sketch.annotations, shapes=sketch.shapes))
    fig.add_scatter(  # invisible points: each box's hover, with its weights
        x=[_centre(n.key)[0] for n in w.nodes],
        y=[_centre(n.key)[1] for n in w.nodes],
        mode="markers",
        marker=dict(size=30, opacity=0),
        hovertext=[
            f"{n.key}: {n.label}<br>{n.params:,} weights".replace("\n", " ") for n in w.nodes
        ],
        hoverinfo="text",
        showlegend=False,
    )
    fig.update_xaxes(visible=False, range=[-0.6, SKIP_X + 0.55], fixedrange=True)
    fig.update_yaxes(visible=False, range=[ROWS["out"] + 0.3, -0.3], fixedrange=True)
    return picture(fig, height, plot_bgcolor="white")


class _Sketch:
    """Annotations and shapes gathered as plain dicts and handed to the figure at once: adding
    them one by one validates the figure's whole list again each time, the slow part."""

    def __init__(self) -> None:
        self.annotations: list[dict] = []
        self.shapes: list[dict] = []

    def add_annotation(self, **kw) -> None:
        self.annotations.append(kw)

    def add_shape(self, **kw) -> None:
        self.shapes.append(kw)


def _edge(fig: _Sketch, e: Edge) -> None:
    """An arrow from box to box; the skip leaves x to the right, runs down its column and
    enters the addition from the side."""
    x0, y0 = _centre(e.src)
    x1, y1 = _centre(e.dst)
    add_side = (_half("add")[0], ROWS["add"])
    if e.src == "x" and e.dst != "conv1":  # onto the skip
        corner = (SKIP_X, ROWS["x"])
        _arrow(fig, (_half("x")[0], y0), corner)
        if e.dst == "shortcut":
            _arrow(fig, corner, (SKIP_X, y1 - _half("shortcut")[1]), head=True)
            _label(fig, (SKIP_X, (y0 + y1 - _half("shortcut")[1]) / 2), e.shape)
        else:  # the identity: x itself is added
            _arrow(fig, corner, (SKIP_X, ROWS["add"]))
            _arrow(fig, (SKIP_X, ROWS["add"]), add_side, head=True)
            _label(fig, (SKIP_X, ROWS["relu1"]), e.shape, prefix="identity<br>")
    elif e.src == "shortcut":
        top = y0 + _half("shortcut")[1]
        _arrow(fig, (SKIP_X, top), (SKIP_X, ROWS["add"]))
        _arrow(fig, (SKIP_X, ROWS["add"]), add_side, head=True)
        _label(fig, (SKIP_X, (top + ROWS["add"]) / 2), e.shape)
    else:
        _arrow(fig, (x0, y0 + _half(e.src)[1]), (x1, y1 - _half(e.dst)[1]), head=True)
        _label(fig, (0, (y0 + _half(e.src)[1] + y1 - _half(e.dst)[1]) / 2), e.shape)


def _box(fig: _Sketch, n: Node) -> None:
    (x, y), (hw, hh), kind = _centre(n.key), _half(n.key), _kind(n.key)
    fig.add_shape(
        type="circle" if kind == "add" else "rect",
        x0=x - hw,
        x1=x + hw,
        y0=y - hh,
        y1=y + hh,
        fillcolor=FILL[kind],
        line=dict(color=SKIP_LINE if kind == "shortcut" else INK, width=1.5),
    )
    fig.add_annotation(
        x=x,
        y=y,
        text=n.label.replace("\n", "<br>"),
        showarrow=False,
        font=dict(size={"add": 16}.get(kind, 12), color="#111"),
    )


def _arrow(fig: _Sketch, tail: tuple, head_at: tuple, head: bool = False) -> None:
    on_skip = SKIP_X in (tail[0], head_at[0])
    fig.add_annotation(
        x=head_at[0],
        y=head_at[1],
        ax=tail[0],
        ay=tail[1],
        xref="x",
        yref="y",
        axref="x",
        ayref="y",
        text="",
        showarrow=True,
        arrowhead=2 if head else 0,
        arrowsize=1.2,
        arrowwidth=2,
        arrowcolor=SKIP_LINE if on_skip else INK,
    )


def _label(fig: _Sketch, at: tuple, shape: tuple, prefix: str = "") -> None:
    """A tensor's shape, written over its arrow."""
    fig.add_annotation(
        x=at[0],
        y=at[1],
        text=prefix + shape_text(shape),
        showarrow=False,
        bgcolor="white",
        font=dict(size=11, color="#333"),
        name="shape",
    )


def _centre(key: str) -> tuple[float, float]:
    return (SKIP_X if key == "shortcut" else 0.0, ROWS[key])


def _kind(key: str) -> str:
    return key.rstrip("12") if key[:-1] in ("conv", "bn", "relu") else key


def _half(key: str) -> tuple[float, float]:
    return HALF.get(key, HALF["main"])
