"""The Convolutions page under AppTest: what the learner sees, and what the controls change."""

import io

import numpy as np
import pytest
import streamlit as st
from PIL import Image

from resviz import conv_demo
from resviz.data import load
from resviz.models import AlexNet, count_params
from resviz.uploads import MAX_SIDE
from tests.helpers import figures, plotly_array

PAGE = "pages/convolutions.py"


def _maps(at) -> list[np.ndarray]:
    """The four feature maps as drawn: input, convolution, ReLU, max pooling."""
    figs = figures(at)
    return [plotly_array(figs[f"conv_step_{i}"]["data"][0]["z"]) for i in range(4)]


@pytest.fixture(scope="module")
def mnist():
    return load("mnist-5k")


def test_default_shows_a_digit_its_three_stages_and_alexnet(open_page, mnist):
    at = open_page(PAGE)
    inp, conv, relu, pool = _maps(at)
    want = conv_demo.steps(
        conv_demo.dataset_image(mnist, 0), np.array(conv_demo.PRESETS["Sobel x (vertical edges)"])
    )
    for drawn, step in zip((inp, conv, relu, pool), want):
        assert drawn == pytest.approx(step.values, abs=1e-6)
    assert [m.shape for m in (inp, conv, relu, pool)] == [(28, 28), (26, 26), (26, 26), (13, 13)]
    captions = [c.value for c in at.caption]
    assert any("28x28 -> 26x26" in c and "no padding" in c for c in captions)
    assert any("26x26 -> 13x13" in c for c in captions)

    table = at.dataframe[0].value
    assert list(table["layer"]) == [
        "conv1",
        "norm1",
        "pool1",
        "conv2",
        "norm2",
        "pool2",
        "conv3",
        "conv4",
        "conv5",
        "pool5",
        "fc1",
        "fc2",
        "fc3",
    ]
    assert list(table["kind"])[3] == "Conv2d 5x5, 2 groups"
    assert table["parameters"].sum() == count_params(AlexNet()) == 60_965_224  # the 2012 net
    assert any("60,965,224 parameters" in c for c in captions)
    assert any(
        "ImageNet" in m.value and "2012" in m.value and "2 groups" in m.value for m in at.markdown
    )
    assert [t["name"] for t in figures(at)["alexnet_diagram"]["data"]] == [
        "input",
        "convolution",
        "response normalisation",
        "max pooling",
        "fully connected",
    ]


def test_a_preset_fills_the_kernel_and_changes_the_output(open_page):
    at = open_page(PAGE)
    before = _maps(at)[1]
    at.selectbox(key="conv_preset").set_value("Laplacian (all edges)").run()
    assert [at.number_input(key=f"kernel_{i}").value for i in range(9)] == [
        0,
        1,
        0,
        1,
        -4,
        1,
        0,
        1,
        0,
    ]
    after = _maps(at)[1]
    assert not np.allclose(before, after)
    assert any("sum to 0" in c.value for c in at.caption)


def test_editing_one_weight_changes_the_output(open_page):
    at = open_page(PAGE)
    at.selectbox(key="conv_preset").set_value("Identity").run()
    inp, conv, *_ = _maps(at)
    assert conv == pytest.approx(inp[1:-1, 1:-1], abs=1e-6)
    at.number_input(key="kernel_4").set_value(2.0).run()
    inp, conv, *_ = _maps(at)
    assert conv == pytest.approx(2 * inp[1:-1, 1:-1], abs=1e-6)
    assert any("scaled by 2" in c.value for c in at.caption)


def test_sample_photo_is_a_real_image(open_page):
    at = open_page(PAGE)
    at.radio(key="conv_source").set_value("Sample photo").run()
    inp, conv, _, pool = _maps(at)
    assert max(inp.shape) == MAX_SIDE and conv.shape == (inp.shape[0] - 2, inp.shape[1] - 2)
    assert pool.shape == (conv.shape[0] // 2, conv.shape[1] // 2)


def test_classroom_mode_hides_the_upload(open_page):
    at = open_page(PAGE, classroom=True)
    assert "Upload" not in at.radio(key="conv_source").options
    assert len(_maps(at)) == 4


class _FakeUpload:
    def __init__(self, data: bytes):
        self._data = data

    def getvalue(self) -> bytes:
        return self._data


def _upload(monkeypatch, data: bytes) -> None:
    # AppTest cannot drive a file uploader; the page calls st.file_uploader, so stand in for it.
    monkeypatch.setattr(st, "file_uploader", lambda *a, **k: _FakeUpload(data))


def test_a_bad_upload_gets_one_sentence_and_the_page_keeps_working(open_page, monkeypatch):
    _upload(monkeypatch, b"%PDF-1.4 not a picture at all")
    at = open_page(PAGE)
    at.radio(key="conv_source").set_value("Upload").run()
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "This file is not an image in a supported format "
        "(PNG, JPEG, GIF, BMP, WEBP). Showing a dataset "
        "image instead."
    ]
    assert _maps(at)[0].shape == (28, 28) and at.dataframe[0].value["parameters"].sum() > 0


def test_a_good_upload_is_convolved(open_page, monkeypatch):
    img = Image.new("L", (40, 20), 0)
    img.paste(255, (20, 0, 40, 20))  # a vertical edge in the middle
    buf = io.BytesIO()
    img.save(buf, "PNG")
    _upload(monkeypatch, buf.getvalue())
    at = open_page(PAGE)
    at.radio(key="conv_source").set_value("Upload").run()
    inp, conv, *_ = _maps(at)
    assert inp.shape == (20, 40) and not at.warning
    assert np.abs(conv).max(axis=0).argmax() in (18, 19)  # Sobel x fires at the edge columns
