"""The Inside-the-network page under AppTest: the shipped network drawn at once, the preset
trained on demand, a run from the Train page, what each control changes, and uploads."""

import base64
import io
import time

import numpy as np
import pytest
import torch
from PIL import Image

from resviz import data as datasets
from resviz import features, models, shipped
from resviz.config import NetConfig, TrainConfig
from resviz.models import build_seeded
from resviz.plots import inside
from resviz.runs import Run, load_weights
from resviz.runtime import fast_precision
from resviz.ui.inside_pick import ran
from tests.helpers import (
    INSIDE,
    INSIDE_SECTIONS,
    figures,
    filter_images,
    plotly_array,
    trained_state,
)

# One worker renders the Inside page for all its tests: its first render costs seconds.
pytestmark = pytest.mark.xdist_group("inside")


def _own(widgets, name: str):
    """The shown network's own widget `name` (its key carries the network's tag)."""
    (found,) = [w for w in widgets if w.key.startswith(f"{name}@")]
    return found


def _png(trace: dict | str) -> np.ndarray:
    """The pixels of a PNG data URI, or of a go.Image trace sent as one: (H, W, 3) uint8."""
    uri = trace if isinstance(trace, str) else trace["source"]
    data = base64.b64decode(uri.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture
def preset_page(open_page):
    """The page with the Shapes preset trained for 10 steps (once per test process)."""
    at = open_page(INSIDE)
    at.selectbox(key="inside_net").set_value(("preset", "shapes")).run()
    at.number_input(key="inside_steps").set_value(10).run()
    if at.button:  # not trained yet: train it in the queue, as a learner would, and wait
        at.button(key="inside_train").click().run()
        end = time.monotonic() + 120
        while not at.get("plotly_chart"):
            assert time.monotonic() < end, "the preset did not train in 2 minutes"
            time.sleep(0.5)
            at.run()
    assert not at.exception, at.exception
    return at


def test_the_page_opens_on_the_shipped_network_with_every_figure_and_no_click(open_page):
    at = open_page(INSIDE)
    assert at.selectbox(key="inside_net").value == ("shipped", 0)
    figs = figures(at)
    assert list(figs) == INSIDE_SECTIONS and not at.button
    item = shipped.networks()[0]
    state, meta = shipped.load_shipped(item)
    after = features.first_layer_filters(models.from_state(item.net, state))
    before = features.first_layer_filters(build_seeded(item.net, item.train.seed))
    assert filter_images(at) == [inside.png(inside.filter_grid(w, 210)) for w in (before, after)]
    assert any(
        "so it has one best image: where the starts differ (0 of 6 channels)" in c.value
        for c in at.caption
    )  # the 3x3 stem's three starts all reach its one optimum
    steps, error = meta["steps_run"], float(meta["val_error"])
    assert any(
        f"{steps} steps of batch 64" in c.value and f"{error:.1%}" in c.value for c in at.caption
    )


def test_a_damaged_shipped_file_gets_one_sentence_and_the_page_still_works(
    open_page, tmp_path, monkeypatch
):
    good = shipped.networks()[0].path.read_bytes()
    monkeypatch.setattr(shipped, "SHIPPED_DIR", tmp_path)
    (tmp_path / "shapes-resnet20.safetensors").write_bytes(good[: len(good) // 2])
    at = open_page(INSIDE)
    assert [w.value for w in at.warning] == [
        "The shipped network shapes-resnet20.safetensors is damaged and could not be read. "
        "Pick another network above, or train one here."
    ]
    assert not at.get("plotly_chart") and not at.exception
    at.selectbox(key="inside_net").set_value(("preset", "shapes")).run()
    assert "is not trained on shapes yet" in at.info[0].value


def test_runs_are_labelled_with_the_steps_they_ran():
    net, cfg = NetConfig(), TrainConfig(steps=180)
    records = [{"step": s} for s in (1, 2, 57)]
    assert ran(Run(net, cfg, records, status="stopped")) == "stopped at step 57 of 180"
    assert ran(Run(net, cfg, records + [{"step": 180}], status="done")) == "180 steps"
    assert ran(Run(net, cfg, records, status="diverged")) == "diverged at step 57 of 180"


def test_without_a_trained_network_it_offers_to_train_the_preset(open_page):
    at = open_page(INSIDE)
    at.selectbox(key="inside_net").set_value(("preset", "shapes")).run()
    assert "is not trained on shapes yet" in at.info[0].value
    assert at.button(key="inside_train").label == "Train it now"
    assert not at.get("plotly_chart")


@pytest.mark.slow
def test_the_preset_shows_filters_maps_channels_readouts_and_attributions(preset_page):
    at, figs = preset_page, figures(preset_page)
    assert list(figs) == INSIDE_SECTIONS
    before, after = (_png(uri) for uri in filter_images(at))
    assert before.shape == after.shape and not np.array_equal(before, after)  # training moved them
    assert any(m.value.startswith("**after training · edge fit") for m in at.markdown)
    # The drawn maps are the network's: the same 10 seeded steps, retrained here, give them.
    data = datasets.load("shapes")
    # the page trains in the precision the app chose for this machine (bf16 where supported)
    precision = fast_precision(torch.device("cpu"))
    net_cfg, cfg = shipped.preset(data.info, steps=10, precision=precision)
    net = models.from_state(net_cfg, trained_state(net_cfg, cfg, data))
    want = features.feature_maps(net, data.x_val[0], "stem")  # (8, 32, 32)
    drawn = plotly_array(figs["inside_maps"]["data"][0]["z"])
    assert drawn.shape == (32, 8 * 33 - 1)
    assert drawn[:, 33:65] == pytest.approx(want[1], abs=1e-4)  # channel 2, after a gap column
    bars = figs["inside_readouts"]["data"]
    assert [b["name"] for b in bars] == ["after training", "at initialisation", "chance (10%)"]
    assert len(bars[0]["x"]) == 10 and "late" in bars[0]["x"][-1]
    assert any("A linear probe reads the class" in m.value for m in at.markdown)


@pytest.mark.slow
def test_each_control_changes_its_own_figure(preset_page):
    at = preset_page
    at.number_input(key="inside_am_steps").set_value(8).run()
    first = figures(at)
    _own(at.selectbox, "inside_map_layer").set_value("stage3.block3").run()
    _own(at.radio, "inside_depth").set_value("late").run()
    at.radio(key="inside_method").set_value("integrated gradients").run()
    assert not at.exception, at.exception
    now = figures(at)
    maps = plotly_array(now["inside_maps"]["data"][0]["z"])
    assert maps.shape == (4 * 9 - 1, 8 * 9 - 1)  # 32 channels of 8x8 in rows of 8
    early, late = (_png(f["inside_channels"]["data"][0]) for f in (first, now))
    assert early.shape == late.shape and not np.array_equal(early, late)
    assert any("81x81 px" in c.value for c in at.caption)  # late units see the whole image
    saliency, ig = (f["inside_attr"]["data"][-1] for f in (first, now))
    assert saliency["zmin"] == 0 and ig["zmin"] == -ig["zmax"]  # unsigned, then signed
    assert "integrated gradients for" in now["inside_attr"]["layout"]["annotations"][1]["text"]
    assert any("Sundararajan" in c.value for c in at.caption)


def _png_bytes(pixels: np.ndarray) -> bytes:
    """(H, W) or (H, W, 3) in [0, 1] as PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray((pixels * 255).round().astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _upload(at, name: str, content: bytes):
    at.file_uploader(key="inside_upload").set_value((name, content, "image/png"))
    return at.run()


def test_a_bad_upload_gets_one_sentence_and_a_colour_photo_stays_colour(open_page):
    at = open_page(INSIDE)  # the shipped Shapes network: a colour one
    at.radio(key="inside_attr_source").set_value("Upload").run()
    _upload(at, "notes.png", b"not a picture")
    assert not at.exception, at.exception
    assert [w.value for w in at.warning] == [
        "This file is not an image in a supported format "
        "(PNG, JPEG, GIF, BMP, WEBP). Showing a validation "
        "image instead."
    ]
    photo = np.zeros((40, 48, 3))
    photo[..., 0], photo[10:30, 12:36, 2] = 0.9, 0.8  # a blue square on red
    _upload(at, "photo.png", _png_bytes(photo))
    assert not at.warning and not at.exception
    assert any("true class: **unknown (your image, in colour)**" in m.value for m in at.markdown)
    assert not at.checkbox  # nothing to invert, nothing about digits
    drawn = _png(figures(at)["inside_attr"]["data"][0]).astype(float)  # the image, as the net sees
    assert drawn[0, 0, 0] > 200 and drawn[0, 0, 2] < 30  # red border
    assert drawn[16, 16, 2] > 150  # blue middle: still colour


@pytest.mark.parametrize("ink", ["dark", "light"])
def test_a_digits_polarity_is_read_from_its_border(open_page, ink):
    data = datasets.load("mnist-5k")
    three = data.images(data.x_val[data.y_val == 3][0])[0].numpy()  # white on black
    drawn = np.kron(1 - three if ink == "dark" else three, np.ones((3, 3)))  # 84 px
    at = open_page(INSIDE)
    at.radio(key="inside_attr_source").set_value("Upload").run()
    _upload(at, "three.png", _png_bytes(drawn))
    at.selectbox(key="inside_net").set_value(("shipped", 2)).run()  # the digits network
    assert not at.exception, at.exception
    assert _own(at.selectbox, "inside_target").options[4] == "3"  # its classes, not Shapes'

    (box,) = at.checkbox
    assert box.label == "Invert the colours" and box.value == (ink == "dark")
    assert any(f"{ink} marks on a" in c.value for c in at.caption)
    assert any(m.value.startswith("Predicted **3**") for m in at.markdown)


@pytest.mark.slow
def test_a_run_from_the_train_page_is_analysed(open_page, train_custom):
    at = train_custom(open_page("pages/train.py"))
    at.switch_page(INSIDE)
    at.run()
    assert not at.exception, at.exception
    options = at.selectbox(key="inside_net").options
    assert options[0] == "ResNet-20 on Shapes (3x3 first layer): trained in advance"
    assert "Your run: ResNet-8 on mnist-5k, 20 steps" in options
    at.selectbox(key="inside_net").set_value(("run", 0)).run()
    figs = figures(at)
    assert list(figs) == INSIDE_SECTIONS
    run, path = at.session_state["work"].trained()[0]  # the drawn kernels are the run's own
    net = models.from_state(run.net, load_weights(path))
    after = features.first_layer_filters(net)
    assert after.shape == (4, 1, 3, 3)
    assert filter_images(at)[1] == inside.png(inside.filter_grid(after, 210))
    assert len(figs["inside_readouts"]["data"][0]["x"]) == 4  # stem and three blocks of ResNet-8
