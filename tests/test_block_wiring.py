"""The block's wiring diagram: every edge's shape against a forward pass run layer by layer, the
shortcut the paper prescribes where the shape changes, and the figure drawing what it says."""

import pytest
import torch

from resviz import block_wiring
from resviz.config import NetConfig
from resviz.models import build, count_params
from resviz.plots.block_diagram import wiring_figure
from resviz.summary import shape_text


def _by_hand(image: tuple, stage: int, residual: bool, shortcut: str) -> dict:
    """Each edge's tensor shape, computed by calling the block's layers one by one."""
    cfg = NetConfig(depth=8, width=16, in_channels=image[0], residual=residual, shortcut=shortcut)
    net = build(cfg).eval()
    with torch.no_grad():
        x = net.stem(torch.zeros(1, *image))
        for i in range(1, stage):
            x = getattr(net, f"stage{i}")(x)
        b = getattr(net, f"stage{stage}").block1
        c1 = b.conv1(x)
        r1 = b.relu1(b.bn1(c1))
        c2 = b.conv2(r1)
        fx = b.bn2(c2)
        sums = fx + b.shortcut(x) if residual else fx
        out = b.relu2(sums)
        assert out.shape == b(x).shape
    want = {
        ("x", "conv1"): x,
        ("conv1", "bn1"): c1,
        ("bn1", "relu1"): b.bn1(c1),
        ("relu1", "conv2"): r1,
        ("conv2", "bn2"): c2,
        ("relu2", "out"): out,
    }
    if residual:
        want |= {("bn2", "add"): fx, ("add", "relu2"): sums}
        if isinstance(b.shortcut, torch.nn.Identity):
            want[("x", "add")] = x
        else:
            want |= {("x", "shortcut"): x, ("shortcut", "add"): b.shortcut(x)}
    else:
        want[("bn2", "relu2")] = fx
    return {k: tuple(v.shape[1:]) for k, v in want.items()}


@pytest.mark.parametrize("image", [(1, 28, 28), (3, 32, 32), (1, 9, 9)])
@pytest.mark.parametrize("stage", [1, 2])
@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_every_edge_carries_the_shape_a_forward_pass_gives(image, stage, residual, shortcut):
    w = block_wiring.block_wiring(image, stage, residual, shortcut)
    assert {(e.src, e.dst): e.shape for e in w.edges} == _by_hand(image, stage, residual, shortcut)


def test_the_shape_stays_in_stage_one_and_halves_with_twice_the_channels_in_stage_two():
    same = block_wiring.block_wiring((1, 28, 28), 1)
    assert same.skip == "identity" and {e.shape for e in same.edges} == {(16, 28, 28)}
    assert "x and F(x) are both 16×28×28" in block_wiring.caption(same)
    down = block_wiring.block_wiring((1, 28, 28), 2, shortcut="A")
    assert down.edge("x", "shortcut").shape == (16, 28, 28)
    assert down.edge("shortcut", "add").shape == down.edge("bn2", "add").shape == (32, 14, 14)
    assert down.title == "stage 2, block 1: 16 → 32 channels, stride 2"


def test_option_a_has_no_weights_and_option_b_is_a_1x1_projection():
    a = block_wiring.block_wiring((1, 28, 28), 2, shortcut="A")
    b = block_wiring.block_wiring((1, 28, 28), 2, shortcut="B")
    (sa,) = [n for n in a.nodes if n.key == "shortcut"]
    (sb,) = [n for n in b.nodes if n.key == "shortcut"]
    assert sa.params == 0 and sa.label == "option A\nsubsample /2\n+16 zero channels"
    assert sb.params == 16 * 32 + 2 * 32  # 1x1 weights, then BN's scale and shift
    assert sb.label == "option B\n1x1 conv, 32, /2\n+ batch norm"
    assert "appends 16 channels of zeros (no weights)" in block_wiring.caption(a)
    assert "learns 576 weights" in block_wiring.caption(b)
    net = build(NetConfig(depth=8, width=16, shortcut="B"))
    assert sum(n.params for n in b.nodes) == count_params(net.stage2.block1)


def test_a_plain_block_has_no_skip_and_no_addition():
    w = block_wiring.block_wiring((1, 28, 28), 2, residual=False)
    assert w.skip == "none" and {n.key for n in w.nodes}.isdisjoint({"add", "shortcut"})
    assert "no addition" in block_wiring.caption(w)


@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_the_figure_writes_each_edge_s_shape_and_each_box_s_label(shortcut):
    w = block_wiring.block_wiring((1, 28, 28), 2, shortcut=shortcut)
    fig = wiring_figure(w)
    shapes = [a.text.split("<br>")[-1] for a in fig.layout.annotations if a.name == "shape"]
    assert shapes == [shape_text(e.shape) for e in w.edges]
    texts = {a.text for a in fig.layout.annotations}
    assert {n.label.replace("\n", "<br>") for n in w.nodes} <= texts
    assert len([s for s in fig.layout.shapes if s.type == "circle"]) == 1  # the addition
