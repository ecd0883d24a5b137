"""Shattered gradients: each measurement against an independent computation, then the science."""

import numpy as np
import pytest
import torch
from torch import nn

from resviz import shattering
from resviz.config import NetConfig
from resviz.data import load
from resviz.models import build_seeded
from resviz.plots.landscape import shattering_curves
from resviz.plots.styles import KIND_HUE


@pytest.fixture(scope="module")
def mnist():
    return load("mnist-5k")


def _net(depth: int = 8, residual: bool = True, batch_norm: bool = True) -> nn.Module:
    return build_seeded(
        NetConfig(depth=depth, residual=residual, batch_norm=batch_norm, width=4), seed=0
    )


def _linear(net: nn.Module) -> nn.Module:
    """The same network with every ReLU taken out: a linear function of its input."""
    for module in list(net.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.ReLU):
                setattr(module, name, nn.Identity())
    return net


def test_the_line_runs_from_one_image_to_the_other(mnist):
    a, b = mnist.x_train[0], mnist.x_train[1]
    line = shattering.image_line(a, b, 5)
    assert line.shape == (5, 1, 28, 28)
    assert torch.equal(line[0], a) and torch.allclose(line[-1], b)
    assert torch.allclose(line[2], (a + b) / 2)


def test_neighbour_correlation_is_the_mean_pearson_correlation():
    g = torch.randn(6, 50, generator=torch.Generator().manual_seed(0))
    oracle = np.mean([np.corrcoef(g[i], g[i + 1])[0, 1] for i in range(5)])
    assert shattering.neighbour_correlation(g) == pytest.approx(oracle, abs=1e-9)


def test_calibrated_batch_norm_holds_the_batchs_statistics(mnist):
    x = mnist.x_train[:32]
    net = shattering.calibrate_bn(_net(), x)
    assert not net.training
    h = net.stem.conv(x)  # the first batch norm's input, (B, C, H, W)
    assert net.stem.bn.running_mean == pytest.approx(h.mean((0, 2, 3)).detach(), abs=1e-5)
    assert net.stem.bn.running_var == pytest.approx(h.var((0, 2, 3)).detach(), rel=1e-4)


def test_batched_input_gradients_are_each_points_own_gradient(mnist):
    net = shattering.calibrate_bn(_net(), mnist.x_train[:32])
    line = shattering.image_line(mnist.x_train[0], mnist.x_train[1], 4)
    batched = shattering.input_gradients(net, line, unit=3)
    for i in range(4):  # oracle: one input at a time
        x = line[i : i + 1].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(net(x)[0, 3], x)
        assert batched[i] == pytest.approx(g.flatten(), abs=1e-6)


@pytest.mark.parametrize("residual", [False, True])
def test_a_linear_network_has_perfectly_correlated_gradients(mnist, residual):
    net = shattering.calibrate_bn(_linear(_net(depth=20, residual=residual)), mnist.x_train[:32])
    line = shattering.image_line(mnist.x_train[0], mnist.x_train[1], 64)
    grads = shattering.input_gradients(net, line)
    assert grads.abs().sum() > 0
    assert shattering.neighbour_correlation(grads) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.slow
def test_residual_gradients_shatter_less_than_plain_at_depth_56(mnist):
    # The paper's claim (Balduzzi et al. 2017, Sec. 3), at He initialisation with one seed.
    line = shattering.image_line(mnist.x_train[0], mnist.x_train[1], 256)
    batch = mnist.x_train[:128]
    plain, res = (
        shattering.correlation(NetConfig(depth=56, residual=r, width=8), line, batch)
        for r in (False, True)
    )
    assert res > 0.8 and plain < 0.3


def test_shattering_measures_every_variant_at_every_depth(mnist):
    seen = []
    result = shattering.shattering(mnist, depths=(8, 14), points=16, width=4, progress=seen.append)
    assert seen == pytest.approx([k / 8 for k in range(1, 9)])
    assert list(result.curves) == [(False, True), (True, True), (False, False), (True, False)]
    assert all(len(v) == 2 and all(-1 <= c <= 1 for c in v) for v in result.curves.values())
    assert (result.depths, result.points, result.width) == ((8, 14), 16, 4)


def test_shattering_figure_shows_the_curves_it_was_given():
    result = shattering.Shattering(
        (20, 56),
        {(False, True): (0.75, 0.01), (True, True): (0.96, 0.91), (True, False): (0.98, 0.96)},
        256,
        8,
        0,
    )
    fig = shattering_curves(result)
    assert [t.name for t in fig.data] == ["plain", "ResNet", "ResNet, no BN"]
    assert [list(t.y) for t in fig.data] == [[0.75, 0.01], [0.96, 0.91], [0.98, 0.96]]
    assert all(list(t.x) == [20, 56] for t in fig.data)
    assert list(fig.layout.yaxis.range) == [0, 1]
    assert fig.data[2].line.dash == "dash" and fig.data[0].line.dash == "solid"
    # plain blue, ResNet orange: from the variant, as on every page
    assert [t.line.color for t in fig.data] == [KIND_HUE[False], KIND_HUE[True], KIND_HUE[True]]
