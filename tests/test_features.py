"""Receptive fields, filters, top patches, activation maximisation and the two measurements,
each against an independent computation (autograd, a hand-made kernel, a closed form)."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from resviz import attribution, features, models, shipped
from resviz.config import NetConfig
from resviz.data import Dataset, DatasetInfo
from resviz.models import build, build_seeded
from resviz.receptive import Field, crop, fields
from tests.helpers import trained_like, trained_state


def _dataset(n: int = 120, size: int = 16, seed: int = 0) -> Dataset:
    """Colour noise images whose class is their brightness: dark (0) or bright (1)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 3, size, size, generator=g) + (2.0 * y - 1)[:, None, None, None]
    info = DatasetInfo("toy", "toy", 3, size, 2, True, True, len(x))
    return Dataset(info, x, y, x.flip(0), y.flip(0), ("dark", "bright"), (0.5,) * 3, (0.25,) * 3)


def _support(net: nn.Module, shape: tuple, row: int, col: int) -> np.ndarray:
    """Input pixels whose change moves output unit (row, col): the field, by autograd."""
    x = torch.ones(1, *shape, requires_grad=True)
    out = net(x)
    out[0, :, row, col].sum().backward()
    return (x.grad[0].abs().sum(0) > 0).numpy()


def _box_mask(field: Field, row: int, col: int, h: int, w: int) -> np.ndarray:
    top, left, bottom, right = field.box(row, col)
    mask = np.zeros((h, w), bool)
    mask[max(top, 0) : bottom, max(left, 0) : right] = True
    return mask


def test_known_stacks_have_the_textbook_fields():
    three = fields(nn.Sequential(*(nn.Conv2d(1, 1, 3, 1, 1) for _ in range(3))))
    assert (three["1"].size, three["2"].size) == (5, 7)  # two 3x3 see as one 5x5 (VGG, Sec. 2.3)
    strided = fields(
        nn.Sequential(nn.Conv2d(1, 1, 3, 1, 1), nn.Conv2d(1, 1, 3, 2, 1), nn.Conv2d(1, 1, 3, 1, 1))
    )
    assert strided["2"] == Field(size=9, jump=2, start=0.0)
    stem = fields(build(NetConfig(family="imagenet", depth=18, small_input=False)))["stem"]
    assert stem == Field(size=11, jump=4, start=0.0)  # 7x7 stride 2, then 3x3 max pool stride 2
    f = fields(build(NetConfig(depth=20)))
    assert [f[n].size for n in ("stem", "stage1.block1", "stage2.block1", "stage3.block3")] == [
        3,
        7,
        21,
        81,
    ]
    assert f["stage3.block3"].jump == 4


@pytest.mark.parametrize("row, col", [(0, 0), (3, 5), (7, 7)])
def test_a_conv_stack_field_is_exactly_the_pixels_that_reach_a_unit(row, col):
    stack = nn.Sequential(
        nn.Conv2d(1, 2, 3, 1, 1),
        nn.Conv2d(2, 2, 3, 2, 1),
        nn.Conv2d(2, 1, 3, 1, 1),
        nn.Conv2d(1, 1, 3, 2, 1),
    )
    for m in stack:  # positive weights: no path cancels another
        nn.init.constant_(m.weight, 0.1)
    field = fields(stack)["3"]
    assert (field.size, field.jump) == (1 + 2 * (1 + 1 + 2 + 2), 4)
    assert (_support(stack, (1, 32, 32), row, col) == _box_mask(field, row, col, 32, 32)).all()


def test_a_residual_networks_fields_match_autograd():
    net = build(NetConfig(depth=8, width=2, in_channels=3)).eval()
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 0.05)  # with BN's default statistics every ReLU passes
    for layer, (row, col) in (("stage1.block1", (5, 9)), ("stage3.block1", (0, 7))):
        truncated = lambda x, layer=layer: features.outputs(net, x, [layer])[layer]  # noqa: E731
        field = fields(net)[layer]
        assert (
            _support(truncated, (3, 32, 32), row, col) == _box_mask(field, row, col, 32, 32)
        ).all(), layer


def test_crops_show_the_field_and_grey_outside_the_image():
    image = np.arange(3 * 10 * 10, dtype=np.float32).reshape(3, 10, 10)
    field = Field(size=5, jump=2, start=0.0)  # unit (r, c) is centred on pixel (2r, 2c)
    assert (crop(image, field, 2, 3) == image[:, 2:7, 4:9]).all()
    corner = crop(image, field, 0, 0, fill=-1)
    assert (corner[:, 2:, 2:] == image[:, :3, :3]).all() and (corner[:, :2] == -1).all()
    whole = crop(image, Field(size=25, jump=4, start=0.0), 1, 1)  # a field wider than the image
    assert (whole == image).all()


def test_top_patches_are_deterministic_for_a_seed_and_really_the_strongest():
    net, data = trained_like(), _dataset()
    a, b = (
        features.top_units(net, data.x_val, "stage2.block1", n=4, pool=80, seed=3) for _ in range(2)
    )
    assert all((getattr(a, k) == getattr(b, k)).all() for k in ("value", "image", "row", "col"))
    other = features.top_units(net, data.x_val, "stage2.block1", n=4, pool=80, seed=4)
    assert not (other.image == a.image).all()
    for channel in (0, 5):
        maps = features.feature_maps(net, data.x_val[a.image[channel, 0]], "stage2.block1")
        assert maps[channel, a.row[channel, 0], a.col[channel, 0]] == pytest.approx(
            a.value[channel, 0]
        )
        assert a.value[channel, 0] == pytest.approx(maps[channel].max())
    assert (np.diff(a.value, axis=1) <= 0).all() and a.grid == (8, 8)


def test_edge_fit_is_one_for_a_ramp_zero_for_a_spot_and_a_quarter_at_random():
    ramp = np.array([[-1, 0, 1]] * 3, np.float32)[None, None]  # a vertical-edge detector
    spot = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.float32)[None, None]
    assert features.edge_fit(ramp) == pytest.approx([1.0])
    assert features.edge_fit(spot) == pytest.approx([0.0], abs=1e-9)
    random = np.random.default_rng(0).standard_normal((4000, 3, 3, 3))
    assert features.edge_fit(random).mean() == pytest.approx(0.25, abs=0.01)  # 2 of 8 directions


def test_a_linear_readout_reads_brightness_but_not_shuffled_labels():
    data = _dataset(n=400)
    assert features.readout_accuracy(trained_like(), data, ["stem"], n_train=400)["stem"] > 0.9
    shuffled = Dataset(
        data.info,
        data.x_train,
        data.y_train[torch.randperm(400)],
        data.x_val,
        data.y_val,
        data.classes,
        data.mean,
        data.std,
    )
    assert features.readout_accuracy(trained_like(), shuffled, ["stem"], n_train=400)["stem"] < 0.65


def test_activation_maximisation_finds_the_known_optimum_of_a_first_layer_unit():
    # A stem unit before its ReLU is BN(conv(x)) = a * (w . patch) + b with a > 0: within the
    # valid pixel range the best patch puts every pixel at its bound, on the side of sign(w).
    net, data = trained_like(), _dataset()
    x = features.activation_maximisation(net, "stem", [0, 3], data, steps=96, robust=False)
    lo, hi = -0.5 / 0.25, 0.5 / 0.25  # pixel values 0 and 1 after the toy normalisation
    assert x.shape == (2, 3, 16, 16) and lo - 1e-6 <= x.min() and x.max() <= hi + 1e-6
    w = net.stem.conv.weight.detach()[[0, 3]]  # (2, 3, 3, 3)
    patch = x[:, :, 7:10, 7:10]  # the 3x3 field of the centre unit (8, 8)
    assert torch.allclose(patch, torch.where(w > 0, hi, lo), atol=0.05)
    assert torch.equal(
        x, features.activation_maximisation(net, "stem", [0, 3], data, steps=96, robust=False)
    )


def _centre_units(net, layer: str, x: torch.Tensor, channels: list[int]) -> torch.Tensor:
    """Each image's own channel's centre unit before the last ReLU, for images channel-major."""
    unit = features.last_relu(net, layer)
    with torch.no_grad():
        out = features.outputs(models.eval_copy(net), x, [unit], inputs=True)[unit]
    per = len(x) // len(channels)
    row, col = features.centre(out.shape[-2:])
    return out[torch.arange(len(x)), torch.tensor(channels).repeat_interleave(per), row, col]


def test_activation_maximisation_raises_a_deeper_unit_even_from_silence():
    net, data = trained_like(), _dataset()
    assert features.last_relu(net, "stage2.block1") == "stage2.block1.relu2"
    start, x = (
        features.activation_maximisation(net, "stage2.block1", [0, 1, 2], data, steps=s)
        for s in (0, 48)
    )
    before, after = (_centre_units(net, "stage2.block1", v, [0, 1, 2]) for v in (start, x))
    assert (after > before + 0.2).all() and (after > 0).all(), (before, after)
    pixels = data.images(x)
    assert pixels.min() >= 0 and pixels.max() <= 1  # the sigmoid keeps them valid


def _high_frequency_share(x: torch.Tensor) -> float:
    """The share of the images' energy (mean removed) above half the highest frequency."""
    power = torch.fft.rfft2(x - x.mean((2, 3), keepdim=True)).abs() ** 2
    fy, fx = torch.fft.fftfreq(x.shape[-2]).abs()[:, None], torch.fft.rfftfreq(x.shape[-1])
    return (power[..., (fy > 0.25) | (fx > 0.25)].sum() / power.sum()).item()


def test_regularised_images_are_smoother_than_plain_ascent_and_diverse_per_channel():
    net, data = trained_like(), _dataset()
    kw = dict(net=net, layer="stage3.block1", channels=[0, 1], data=data, steps=64)
    plain = features.activation_maximisation(**kw, robust=False)
    robust = features.activation_maximisation(**kw, per_channel=3)
    assert _high_frequency_share(robust) < 0.5 * _high_frequency_share(plain)
    assert _centre_units(net, "stage3.block1", robust, [0, 1]).min() > 0  # still excited
    for c in range(2):  # three different images of one channel, not one image thrice
        same = robust[3 * c : 3 * c + 3].flatten(1)
        assert torch.pdist(same).min() > 0.1 * same.norm(dim=1).mean()  # all three pairs


def test_no_analysis_changes_the_network_it_reads():
    net, data = trained_like(), _dataset()
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    image = data.x_val[0]
    features.feature_maps(net, image, "stage1.block1")
    features.top_units(net, data.x_val, "stage3.block1", n=2, pool=20)
    features.activation_maximisation(net, "stage3.block1", [0], data, steps=3)
    features.readout_accuracy(net, data, features.layer_names(net), n_train=60)
    attribution.predict(net, image)
    for method in attribution.METHODS:
        attribution.attribute(net, image, 1, method, steps=8)
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics included
    assert net.training and all(p.requires_grad for p in net.parameters())
    assert not any(
        m._forward_hooks or m._backward_hooks or m._forward_pre_hooks for m in net.modules()
    )


def test_layers_and_the_preset():
    names = features.layer_names(build(NetConfig(depth=20)))
    assert features.depth_labels(names) == {
        "stem": "early",
        "stage2.block1": "middle",
        "stage3.block3": "late",
    }
    data = _dataset()
    net_cfg, cfg = shipped.preset(data.info, steps=2)
    assert (net_cfg.depth, net_cfg.in_channels, net_cfg.num_classes, cfg.steps) == (20, 3, 2, 2)
    state = trained_state(net_cfg, cfg, data)
    assert state.keys() == build(net_cfg).state_dict().keys()
    assert all(v.device.type == "cpu" for v in state.values())
    assert not models.from_state(net_cfg, state).training


def _shipped_copy(tmp_path, monkeypatch) -> shipped.Shipped:
    monkeypatch.setattr(shipped, "SHIPPED_DIR", tmp_path)
    return shipped.networks()[0]


def test_a_shipped_network_round_trips_through_safetensors(tmp_path, monkeypatch):
    item = _shipped_copy(tmp_path, monkeypatch)
    state = trained_like(depth=20, width=8).state_dict()
    shipped.save_shipped(item, state, {"steps_run": "300"})
    assert item.path.read_bytes()[8:9] == b"{"  # a JSON header, then raw tensors: no pickle
    loaded, meta = shipped.load_shipped(item)
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
    assert meta["steps_run"] == "300" and json.loads(meta["net"]) == item.net.to_dict()


def test_a_damaged_or_different_shipped_file_is_refused_in_one_sentence(tmp_path, monkeypatch):
    item = _shipped_copy(tmp_path, monkeypatch)
    with pytest.raises(
        shipped.ShippedError,
        match=r"^The shipped network shapes-resnet20"
        r"\.safetensors is missing; python -m",
    ):
        shipped.load_shipped(item)
    shipped.save_shipped(item, trained_like(depth=20, width=8).state_dict(), {})
    good = item.path.read_bytes()
    flipped = bytearray(good)
    flipped[-3] ^= 1  # one bit of one weight
    for bad, why in (
        (good[: len(good) // 2], "could not be read"),
        (b"\x00" * 12, "could not be"),
        (bytes(flipped), "not the ones it was saved with"),
    ):
        item.path.write_bytes(bad)
        with pytest.raises(shipped.ShippedError, match=why):
            shipped.load_shipped(item)
    shipped.save_shipped(item, trained_like(depth=14, width=8).state_dict(), {})
    with pytest.raises(shipped.ShippedError, match="does not have the weights of ResNet-20"):
        shipped.load_shipped(item)  # the right configuration in its metadata, other weights
    other = shipped.networks()[1]
    item.path.write_bytes(good)
    with pytest.raises(shipped.ShippedError, match="holds another network than ResNet-18"):
        shipped.load_shipped(other, item.path)


def test_the_shipped_networks_load_and_learned_edges_beyond_their_initial_weights():
    for item in shipped.networks():
        state, meta = shipped.load_shipped(item)
        after = features.first_layer_filters(models.from_state(item.net, state))
        before = features.first_layer_filters(build_seeded(item.net, item.train.seed))
        assert meta["steps_run"] == str(item.train.steps)  # trained to the end of its plan
        assert features.edge_fit(after).mean() > 2 * features.edge_fit(before).mean(), item.name
    assert after.shape[1:] == (1, 3, 3)  # the digits network, the last shipped
    state, _ = shipped.load_shipped(shipped.networks()[1])
    assert state["stem.conv.weight"].shape == (16, 3, 7, 7)  # the large-kernel colour stem
