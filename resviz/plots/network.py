"""Network diagrams in the style of the paper's Figure 3: layers as boxes, skips as arcs.

Each lane is a column read top to bottom. The main diagram gives every stage a lane (the stem
opens the first, the classifier closes the last); the paper figure gives every network one.
Boxes are layout shapes and every skip is its own trace, so both can be counted in the figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import plotly.graph_objects as go

from ..architecture import (
    IDENTITY,
    PROJECTION,
    SKIP_TITLES,
    ZERO_PAD,
    Architecture,
    BlockView,
    StageView,
)
from ..summary import LayerRow, shape_text
from .layout import MARGIN, chart

BOX_W, PITCH, BULGE = 1.2, 1.5, 0.18  # box width, lane spacing, how far an arc swings out
BOX_H, CONV_GAP, GAP, FOLD_H = 0.8, 0.3, 0.7, 2.8  # heights in the same units
LEAVE = 0.2  # a skip leaves this far below the sum before it, so two arcs never share a line
STAGE_FILL = ("#DBEAFE", "#DCFCE7", "#FEF3C7", "#FCE7F3")
STAGE_LINE = ("#1D4ED8", "#15803D", "#B45309", "#BE185D")
PLAIN_FILL, PLAIN_LINE, INK = "#F1F5F9", "#475569", "#0F172A"
# Dashed and coloured apart from the identity: these skips change the shape they carry.
SKIP_STYLE = {
    IDENTITY: ("#0F766E", "solid"),
    ZERO_PAD: ("#C2410C", "dash"),
    PROJECTION: ("#7C3AED", "dash"),
}
NAMES = {"MaxPool2d": "max pool", "AdaptiveAvgPool2d": "avg pool", "Linear": "fc"}


@dataclass
class _Sketch:
    """Everything drawn so far; lanes add to it, `figure` turns it into plotly objects."""

    font: int
    unit_px: int
    shapes: list[dict] = field(default_factory=list)
    labels: dict[str, list] = field(
        default_factory=lambda: {"x": [], "y": [], "text": [], "hover": []}
    )
    flow: tuple[list, list] = field(default_factory=lambda: ([], []))
    plus: tuple[list, list] = field(default_factory=lambda: ([], []))
    skips: list[go.Scatter] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)
    bottom: float = 0.0

    def box(
        self,
        x: float,
        top: float,
        h: float,
        text: str,
        hover: str,
        colour: int | None,
        dashed: bool = False,
    ) -> float:
        """A box under `top` (joined to what is above by the flow line); returns its bottom."""
        fill, line = (
            (STAGE_FILL[colour], STAGE_LINE[colour])
            if colour is not None
            else (PLAIN_FILL, PLAIN_LINE)
        )
        border = dict(color=line, width=1.5, dash="dot" if dashed else "solid")
        self.shapes.append(
            dict(
                type="rect",
                x0=x - BOX_W / 2,
                x1=x + BOX_W / 2,
                y0=top,
                y1=top + h,
                fillcolor=fill,
                layer="below",
                line=border,
            )
        )
        for key, value in zip(self.labels, (x, top + h / 2, text, hover)):
            self.labels[key].append(value)
        self.bottom = max(self.bottom, top + h)
        return top + h

    def link(self, x: float, y0: float, y1: float) -> None:
        self.flow[0].extend((x, x, None))
        self.flow[1].extend((y0, y1, None))

    def skip(self, x: float, y_in: float, y_out: float, block: BlockView) -> None:
        """The shortcut as an arc beside its block, from the block's input to the sum."""
        colour, dash = SKIP_STYLE[block.skip]
        edge = x + BOX_W / 2
        shortcut = [r for r in block.layers if ".shortcut." in r.name]
        hover = (
            f"{block.name}: {SKIP_TITLES[block.skip]}, "
            f"{sum(r.params for r in shortcut):,} parameters"
        )
        shown = {t.legendgroup for t in self.skips}
        far, y_in = edge + BULGE, y_in + LEAVE
        self.skips.append(
            go.Scatter(  # a rounded bracket: out, down beside the block, back in
                x=[x, far - 0.1, far, far, far - 0.1, x],
                y=[y_in, y_in, y_in + 0.3, y_out - 0.3, y_out, y_out],
                mode="lines",
                line=dict(color=colour, dash=dash, width=2.5, shape="spline"),
                name=SKIP_TITLES[block.skip],
                legendgroup=block.skip,
                showlegend=block.skip not in shown,
                hovertext=hover,
                hoverinfo="text",
                meta={"skip": block.skip, "block": block.name},
            )
        )
        self.plus[0].append(x)
        self.plus[1].append(y_out)


def _label(row: LayerRow) -> str:
    """The paper's notation: "3×3 conv, 128, /2"; pools and the classifier by name."""
    if row.kind.startswith("Conv2d"):
        size, _, stride = row.kind.split()[1].partition("/")
        return f"{size.replace('x', '×')} conv, {row.out_shape[0]}" + (
            f", /{stride}" if stride else ""
        )
    return f"{NAMES.get(row.kind, row.kind)}, {row.out_shape[0]}"


def _hover(rows: list[LayerRow]) -> str:
    return "<br>".join(
        f"{r.name} · {r.kind} → {shape_text(r.out_shape)} · {r.params:,} params"
        f" · {r.macs:,} multiply-adds"
        for r in rows
    )


def _boxes(rows: Iterable[LayerRow]) -> list[list[LayerRow]]:
    """A box per layer that computes; a batch norm joins the box of the layer before it."""
    groups: list[list[LayerRow]] = []
    for r in rows:
        if r.kind == "BatchNorm2d" and groups:
            groups[-1].append(r)
        else:
            groups.append([r])
    return groups


def _input(sk: _Sketch, x: float, arch: Architecture) -> float:
    return sk.box(x, 0.0, BOX_H, f"input {shape_text(arch.input_shape)}", "one image", None)


def _layers(sk: _Sketch, x: float, y: float, rows: Iterable[LayerRow]) -> float:
    for group in _boxes(rows):
        sk.link(x, y, y + GAP)
        y = sk.box(x, y + GAP, BOX_H, _label(group[0]), _hover(group), None)
    return y


def _block(sk: _Sketch, x: float, y: float, block: BlockView, colour: int) -> float:
    """Two boxes and, in a residual network, the arc that skips them."""
    first, second = _boxes(block.main_path)
    sk.link(x, y, y + GAP)
    mid = sk.box(x, y + GAP, BOX_H, _label(first[0]), _hover(first), colour)
    sk.link(x, mid, mid + CONV_GAP)
    end = sk.box(x, mid + CONV_GAP, BOX_H, _label(second[0]), _hover(second), colour)
    if block.skip:
        sk.skip(x, y + GAP / 2, end + GAP / 2, block)
    return end


def _folded(sk: _Sketch, x: float, y: float, stage: StageView, colour: int) -> float:
    c, h, w = stage.out_shape
    skips = stage.skips
    moved = sum(b.skip != IDENTITY for b in skips)
    note = f"<br>{len(skips)} skips" + (f" ({moved} reshape)" if moved else "") if skips else ""
    text = f"<b>{stage.name}</b>: {len(stage.blocks)} blocks<br>{c} ch, {h}×{w}{note}"
    hover = (
        f"{stage.name} folded: {len(stage.blocks)} blocks, {stage.params:,} parameters, "
        f"output {shape_text(stage.out_shape)}"
    )
    sk.link(x, y, y + GAP)
    return sk.box(x, y + GAP, FOLD_H, text, hover, colour, dashed=True)


def _stage(sk: _Sketch, x: float, y: float, stage: StageView, colour: int, unfolded: bool) -> float:
    if not unfolded:
        return _folded(sk, x, y, stage, colour)
    for block in stage.blocks:
        y = _block(sk, x, y, block, colour)
    return y


def _header(sk: _Sketch, x: float, text: str) -> None:
    sk.headers.append(
        dict(
            x=x,
            y=-GAP - 0.1,
            text=text,
            showarrow=False,
            yanchor="bottom",
            font=dict(size=sk.font + 1, color=INK),
        )
    )


def _figure(sk: _Sketch, lanes: int) -> go.Figure:
    flow = go.Scatter(
        x=sk.flow[0],
        y=sk.flow[1],
        mode="lines",
        hoverinfo="skip",
        line=dict(color=PLAIN_LINE, width=1.5),
        showlegend=False,
    )
    labels = go.Scatter(
        x=sk.labels["x"],
        y=sk.labels["y"],
        text=sk.labels["text"],
        hovertext=sk.labels["hover"],
        mode="markers+text",
        hoverinfo="text",
        marker=dict(size=sk.unit_px, opacity=0),
        showlegend=False,
        textfont=dict(size=sk.font, color=INK),
    )
    plus = go.Scatter(
        x=sk.plus[0],
        y=sk.plus[1],
        mode="markers",
        hoverinfo="skip",
        marker=dict(symbol="circle-cross-open", size=sk.font, color=INK, line=dict(width=1.5)),
        showlegend=False,
    )
    fig = go.Figure([flow, *sk.skips, plus, labels])
    top = GAP + 0.1 + 3 * (sk.font + 1) / sk.unit_px  # two header lines above every lane
    chart(
        fig,
        int((sk.bottom + GAP + top) * sk.unit_px) + 40 + MARGIN,
        shapes=sk.shapes,
        annotations=sk.headers,
        plot_bgcolor="white",
        dragmode=False,
        font=dict(size=sk.font, color=INK),
        hovermode="closest",
        legend=dict(orientation="h", x=0, y=1, yanchor="bottom", font=dict(size=sk.font)),
    )
    fig.update_xaxes(
        visible=False,
        fixedrange=True,  # from the first box to the last arc
        range=[-BOX_W / 2 - 0.05, (lanes - 1) * PITCH + BOX_W / 2 + BULGE + 0.05],
    )
    fig.update_yaxes(visible=False, fixedrange=True, range=[sk.bottom + GAP, -top])
    return fig


def diagram(
    arch: Architecture, unfolded: Iterable[str] | None = None, big: bool = False
) -> go.Figure:
    """One lane per stage; stages not in `unfolded` (default: all unfolded) are one box."""
    unfolded = {s.name for s in arch.stages} if unfolded is None else set(unfolded)
    # Four lanes (ImageNet-style) leave narrower boxes: "3×3 conv, 512, /2" must still fit.
    narrow = len(arch.stages) > 3
    sk = _Sketch(
        font=(14 if narrow else 16) if big else (11 if narrow else 12), unit_px=44 if big else 34
    )
    for i, stage in enumerate(arch.stages):
        x = i * PITCH
        y = _layers(sk, x, _input(sk, x, arch), arch.stem) if i == 0 else -GAP
        y = _stage(sk, x, y, stage, i, stage.name in unfolded)
        if i == len(arch.stages) - 1:
            _layers(sk, x, y, arch.head)
        _header(sk, x, f"<b>{stage.name}</b><br>out {shape_text(stage.out_shape)}")
    return _figure(sk, len(arch.stages))


def paper_figure(archs: list[Architecture], big: bool = False) -> go.Figure:
    """The paper's Figure 3 in small: one lane per network, every layer, every skip."""
    sk = _Sketch(font=12 if big else 9, unit_px=22 if big else 16)
    for i, arch in enumerate(archs):
        x = i * PITCH
        y = _layers(sk, x, _input(sk, x, arch), arch.stem)
        for colour, stage in enumerate(arch.stages):
            y = _stage(sk, x, y, stage, colour, unfolded=True)
        _layers(sk, x, y, arch.head)
        _header(sk, x, f"<b>{arch.label}</b><br>{arch.params / 1e6:.2f}M parameters")
    return _figure(sk, len(archs))
