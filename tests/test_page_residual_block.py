"""The Residual block page under AppTest: the block's maps, the skip switch, gradient vs depth."""

import re

import numpy as np
import pytest
import torch

from resviz import claims, lesson_residual_block
from resviz.config import NetConfig
from resviz.models import build
from resviz.plots.styles import run_style
from resviz.ui import block_view
from tests.helpers import figures, plotly_array

# One worker renders the Residual block page for all its tests: its first render trains 20 steps.
pytestmark = pytest.mark.xdist_group("block")

PAGE = "pages/residual_block.py"


def _columns(fig: dict) -> dict[str, list[np.ndarray]]:
    """The block figure's maps by row title (traces go stage by stage, one per channel)."""
    titles = [
        a["text"] for a in fig["layout"]["annotations"] if not a["text"].startswith("channel")
    ]
    maps = [plotly_array(t["z"]) for t in fig["data"]]
    rows = len(maps) // len(titles)
    return {t: maps[i * rows : (i + 1) * rows] for i, t in enumerate(titles)}


def test_default_gradient_figure_is_the_engine_s_profile_and_names_the_explosion(open_page):
    at = open_page(PAGE)
    fig = figures(at)["block_grad_depth"]
    # The engine's results for the page's defaults, from the cache the page filled (computing
    # them again costs a 20-step training run); test_lesson_residual_block checks the engine.
    want = block_view.profile("mnist-5k", 56)
    assert fig["layout"]["yaxis"]["type"] == "log"
    assert [t["name"] for t in fig["data"]] == [n.label for n in want.curves]
    # each line in its network's look, as on every page (plain blue, ResNet orange, no BN dashed)
    looks = [run_style(n) for n in want.curves]
    assert [(t["line"]["color"], t["line"]["dash"]) for t in fig["data"]] == [
        (look.colour, look.dash) for look in looks
    ]
    for trace, values in zip(fig["data"], want.curves.values()):
        assert plotly_array(trace["y"]) == pytest.approx(values, rel=1e-6)
        assert list(plotly_array(trace["x"])) == list(range(1, 28))
    shown = [m.value for m in at.markdown]
    settled = block_view.settling("mnist-5k", 56)
    said = lesson_residual_block.findings(want, settled)
    assert all(sentence in shown for sentence in said)
    explosion = said[-1]
    ratio = re.search(r"\*\*explodes\*\*, ([\d,]+)x larger", explosion).group(1)
    assert float(ratio.replace(",", "")) == pytest.approx(
        max(plain := want.curves[want.net(False, True)]) / min(plain), rel=5e-3
    )
    for steps, claim in settled.after.items():
        if steps:
            assert (
                f"after {steps} step{'s' if steps > 1 else ''} {claim.kind.value}, "
                f"{claims.factor(claims.spread(claim))}x" in explosion
            )


def test_at_depth_20_batch_norm_keeps_the_plain_gradient_healthy(open_page):
    at = open_page(PAGE)
    at.selectbox(key="block_depth").set_value(20).run()
    shown = [m.value for m in at.markdown]
    assert any("healthy at this depth" in s for s in shown)
    assert not any("explodes" in s for s in shown)


def test_block_maps_and_parameter_counts(open_page):
    at = open_page(PAGE)
    cols = _columns(figures(at)["block_maps"])
    assert list(cols) == ["x", "F(x)", "ReLU(F(x) + x)"]
    x, fx, out = cols.values()
    assert len(x) == 4 and x[0].shape == (28, 28)
    for a, b, c in zip(x, fx, out):
        assert c == pytest.approx(np.maximum(a + b, 0), abs=1e-5)
    counts = next(m.value for m in at.markdown if m.value.startswith("**Parameters"))
    with_skip, without = re.findall(r"([\d,]+) with(?:out)?", counts)
    assert with_skip == without and int(with_skip.replace(",", "")) > 0


def test_switching_the_skip_off_leaves_f_of_x_alone(open_page):
    at = open_page(PAGE)
    on = _columns(figures(at)["block_maps"])
    at.toggle(key="block_skip").set_value(False).run()
    off = _columns(figures(at)["block_maps"])
    assert list(off) == ["x", "F(x)", "ReLU(F(x))"]
    for a, b in zip(on["F(x)"], off["F(x)"]):
        assert a == pytest.approx(b)
    for fx, out, before in zip(off["F(x)"], off["ReLU(F(x))"], on["ReLU(F(x) + x)"]):
        assert out == pytest.approx(np.maximum(fx, 0), abs=1e-5)
        assert not np.allclose(out, before)


def test_changing_depth_changes_the_number_of_blocks(open_page):
    at = open_page(PAGE)
    at.selectbox(key="block_depth").set_value(20).run()
    fig = figures(at)["block_grad_depth"]
    assert {len(plotly_array(t["y"])) for t in fig["data"]} == {9}  # (20 - 2) / 2 blocks
    assert [t["name"] for t in fig["data"]][0] == "plain-20"


def _wiring(at) -> tuple[list[str], set[str], str]:
    """The diagram's edge shapes (in drawing order), its box texts, and the caption under it."""
    fig = figures(at)["block_wiring"]
    notes = fig["layout"]["annotations"]
    shapes = [a["text"].split("<br>")[-1] for a in notes if a.get("name") == "shape"]
    boxes = {a["text"] for a in notes if a.get("name") != "shape" and a["text"]}
    caption = next(c.value for c in at.caption if "Each arrow carries" in c.value)
    return shapes, boxes, caption


def _forward_shapes(stage: int, shortcut: str) -> dict[str, tuple]:
    """x, F(x), the shortcut's output and the block's output, from a forward pass of the block
    the page draws (width 16, an MNIST digit)."""
    net = build(NetConfig(depth=8, width=16, shortcut=shortcut)).eval()
    with torch.no_grad():
        x = net.stem(torch.zeros(1, 1, 28, 28))
        x = x if stage == 1 else net.stage1(x)
        block = getattr(net, f"stage{stage}").block1
        fx = block.bn2(block.conv2(block.relu1(block.bn1(block.conv1(x)))))
        found = {"x": x, "F(x)": fx, "shortcut": block.shortcut(x), "out": block(x)}
    return {k: "×".join(map(str, v.shape[1:])) for k, v in found.items()}


def test_the_block_is_drawn_with_its_wiring_and_shapes(open_page):
    at = open_page(PAGE)
    shapes, boxes, caption = _wiring(at)
    want = _forward_shapes(1, "A")
    assert set(shapes) == {want["x"]} == {"16×28×28"}  # the shape stays: an identity skip
    assert {"x", "3x3 conv, 16", "batch norm", "ReLU", "+", "output"} <= boxes
    assert "identity<br>16×28×28" in [
        a["text"] for a in figures(at)["block_wiring"]["layout"]["annotations"]
    ]
    assert "the skip adds x itself" in caption
    assert at.radio(key="block_shortcut").disabled


@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_a_stride_two_block_draws_its_shortcut_with_the_forward_pass_s_shapes(open_page, shortcut):
    at = open_page(PAGE)
    at.radio(key="block_stage").set_value(2).run()
    at.radio(key="block_shortcut").set_value(shortcut).run()
    shapes, boxes, caption = _wiring(at)
    want = _forward_shapes(2, shortcut)
    assert want["x"] == "16×28×28" and want["F(x)"] == want["shortcut"] == want["out"] == "32×14×14"
    # x -> conv1 first, the branch's four inner edges, F(x) -> +, x -> shortcut -> +, + -> ReLU.
    assert shapes[0] == want["x"] and shapes[5] == want["F(x)"]
    assert shapes[6:8] == [want["x"], want["shortcut"]] and shapes[-1] == want["out"]
    if shortcut == "A":
        assert "option A<br>subsample /2<br>+16 zero channels" in boxes
        assert "appends 16 channels of zeros (no weights)" in caption
    else:
        assert "option B<br>1x1 conv, 32, /2<br>+ batch norm" in boxes
        assert "learns 576 weights" in caption
    assert "F(x) is 32×14×14 but x is 16×28×28" in caption


def test_switching_the_skip_off_removes_it_from_the_diagram(open_page):
    at = open_page(PAGE)
    at.toggle(key="block_skip").set_value(False).run()
    shapes, boxes, caption = _wiring(at)
    assert "+" not in boxes and not any(b.startswith("option") for b in boxes)
    assert len(shapes) == 7  # x, four inner edges, F(x) -> ReLU, ReLU -> output
    assert "computes ReLU(F(x))" in caption
