"""The Convolutions page under AppTest: what the learner sees, and what the controls change."""

import io
import re

import numpy as np
import pytest
import streamlit as st
import torch
import torch.nn.functional as F
from PIL import Image

from resviz import lesson_convolutions, sliding
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
    want = lesson_convolutions.steps(
        lesson_convolutions.dataset_image(mnist, 0),
        np.array(lesson_convolutions.PRESETS["Sobel x (vertical edges)"]),
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
    assert list(table["type"])[3] == "Conv2d 5x5, 2 groups"
    assert table["parameters"].sum() == count_params(AlexNet()) == 60_965_224  # the 2012 net
    assert any("60,965,224 parameters" in c for c in captions)
    assert any(
        "ImageNet" in m.value and "2012" in m.value and "2 groups" in m.value for m in at.markdown
    )
    assert [t["name"] for t in figures(at)["conv_alexnet_diagram"]["data"]] == [
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
    assert [at.number_input(key=f"conv_kernel_{i}").value for i in range(9)] == [
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
    at.number_input(key="conv_kernel_4").set_value(2.0).run()
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


def _torch_conv(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0):
    x = torch.tensor(image, dtype=torch.float32)[None, None]  # (1, 1, H, W)
    w = torch.tensor(kernel, dtype=torch.float32)[None, None]  # (1, 1, 3, 3)
    return F.conv2d(x, w, stride=stride, padding=padding)[0, 0].numpy()


def _shown_sum(at) -> tuple[int, int, float]:
    """The output pixel the arithmetic line names, and the sum it shows."""
    line = next(m.value for m in at.markdown if m.value.startswith("Output pixel"))
    row, col = map(int, re.search(r"row (\d+), column (\d+)", line).groups())
    return row, col, float(re.search(r"\*\*(−?[\d.]+)\*\*", line).group(1).replace("−", "-"))


def test_the_kernel_slides_and_its_arithmetic_is_the_convolution_s_value(open_page, mnist):
    at = open_page(PAGE)
    image = lesson_convolutions.dataset_image(mnist, 0)
    kernel = np.array(lesson_convolutions.PRESETS["Sobel x (vertical edges)"])
    want = _torch_conv(image, kernel)
    row, col, total = _shown_sum(at)
    # It opens where Sobel x responds most, and the sum written out is torch's value there.
    assert (row, col) == np.unravel_index(np.abs(want).argmax(), want.shape)
    assert total == pytest.approx(want[row, col], abs=5e-4)
    fig = figures(at)["conv_slide_view"]
    assert plotly_array(fig["data"][0]["z"]) == pytest.approx(image, abs=1e-6)
    drawn = plotly_array(fig["data"][1]["z"])
    assert drawn.shape == want.shape and np.isfinite(drawn).sum() == row * 26 + col + 1
    corners = {s["name"]: (s["x0"] + 0.5, s["y0"] + 0.5) for s in fig["layout"]["shapes"]}
    window, pixel = corners["window"], corners["pixel"]
    assert window == pixel == (col, row)  # stride 1, no padding: the patch starts at the pixel

    at.slider(key="conv_slide_row").set_value(5).run()
    at.slider(key="conv_slide_col").set_value(9).run()
    row, col, total = _shown_sum(at)
    assert (row, col) == (5, 9) and total == pytest.approx(want[5, 9], abs=5e-4)
    products = figures(at)["conv_slide_window"]["data"][2]["z"]
    assert plotly_array(products).sum() == pytest.approx(want[5, 9], abs=1e-5)


def test_stride_and_padding_give_the_formula_s_output_size(open_page, mnist):
    at = open_page(PAGE)
    at.select_slider(key="conv_slide_stride").set_value(2).run()
    at.select_slider(key="conv_slide_padding").set_value(1).run()
    image = lesson_convolutions.dataset_image(mnist, 0)
    kernel = np.array(lesson_convolutions.PRESETS["Sobel x (vertical edges)"])
    want = _torch_conv(image, kernel, stride=2, padding=1)
    assert want.shape == (14, 14)
    size = next(m.value for m in at.markdown if m.value.startswith("**Output size**"))
    assert "height ⌊(28 + 2×1 − 3) / 2⌋ + 1 = 14" in size and "output is 14x14" in size
    fig = figures(at)["conv_slide_view"]
    assert plotly_array(fig["data"][0]["z"]).shape == (30, 30)  # the zero ring drawn
    assert plotly_array(fig["data"][1]["z"]).shape == want.shape
    assert at.slider(key="conv_slide_row").max == 13
    row, col, total = _shown_sum(at)
    assert total == pytest.approx(want[row, col], abs=5e-4)


def test_colour_channels_add_up_to_a_three_channel_convolution(open_page):
    at = open_page(PAGE)
    at.selectbox(key="conv_rgb_kernel_blue").set_value("Blur (box)").run()
    image = sliding.colour_photo("china.jpg")  # (3, H, W)
    names = ["Sobel x (vertical edges)", "Sobel y (horizontal edges)", "Blur (box)"]
    weights = torch.tensor([lesson_convolutions.PRESETS[n] for n in names], dtype=torch.float32)
    want = F.conv2d(torch.tensor(image)[None], weights[None])[0, 0].numpy()  # 3 in, 1 out
    fig = figures(at)["conv_rgb_view"]
    assert plotly_array(fig["data"][-1]["z"]) == pytest.approx(want, abs=1e-5)
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles[4:] == [
        "red ⊛ Sobel x",
        "green ⊛ Sobel y",
        "blue ⊛ Blur",
        "sum: the output",
    ]
    line = next(m.value for m in at.markdown if m.value.startswith("At the strongest"))
    row, col = map(int, re.search(r"row (\d+), column (\d+)", line).groups())
    *parts, total = (float(v) for v in re.findall(r"-?\d+\.\d+", line.replace("−", "-")))
    assert total == pytest.approx(want[row, col], abs=5e-4)
    assert sum(parts) == pytest.approx(total, abs=2e-3)


def test_an_edited_kernel_is_no_longer_named_after_its_preset(open_page):
    at = open_page(PAGE)
    at.selectbox(key="conv_preset").set_value("Laplacian (all edges)").run()
    at.number_input(key="conv_kernel_4").set_value(-3.0).run()
    assert at.selectbox(key="conv_preset").value == "Edited by hand"
    assert at.number_input(key="conv_kernel_1").value == 1  # the other weights stay as edited
    at.number_input(key="conv_kernel_4").set_value(-4.0).run()  # the Laplacian's nine weights again
    assert at.selectbox(key="conv_preset").value == "Laplacian (all edges)"
