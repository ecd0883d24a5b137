"""The residual block lesson: the block's arithmetic, and what the gradient figure claims."""
import re

import numpy as np
import pytest
import torch.nn.functional as F

from resviz import block_demo
from resviz.config import NetConfig
from resviz.data import load
from resviz.models import blocks
from resviz.probes import Probe
from resviz.train import build_seeded


@pytest.fixture(scope="module")
def mnist():
    return load("mnist-5k")


@pytest.fixture(scope="module")
def profile56(mnist):
    return block_demo.gradient_profile(mnist, 56)


def test_block_output_is_relu_of_branch_plus_input(mnist):
    on = block_demo.block_maps(mnist.x_train[3], skip=True)
    off = block_demo.block_maps(mnist.x_train[3], skip=False)
    assert on.x.shape == on.branch.shape == on.out.shape == (4, 28, 28)
    assert on.out == pytest.approx(np.maximum(on.branch + on.x, 0), abs=1e-6)  # Eq. 1, then ReLU
    assert off.out == pytest.approx(np.maximum(off.branch, 0), abs=1e-6)
    # Same seed, same weights: switching the skip off changes only the output.
    assert off.x == pytest.approx(on.x) and off.branch == pytest.approx(on.branch)
    assert np.abs(on.out - off.out).max() > 0.1


def test_the_skip_adds_no_parameters(mnist):
    maps = block_demo.block_maps(mnist.x_train[0], width=16)
    w = 16  # two 3x3 convolutions without bias (BN follows), two BNs with a scale and a shift
    assert maps.params_with_skip == maps.params_without_skip == 2 * (w * w * 9) + 2 * (2 * w)


def test_profile_has_four_networks_with_one_value_per_block(profile56):
    assert list(profile56.curves) == ["plain-56", "ResNet-56", "plain-56, no BN",
                                      "ResNet-56, no BN"]
    assert {len(v) for v in profile56.curves.values()} == {27}  # (56 - 2) / 2 blocks
    assert profile56.batch == 16 and profile56.width == 8


def test_frozen_weights_give_the_same_block_gradients_as_a_full_backward(mnist):
    # Oracle for the speed-up: an ordinary backward with every weight requiring a gradient.
    x, y = mnist.x_train[:8], mnist.y_train[:8]
    cfg = NetConfig(depth=20, residual=False, batch_norm=False, width=4)
    fast = block_demo.block_input_grads(build_seeded(cfg, 0), x, y)
    net = build_seeded(cfg, 0)
    with Probe(net) as probe:
        F.cross_entropy(net(x), y).backward()
    assert len(fast) == len(blocks(net))
    assert fast == pytest.approx(tuple(probe.block_grad_norms().values()), rel=1e-5)


def test_the_science_the_page_states_holds_at_depth_56(profile56):
    c = profile56.curves
    plain, residual = c["plain-56, no BN"], c["ResNet-56, no BN"]
    assert plain[0] < plain[-1] / 3  # without BN the plain gradient vanishes toward the input
    assert plain[0] < residual[0] / 100  # and is far below the residual network's
    assert c["plain-56"][0] > c["plain-56"][-1]  # with BN it does not vanish at all


def _profile(plain, residual, plain_bn) -> block_demo.GradientProfile:
    curves = {"plain-20": plain_bn, "ResNet-20": (1.0, 1.0), "plain-20, no BN": plain,
              "ResNet-20, no BN": residual}
    return block_demo.GradientProfile(20, 8, 16, curves)


def test_describe_computes_its_numbers_from_the_curves():
    no_bn, with_bn = block_demo.describe(_profile((0.001, 0.01), (1.0, 0.02), (50.0, 0.01)))
    assert "shrinks 10-fold" in no_bn and "(it vanishes)" in no_bn
    assert "1,000 times smaller than the residual" in no_bn
    assert "which grows 50-fold instead" in no_bn  # residual without BN: variance adds up
    assert "grows 5,000-fold" in with_bn and "degradation" in with_bn
    assert re.search(r"block 2 to block 1", no_bn)


def test_describe_does_not_claim_what_the_numbers_do_not_show():
    no_bn, with_bn = block_demo.describe(_profile((0.02, 0.01), (0.01, 0.02), (0.01, 0.02)))
    assert "grows 2.0-fold" in no_bn and "vanish" not in no_bn and "2.0 times larger" in no_bn
    assert "instead" not in no_bn
    assert "shrinks 2.0-fold" in with_bn and "degradation" not in with_bn


def test_huge_ratios_read_as_powers_of_ten():
    no_bn, _ = block_demo.describe(_profile((1e-5, 0.01), (5e5, 0.01), (1.0, 1.0)))
    assert "5 × 10¹⁰ times smaller" in no_bn
