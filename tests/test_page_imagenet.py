"""The Inside page's ImageNet ResNet-18 under AppTest, offline both ways: a download that
cannot happen gets one sentence and the rest of the page works; weights already in torch hub's
cache (a seeded fake of ResNet-18's shapes, never the real file) show their filters, top-5
classes, feature maps and attributions on scikit-learn's photos."""

from urllib.error import URLError

import pytest
import torch
from torchvision.models import resnet18

from resviz import features, pretrained
from resviz.plots import inside
from resviz.ui import imagenet_view
from tests.helpers import INSIDE, INSIDE_SECTIONS, figures, filter_images, plotly_array

# On the worker that renders the Inside page for its other tests: a first render costs seconds.
pytestmark = pytest.mark.xdist_group("inside")

TABBY = pretrained.WEIGHTS.meta["categories"].index("tabby")


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty torch hub cache, and no network loaded or download failure remembered."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    imagenet_view._network.clear()
    imagenet_view._failure.clear()
    yield tmp_path / "torch"
    imagenet_view._network.clear()
    imagenet_view._failure.clear()


def _imagenet(at):
    return at.selectbox(key="inside_net").set_value(("imagenet", 0)).run()


def test_offline_the_download_gets_one_sentence_and_the_page_still_works(
    open_page, torch_home, monkeypatch
):
    def offline(*_args, **_kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    at = _imagenet(open_page(INSIDE))
    assert at.selectbox(key="inside_net").options[-1] == (
        "ResNet-18 trained on ImageNet (torchvision): downloaded on request"
    )
    assert "11,689,512 weights, 45 MB to download from download.pytorch.org" in at.info[0].value
    assert "69.8% top-1 accuracy" in at.info[0].value  # torchvision's own figure, from its meta
    assert not at.warning and not at.get("plotly_chart")  # nothing fetched before the click
    at.button(key="inside_imagenet_download").click().run()
    assert not at.exception, at.exception
    sentence = (
        "The ImageNet weights cannot be downloaded here (download.pytorch.org is not reachable "
        "from this server): the networks trained on this server's datasets still work."
    )
    assert [w.value for w in at.warning] == [sentence]
    at.run()  # the next visitor within the minute: the sentence, and no button to press again
    assert [w.value for w in at.warning] == [sentence]
    assert at.button(key="inside_imagenet_download").disabled
    at.selectbox(key="inside_net").set_value(("shipped", 0)).run()
    assert list(figures(at)) == INSIDE_SECTIONS and not at.warning and not at.exception


def _tabby_first() -> dict[str, torch.Tensor]:
    """ResNet-18's shapes, seeded; every photo: tabby first, then the classes 0, 1, 2, 3."""
    torch.manual_seed(0)
    state = resnet18().state_dict()
    state["fc.weight"].zero_()
    state["fc.bias"].zero_()
    state["fc.bias"][[TABBY, 0, 1, 2, 3]] = torch.tensor([6.0, 5.0, 4.0, 3.0, 2.0])
    return state


def test_the_button_downloads_once_and_the_network_is_shown(open_page, torch_home, monkeypatch):
    asked = []

    def download(url, dst, hash_prefix, progress):  # a reachable host, served from here
        asked.append((url, hash_prefix))
        torch.save(_tabby_first(), dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    at = _imagenet(open_page(INSIDE))
    at.button(key="inside_imagenet_download").click().run()
    assert not at.exception and not at.warning, (at.exception, at.warning)
    assert asked == [(pretrained.WEIGHTS.url, "f37072fd")]
    assert any("1. tabby" in m.value for m in at.markdown)
    at.radio(key="inside_imagenet_photo").set_value("flower.jpg").run()
    assert not at.button and len(asked) == 1  # cached now: no second download


def test_cached_weights_show_their_filters_predictions_maps_and_attributions(open_page, torch_home):
    state = _tabby_first()
    pretrained.weights_path().parent.mkdir(parents=True)
    torch.save(state, pretrained.weights_path())

    at = _imagenet(open_page(INSIDE))
    assert not at.exception, at.exception
    assert not at.button and not at.warning  # cached: no download offered
    assert (
        at.selectbox(key="inside_net").options[-1] == "ResNet-18 trained on ImageNet (torchvision)"
    )
    probs = torch.softmax(state["fc.bias"], 0)
    names = pretrained.WEIGHTS.meta["categories"]
    ranked = "\n".join(
        f"{n}. {names[i]} ({probs[i]:.1%})" for n, i in enumerate([TABBY, 0, 1, 2, 3], 1)
    )
    assert any(m.value.endswith(ranked) for m in at.markdown)
    before, after = pretrained.first_conv_at_init(), state["conv1.weight"].numpy()
    assert filter_images(at) == [inside.png(inside.filter_grid(w, 300)) for w in (before, after)]
    assert any("one 7x7 kernel of the first layer (64 in all)" in c.value for c in at.caption)

    figs = figures(at)
    assert list(figs) == ["inside_imagenet_maps", "inside_imagenet_attr"]
    net = pretrained.load()
    maps = features.feature_maps(net, pretrained.photo("china.jpg"), "layer1")  # (64, 56, 56)
    strongest = int(maps.mean((1, 2)).argmax())
    drawn = plotly_array(figs["inside_imagenet_maps"]["data"][0]["z"])
    assert drawn[:56, :56] == pytest.approx(maps[strongest], abs=1e-4)  # the first tile
    assert any("16 of layer1's 64 channels (56x56 each)" in c.value for c in at.caption)
    assert f"Grad-CAM for **tabby** ({probs[TABBY]:.1%})" in [m.value for m in at.markdown]
    cam = plotly_array(figs["inside_imagenet_attr"]["data"][-1]["z"])
    assert cam.shape == (224, 224) and cam.min() >= 0  # Grad-CAM drops the negative part
