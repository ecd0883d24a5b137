"""The residual block lesson: the block's arithmetic, and what the gradient figure claims."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from resviz import lesson_residual_block
from resviz.claims import Kind, profile_claim, spread
from resviz.config import VARIANTS, NetConfig, TrainConfig
from resviz.data import load
from resviz.models import blocks, build_seeded


@pytest.fixture(scope="module")
def mnist():
    return load("mnist-5k")


@pytest.fixture(scope="module")
def profile56(mnist):
    return lesson_residual_block.gradient_profile(mnist, 56)


def test_block_output_is_relu_of_branch_plus_input(mnist):
    on = lesson_residual_block.block_maps(mnist.x_train[3], skip=True)
    off = lesson_residual_block.block_maps(mnist.x_train[3], skip=False)
    assert on.x.shape == on.branch.shape == on.out.shape == (4, 28, 28)
    assert on.out == pytest.approx(np.maximum(on.branch + on.x, 0), abs=1e-6)  # Eq. 1, then ReLU
    assert off.out == pytest.approx(np.maximum(off.branch, 0), abs=1e-6)
    # Same seed, same weights: switching the skip off changes only the output.
    assert off.x == pytest.approx(on.x) and off.branch == pytest.approx(on.branch)
    assert np.abs(on.out - off.out).max() > 0.1


def test_the_skip_adds_no_parameters(mnist):
    maps = lesson_residual_block.block_maps(mnist.x_train[0], width=16)
    w = 16  # two 3x3 convolutions without bias (BN follows), two BNs with a scale and a shift
    assert maps.params_with_skip == maps.params_without_skip == 2 * (w * w * 9) + 2 * (2 * w)


def test_profile_has_four_networks_with_one_value_per_block(profile56):
    assert [n.label for n in profile56.curves] == [
        "plain-56",
        "ResNet-56",
        "plain-56, no BN",
        "ResNet-56, no BN",
    ]
    assert {len(v) for v in profile56.curves.values()} == {27}  # (56 - 2) / 2 blocks
    assert profile56.batch == 16 and profile56.width == 8


def test_frozen_weights_give_autograd_s_per_element_gradients(mnist):
    # Oracle for the speed-up and the division: autograd's gradient of each block's input.
    x, y = mnist.x_train[:8], mnist.y_train[:8]
    cfg = NetConfig(depth=20, residual=False, batch_norm=False, width=4)
    fast = lesson_residual_block.block_input_rms(build_seeded(cfg, 0), x, y)
    net, inputs = build_seeded(cfg, 0), []
    for _, block in blocks(net):
        block.register_forward_pre_hook(lambda _m, i: inputs.append(i[0]))
    grads = torch.autograd.grad(F.cross_entropy(net(x), y), inputs)
    assert fast == pytest.approx([g.pow(2).mean().sqrt().item() for g in grads], rel=1e-5)


def test_the_science_the_page_states_holds_at_depth_56(profile56):
    said = {n.label: claim for n, claim in lesson_residual_block.verdicts(profile56).items()}
    assert said["plain-56, no BN"].kind == Kind.VANISHING
    assert said["plain-56"].kind == Kind.EXPLODING and spread(said["plain-56"]) > 1000
    assert said["ResNet-56, no BN"].kind == Kind.RESIDUAL_GROWTH
    c = {n.label: values for n, values in profile56.curves.items()}
    assert c["plain-56, no BN"][0] < c["ResNet-56, no BN"][0] / 100


def _profile(plain, residual, plain_bn) -> lesson_residual_block.GradientProfile:
    curves = {
        NetConfig(residual=r, batch_norm=bn): values
        for (r, bn), values in zip(VARIANTS, (plain_bn, (1.0, 1.0), plain, residual))
    }
    return lesson_residual_block.GradientProfile(20, 8, 16, curves)


def _settled(*spreads: float) -> lesson_residual_block.Settling:
    after = {
        s: profile_claim("plain-20", (r, 1.0), False, None) for s, r in zip((0, 1, 10, 50), spreads)
    }
    return lesson_residual_block.Settling(
        "plain-20", TrainConfig(batch_size=32, lr=0.05), 16, after, 1.0
    )


def test_findings_computes_its_numbers_from_the_curves():
    lines = lesson_residual_block.findings(
        _profile((0.001, 0.02), (1.0, 0.02), (5000.0, 1.0)), _settled(5000, 100, 5, 3)
    )
    assert "**plain-20, no BN**, dL/dx per element is **vanishing**: 20x smaller" in lines[2]
    assert "50x larger at block 1" in lines[3]  # residual without BN: the skip paths add up
    assert lines[4] == (
        "Without batch norm the plain network's gradient is 1.0x larger than the "
        "residual network's at block 2 and 1,000x smaller than at block 1."
    )
    explosion = lines[5]
    assert "**explodes**, 5,000x larger at block 1 than at block 2" in explosion
    assert "Yang et al. 2019" in explosion
    assert (
        "(batch 32, learning rate 0.05; measured on the same 16 images): after 1 step "
        "exploding, 100x; after 10 steps healthy, 5.0x; after 50 steps healthy, 3.0x. The "
        "explosion is gone after 10 steps."
    ) in explosion


def test_findings_does_not_claim_what_the_numbers_do_not_show():
    lines = lesson_residual_block.findings(_profile((0.02, 0.01), (0.01, 0.02), (0.01, 0.02)))
    assert (
        "2.0x smaller than the residual network's at block 2 and 2.0x larger than at "
        "block 1" in lines[4]
    )
    assert not any("vanish" in line for line in lines[:5])
    assert len(lines) == 6 and "healthy at this depth" in lines[5]
    rising = lesson_residual_block.findings(
        _profile((0.02, 0.01), (0.01, 0.02), (5000.0, 1.0)), _settled(5000, 4000, 6000, 9000)
    )
    assert rising[5].endswith("after 50 steps exploding, 9,000x. It still explodes after 50 steps.")


def test_huge_ratios_read_as_powers_of_ten():
    lines = lesson_residual_block.findings(_profile((1e-5, 0.01), (5e5, 0.01), (1.0, 1.0)))
    assert "5 × 10¹⁰x smaller than at block 1" in lines[4]


@pytest.mark.slow
def test_training_starts_from_the_figure_s_network_and_measures_each_step(mnist):
    settled = lesson_residual_block.settling(mnist, 20, after=(0, 1, 3), width=4)
    profile = lesson_residual_block.gradient_profile(mnist, 20, width=4)
    start = profile.curves[profile.net(False, True)]
    assert sorted(settled.after) == [0, 1, 3]
    assert settled.after[0]["largest"] == pytest.approx(max(start), rel=1e-6)
    assert settled.after[3]["largest"] != settled.after[0]["largest"]
