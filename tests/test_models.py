"""The networks against the paper's tables and torchvision's own models."""

import pytest
import torch
import torchvision

from resviz.config import ConfigError, NetConfig
from resviz.models import AlexNet, build, count_params, weight_layers
from resviz.summary import summarize, totals


@pytest.mark.parametrize("depth, millions", [(20, 0.27), (56, 0.85), (110, 1.7)])
def test_cifar_parameter_counts_match_the_paper(depth, millions):
    # He et al. 2016, Table 6: CIFAR-10, option A shortcuts, 3 input channels, 10 classes
    net = build(NetConfig(depth=depth, in_channels=3, num_classes=10))
    assert round(count_params(net) / 1e6, 2 if millions < 1 else 1) == millions


@pytest.mark.parametrize("depth", [8, 20, 56])
def test_plain_and_residual_differ_only_by_the_skip(depth):
    plain, res = (build(NetConfig(depth=depth, residual=r)) for r in (False, True))
    assert count_params(plain) == count_params(res)
    assert [n for n, _ in weight_layers(plain)] == [n for n, _ in weight_layers(res)]


@pytest.mark.parametrize("depth", [18, 34])
def test_imagenet_family_equals_torchvision(depth):
    ours = build(
        NetConfig(
            family="imagenet",
            depth=depth,
            in_channels=3,
            num_classes=1000,
            small_input=False,
            shortcut="B",
        )
    )
    theirs = getattr(torchvision.models, f"resnet{depth}")(weights=None)
    assert count_params(ours) == count_params(theirs)
    assert ours(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


def test_resnet18_multiply_adds_match_the_paper():
    # Table 1 of the paper: 1.8 x 10^9 FLOPs (multiply-adds) for ResNet-18 at 224 px
    net = build(
        NetConfig(
            family="imagenet",
            depth=18,
            in_channels=3,
            num_classes=1000,
            small_input=False,
            shortcut="B",
        )
    )
    assert round(totals(summarize(net, (3, 224, 224)))["macs"] / 1e9, 1) == 1.8


def test_small_image_stem_keeps_resolution():
    net = build(NetConfig(family="imagenet", depth=18, in_channels=1, num_classes=10))
    rows = {r.name: r for r in summarize(net, (1, 28, 28))}
    assert rows["stem.conv"].out_shape == (64, 28, 28)
    assert rows["stage4.block2.conv2"].out_shape == (512, 4, 4)


def test_alexnet_is_the_2012_two_gpu_network_not_torchvisions_variant():
    net = AlexNet(3, 1000)
    # Krizhevsky et al. 2012, Fig. 2: kernels of 11x11x3, 5x5x48, 3x3x256, 3x3x192, 3x3x192
    # (conv2, conv4, conv5 see their own GPU's half), dense 9216-4096-4096-1000, with biases.
    convs = [(96, 3, 11), (256, 48, 5), (384, 256, 3), (384, 192, 3), (256, 192, 3)]
    dense = [(256 * 6 * 6, 4096), (4096, 4096), (4096, 1000)]
    by_hand = sum(o * (i * k * k + 1) for o, i, k in convs) + sum(o * (i + 1) for i, o in dense)
    assert count_params(net) == by_hand == 60_965_224
    assert count_params(torchvision.models.alexnet()) == 61_100_840  # the 2014 one-GPU variant
    names = [n for n, _ in weight_layers(net)]
    assert names == [f"features.conv{i}" for i in range(1, 6)] + [
        f"classifier.fc{i}" for i in range(1, 4)
    ]
    norms = [n for n, m in net.named_modules() if isinstance(m, torch.nn.LocalResponseNorm)]
    assert norms == ["features.norm1", "features.norm2"]
    x = torch.rand(1, 96, 5, 5)  # the paper's b = a / (k + alpha * sum over 5 channels a^2)^beta
    window = (x[:, :3] ** 2).sum(1)  # channel 0: itself and the two above (zeros below)
    assert torch.allclose(net.features.norm1(x)[:, 0], x[:, 0] / (2 + 1e-4 * window) ** 0.75)
    assert net.eval()(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


def test_layer_names_are_stable_and_readable():
    names = [n for n, _ in weight_layers(build(NetConfig(depth=20)))]
    assert names[0] == "stem.conv" and names[-1] == "fc"
    assert "stage2.block3.conv1" in names and len(names) == 20  # 19 convs + 1 fc = depth


def test_option_a_shortcut_zero_pads_and_subsamples():
    net = build(NetConfig(depth=8, width=4))
    block = net.stage2.block1
    x = torch.randn(2, 4, 8, 8)
    s = block.shortcut(x)
    assert s.shape == (2, 8, 4, 4)
    assert torch.equal(s[:, :4], x[:, :, ::2, ::2]) and not s[:, 4:].any()


def test_option_b_projects_only_where_the_shape_changes():
    net = build(NetConfig(depth=8, shortcut="B"))
    a = build(NetConfig(depth=8, shortcut="A"))
    extra = count_params(net) - count_params(a)
    assert extra == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)  # two 1x1 convs + their BN
    assert isinstance(net.stage1.block1.shortcut, torch.nn.Identity)


def test_residual_block_adds_its_input():
    net = build(NetConfig(depth=8, width=4, batch_norm=False)).eval()
    block = net.stage1.block1
    x = torch.rand(1, 4, 6, 6)
    branch = block.conv2(block.relu1(block.conv1(x)))
    assert torch.allclose(block(x), torch.relu(branch + x), atol=1e-6)
    block.residual = False
    assert torch.allclose(block(x), torch.relu(branch), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"depth": 21}, r"6n\+2"),
        ({"width": 0}, "width"),
        ({"family": "imagenet", "depth": 50}, "18 or 34"),
        ({"shortcut": "C"}, "shortcut"),
        ({"in_channels": 2}, "channels"),
        ({"depth": "20"}, "whole number"),
    ],
)
def test_bad_configs_say_what_is_allowed(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        NetConfig(**kwargs)


def test_summary_counts_every_parameter_and_conv_macs():
    net = build(NetConfig(depth=20, in_channels=3))
    rows = summarize(net, (3, 32, 32))
    assert totals(rows)["params"] == count_params(net)
    stem = rows[0]
    assert stem.macs == 16 * 32 * 32 * 3 * 9  # each output: 3 channels x 3x3 kernel
