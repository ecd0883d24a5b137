"""torchvision's ImageNet ResNet-18, offline: where torch hub caches it, what the download says
when it cannot be had, what the check refuses, and the photos prepared as it was trained."""

import re
from urllib.error import URLError

import numpy as np
import pytest
import torch
from torchvision.models import resnet18

from resviz import pretrained


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path


def fake_weights(path) -> dict[str, torch.Tensor]:
    """ResNet-18's shapes with seeded random values, saved where torch hub would cache them."""
    torch.manual_seed(0)
    state = resnet18().state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


def test_the_file_is_cached_where_torch_hub_puts_it_under_its_hash_named_file(torch_home):
    assert pretrained.weights_path() == torch_home / "hub/checkpoints/resnet18-f37072fd.pth"
    assert not pretrained.downloaded()


def test_offline_the_download_says_so_in_one_sentence_and_leaves_nothing(torch_home, monkeypatch):
    def offline(*_args, **_kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(pretrained.PretrainedUnavailable) as err:
        pretrained.download()
    assert str(err.value) == (
        "The ImageNet weights cannot be downloaded here (download.pytorch.org is not reachable "
        "from this server): the networks trained on this server's datasets still work."
    )
    assert not pretrained.downloaded()


def test_a_file_that_fails_torchvisions_checksum_is_refused(torch_home, monkeypatch):
    seen = {}

    def wrong_file(url, dst, hash_prefix, progress):
        seen.update(url=url, prefix=hash_prefix)
        raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "0000")')

    monkeypatch.setattr(torch.hub, "download_url_to_file", wrong_file)
    with pytest.raises(pretrained.PretrainedUnavailable, match="did not match torchvision's"):
        pretrained.download()
    assert seen == {"url": pretrained.WEIGHTS.url, "prefix": "f37072fd"}  # the name's digits


def test_a_cached_file_is_loaded_without_a_download(torch_home, monkeypatch):
    state = fake_weights(pretrained.weights_path())
    monkeypatch.setattr(torch.hub, "download_url_to_file", None)  # any call would fail
    assert pretrained.download() == pretrained.weights_path()
    net = pretrained.load()
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert torch.equal(net.conv1.weight, state["conv1.weight"])
    assert sum(p.numel() for p in net.parameters()) == pretrained.parameter_count() == 11_689_512


@pytest.mark.parametrize(
    "damage, sentence",
    [
        (lambda s: s.pop("fc.bias"), "1 tensors missing, 0 unknown, 0 of the wrong shape"),
        (lambda s: s.update(extra=torch.zeros(1)), "0 tensors missing, 1 unknown"),
        (lambda s: s.update({"fc.bias": torch.zeros(10)}), "1 of the wrong shape (first: fc.bias)"),
        (lambda s: s["layer1.0.conv1.weight"].view(-1)[7].fill_(torch.nan), "not finite numbers"),
    ],
)
def test_the_check_refuses_what_is_not_resnet18s_weights(damage, sentence):
    torch.manual_seed(0)
    state = resnet18().state_dict()
    pretrained.check(state)  # the real shapes pass
    damage(state)
    with pytest.raises(pretrained.PretrainedUnavailable, match=re.escape(sentence)):
        pretrained.check(state)


def test_a_damaged_cached_file_gets_one_sentence(torch_home):
    path = pretrained.weights_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 half a file")
    with pytest.raises(pretrained.PretrainedUnavailable, match="is damaged and could not be read"):
        pretrained.load()


def test_the_photos_are_prepared_as_imagenet_was_and_turn_back_into_colours():
    x = pretrained.photo("china.jpg")
    assert x.shape == (3, 224, 224)
    colours = pretrained.pixels(x)
    assert colours.min() >= 0 and colours.max() <= 1
    mean, std = (np.array(v)[:, None, None] for v in ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]))
    assert np.allclose((colours - mean) / std, x.numpy(), atol=1e-5)  # nothing was clipped here
    with pytest.raises(ValueError, match="photo must be one of china.jpg, flower.jpg"):
        pretrained.photo("../etc/passwd")


def test_top_classes_are_the_largest_probabilities_by_name():
    torch.manual_seed(0)
    net = resnet18().eval()
    x = pretrained.photo("flower.jpg")
    ranked = pretrained.top(net, x)
    probs = torch.softmax(net(x[None]), 1)[0].detach()
    assert [i for i, _, _ in ranked] == probs.argsort(descending=True)[:5].tolist()
    assert [name for _, name, _ in ranked][0] == pretrained.WEIGHTS.meta["categories"][ranked[0][0]]
    assert [p for *_, p in ranked] == pytest.approx(probs.sort(descending=True).values[:5].tolist())


def test_the_initial_filters_are_drawn_as_torchvision_draws_them():
    w = pretrained.first_conv_at_init()
    assert w.shape == (64, 3, 7, 7)
    assert w.std() == pytest.approx((2 / (64 * 7 * 7)) ** 0.5, rel=0.03)  # He normal, fan-out
    assert np.array_equal(w, pretrained.first_conv_at_init())  # seeded
