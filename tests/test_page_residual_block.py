"""The Residual block page under AppTest: the block's maps, the skip switch, gradient vs depth."""

import re

import numpy as np
import pytest

from resviz import block_demo, claims
from resviz.data import load
from tests.helpers import figures, plotly_array

PAGE = "pages/residual_block.py"


@pytest.fixture(scope="module")
def mnist():
    return load("mnist-5k")


def _columns(fig: dict) -> dict[str, list[np.ndarray]]:
    """The block figure's maps by row title (traces go stage by stage, one per channel)."""
    titles = [
        a["text"] for a in fig["layout"]["annotations"] if not a["text"].startswith("channel")
    ]
    maps = [plotly_array(t["z"]) for t in fig["data"]]
    rows = len(maps) // len(titles)
    return {t: maps[i * rows : (i + 1) * rows] for i, t in enumerate(titles)}


def test_default_gradient_figure_is_the_engine_s_profile_and_names_the_explosion(open_page, mnist):
    at = open_page(PAGE)
    fig = figures(at)["grad_depth"]
    want = block_demo.gradient_profile(mnist, 56)
    assert fig["layout"]["yaxis"]["type"] == "log"
    assert [t["name"] for t in fig["data"]] == list(want.curves)
    for trace, values in zip(fig["data"], want.curves.values()):
        assert plotly_array(trace["y"]) == pytest.approx(values, rel=1e-6)
        assert list(plotly_array(trace["x"])) == list(range(1, 28))
    shown = [m.value for m in at.markdown]
    settled = block_demo.settling(mnist, 56)
    said = block_demo.describe(want, settled)
    assert all(sentence in shown for sentence in said)
    explosion = said[-1]
    ratio = re.search(r"\*\*explodes\*\*, ([\d,]+)x larger", explosion).group(1)
    assert float(ratio.replace(",", "")) == pytest.approx(
        max(want.curves["plain-56"]) / min(want.curves["plain-56"]), rel=5e-3
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
    fig = figures(at)["grad_depth"]
    assert {len(plotly_array(t["y"])) for t in fig["data"]} == {9}  # (20 - 2) / 2 blocks
    assert [t["name"] for t in fig["data"]][0] == "plain-20"
