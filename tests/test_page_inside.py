"""The Inside-the-network page under AppTest: the preset trained on demand, a run from the Train
page, what each control changes, and uploads."""
import base64
import io
import time

import numpy as np
import pytest
import torch
from PIL import Image

from resviz import data as datasets
from resviz import features
from resviz.plots import inside
from resviz.runs import load_weights
from resviz.runtime import fast_precision
from tests.helpers import figures, plotly_array

PAGE = "pages/inside.py"
SECTIONS = ["inside_filters", "inside_maps", "inside_channels", "inside_probes", "inside_attr"]


def _png(trace: dict) -> np.ndarray:
    """The pixels of a go.Image trace sent as a PNG data URI: (H, W, 3) uint8."""
    data = base64.b64decode(trace["source"].split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture
def preset_page(open_page):
    """The page with the Shapes preset trained for 10 steps (once per test process)."""
    at = open_page(PAGE)
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


def test_without_a_trained_network_it_offers_to_train_the_preset(open_page):
    at = open_page(PAGE)
    assert "is not trained on shapes yet" in at.info[0].value
    assert at.button(key="inside_train").label == "Train it now"
    assert not at.get("plotly_chart")


def test_the_preset_shows_filters_maps_channels_probes_and_attributions(preset_page):
    at, figs = preset_page, figures(preset_page)
    assert list(figs) == SECTIONS
    before, after = (_png(t) for t in figs["inside_filters"]["data"])
    assert before.shape == after.shape and not np.array_equal(before, after)  # training moved them
    assert any("edge fit" in a["text"] for a in figs["inside_filters"]["layout"]["annotations"])
    # The drawn maps are the network's: the same 10 seeded steps, retrained here, give them.
    data = datasets.load("shapes")
    # the page trains in the precision the app chose for this machine (bf16 where supported)
    net_cfg, cfg = features.preset(data.info, steps=10, precision=fast_precision(torch.device("cpu")))
    net = features.from_state(net_cfg, features.train_weights(net_cfg, cfg, data))
    want = features.feature_maps(net, data.x_val[0], "stem")  # (8, 32, 32)
    drawn = plotly_array(figs["inside_maps"]["data"][0]["z"])
    assert drawn.shape == (32, 8 * 33 - 1)
    assert drawn[:, 33:65] == pytest.approx(want[1], abs=1e-4)  # channel 2, after a gap column
    bars = figs["inside_probes"]["data"]
    assert [b["name"] for b in bars] == ["after training", "at initialisation", "chance (10%)"]
    assert len(bars[0]["x"]) == 10 and "late" in bars[0]["x"][-1]
    assert any("A linear probe reads the class" in m.value for m in at.markdown)


def test_each_control_changes_its_own_figure(preset_page):
    at = preset_page
    at.number_input(key="inside_am_steps").set_value(8).run()
    first = figures(at)
    at.selectbox(key="inside_map_layer").set_value("stage3.block3").run()
    at.radio(key="inside_depth").set_value("late").run()
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


def test_a_bad_upload_gets_one_sentence_and_a_good_one_is_explained(preset_page):
    at = preset_page
    at.radio(key="inside_attr_source").set_value("Upload").run()
    at.file_uploader(key="inside_upload").set_value(("notes.png", b"not a picture", "image/png"))
    at.run()
    assert not at.exception, at.exception
    assert [w.value for w in at.warning] == ["This file is not an image in a supported format "
                                             "(PNG, JPEG, GIF, BMP, WEBP). Showing a validation "
                                             "image instead."]
    buf = io.BytesIO()
    Image.new("L", (48, 40), 255).save(buf, "PNG")
    at.file_uploader(key="inside_upload").set_value(("white.png", buf.getvalue(), "image/png"))
    at.run()
    assert not at.warning and not at.exception
    assert any("true class: **unknown (your image, read in grey)**" in m.value
               for m in at.markdown)


def test_a_run_from_the_train_page_is_analysed(open_page, train_custom):
    at = train_custom(open_page("pages/train.py"))
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="inside_net").value == ("run", 0)
    figs = figures(at)
    assert list(figs) == SECTIONS
    run, path = at.session_state["work"].trained()[0]  # the drawn kernels are the run's own
    net = features.from_state(run.net, load_weights(path))
    after = features.first_layer_filters(net)
    drawn = figs["inside_filters"]["data"][1]["source"]
    assert after.shape == (4, 1, 3, 3)
    assert drawn == inside.filters(after, after, ("", "")).data[1].source
    assert len(figs["inside_probes"]["data"][0]["x"]) == 4  # stem and three blocks of ResNet-8
