"""The architecture description and its diagrams against the networks they describe."""

import pytest
import torch

from resviz.architecture import (
    IDENTITY,
    PROJECTION,
    ZERO_PAD,
    comparison,
    comparison_note,
    default_unfolded,
    from_config,
    from_net,
    paper_configs,
    param_note,
)
from resviz.config import NetConfig
from resviz.models import build, count_params
from resviz.plots.network import diagram, paper_figure
from resviz.summary import summarize, table, totals

CIFAR = dict(in_channels=1, num_classes=10)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # One image through a small net: a second thread only adds contention, no speed.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def skip_traces(fig) -> list:
    return [t for t in fig.data if t.meta and "skip" in t.meta]


def boxes(fig) -> list:
    return [s for s in fig.layout.shapes if s.type == "rect"]


@pytest.mark.parametrize(
    "cfg",
    [
        NetConfig(depth=20),
        NetConfig(depth=56, residual=False),
        NetConfig(family="imagenet", depth=34, shortcut="B"),
    ],
)
def test_meta_description_equals_the_real_network(cfg):
    # The page describes networks built on the meta device; a real build must read the same.
    assert from_config(cfg, 28) == from_net(build(cfg), (cfg.in_channels, 28, 28))


@pytest.mark.parametrize(
    "family, depth, blocks",
    [("cifar", 20, 9), ("cifar", 110, 54), ("imagenet", 18, 8), ("imagenet", 34, 16)],
)
def test_one_skip_per_residual_block_and_none_when_plain(family, depth, blocks):
    res, plain = (from_config(NetConfig(family, depth, residual=r), 28) for r in (True, False))
    assert len(res.blocks) == len(res.skips) == blocks
    assert plain.skips == [] and len(plain.blocks) == blocks
    assert res.weight_layers == plain.weight_layers == depth


@pytest.mark.parametrize("shortcut, reshaping", [("A", ZERO_PAD), ("B", PROJECTION)])
def test_skips_that_downsample_are_marked_by_their_option(shortcut, reshaping):
    arch = from_config(NetConfig(depth=20, shortcut=shortcut), 32)
    kinds = {b.name: b.skip for b in arch.blocks}
    # Stages 2 and 3 open by halving the size and doubling the channels; nothing else reshapes.
    assert [n for n, k in kinds.items() if k == reshaping] == ["stage2.block1", "stage3.block1"]
    assert sum(k == IDENTITY for k in kinds.values()) == 7
    assert [s.out_shape for s in arch.stages] == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]
    first = arch.stages[1].blocks[0]
    assert first.in_shape == (16, 32, 32) and first.out_shape == (32, 16, 16)


@pytest.mark.parametrize(
    "cfg",
    [
        NetConfig(depth=20, **CIFAR),
        NetConfig(depth=32, shortcut="B"),
        NetConfig(depth=14, batch_norm=False, residual=False),
        NetConfig(family="imagenet", depth=18, in_channels=3),
    ],
)
def test_table_totals_are_those_of_the_built_network(cfg):
    net = build(cfg)
    rows = table(from_config(cfg, 28).rows)
    assert sum(r["parameters"] for r in rows) == count_params(net)
    assert (
        sum(r["multiply-adds"] for r in rows)
        == totals(summarize(net, (cfg.in_channels, 28, 28)))["macs"]
    )


def test_param_note_names_the_shared_count():
    n = count_params(build(NetConfig(depth=56)))
    for residual in (True, False):
        note = param_note(NetConfig(depth=56, residual=residual))
        assert f"the same {n:,} parameters" in note and "option A shortcuts add none" in note
    extra = count_params(build(NetConfig(depth=56, shortcut="B"))) - n
    assert f"add {extra:,}" in param_note(NetConfig(depth=56, shortcut="B"))


@pytest.mark.parametrize(
    "depth, unfolded", [(20, ["stage1", "stage2", "stage3"]), (56, ["stage1"]), (110, [])]
)
def test_deep_networks_open_folded(depth, unfolded):
    assert default_unfolded(from_config(NetConfig(depth=depth), 28)) == unfolded


def test_diagram_draws_every_skip_and_dashes_those_that_reshape():
    arch = from_config(NetConfig(depth=20), 28)
    skips = skip_traces(diagram(arch))
    assert len(skips) == 9
    dashes = {t.meta["block"]: t.line.dash for t in skips}
    assert dashes["stage2.block1"] == dashes["stage3.block1"] == "dash"
    assert dashes["stage1.block1"] == "solid"
    assert skip_traces(diagram(from_config(NetConfig(depth=20, residual=False), 28))) == []


def test_folding_draws_a_stage_as_one_box():
    arch = from_config(NetConfig(depth=56), 28)
    open_fig, folded = diagram(arch), diagram(arch, unfolded=["stage1", "stage3"])
    # input, stem, 2 per block, pool, fc; folding stage 2 swaps its 18 boxes for one
    assert len(boxes(open_fig)) == 2 + 2 * 27 + 2
    assert len(boxes(folded)) == len(boxes(open_fig)) - 18 + 1
    assert len(skip_traces(folded)) == 18
    label = next(t for t in folded.data if t.mode == "markers+text")
    assert "<b>stage2</b>: 9 blocks<br>32 ch, 14×14<br>9 skips (1 reshape)" in label.text


def test_the_papers_four_networks():
    cfgs = paper_configs(NetConfig(depth=20, **CIFAR))
    archs = [from_config(c, 28) for c in cfgs]
    side = comparison(cfgs, archs)
    assert list(side) == ["plain-18", "ResNet-18", "plain-34", "ResNet-34"]
    for plain, res in (("plain-18", "ResNet-18"), ("plain-34", "ResNet-34")):
        assert side[plain]["parameters"] == side[res]["parameters"]  # option A adds none
        b = count_params(
            build(
                NetConfig("imagenet", side[res]["weight layers"], width=16, shortcut="B", **CIFAR)
            )
        )
        assert side[res]["parameters with option B"] == b > side[res]["parameters"]
    assert [side[n]["skip connections"] for n in side] == [0, 8, 0, 16]
    assert comparison_note(side).count("adds 0 parameters") == 2
    fig = paper_figure(archs)
    assert len(skip_traces(fig)) == 24
    assert [a.text.split("<br>")[0] for a in fig.layout.annotations] == [
        f"<b>{n}</b>" for n in side
    ]
