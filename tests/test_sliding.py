"""The sliding kernel: each shown window's arithmetic against torch's convolution, the output
size formula against the shapes torch produces, and colour channels adding up."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from resviz import lesson_convolutions, sliding


def _torch_conv(image: np.ndarray, kernel: np.ndarray, stride: int, padding: int) -> np.ndarray:
    x = torch.tensor(image, dtype=torch.float32)[None, None]
    w = torch.tensor(kernel, dtype=torch.float32)[None, None]
    return F.conv2d(x, w, stride=stride, padding=padding)[0, 0].numpy()


@pytest.mark.parametrize("stride", sliding.STRIDES)
@pytest.mark.parametrize("padding", sliding.PADDINGS)
def test_every_window_s_sum_is_torch_s_output_pixel(stride, padding):
    rng = np.random.default_rng(stride * 10 + padding)
    image, kernel = rng.random((9, 11)), rng.normal(size=(3, 3))
    want = _torch_conv(image, kernel, stride, padding)
    s = sliding.slide(image, kernel, stride, padding)
    assert s.output.shape == want.shape == s.geometry.out
    for row in range(want.shape[0]):
        for col in range(want.shape[1]):
            w = sliding.window(s, row, col)
            assert w.products == pytest.approx(w.patch * kernel, abs=1e-6)
            assert w.total == pytest.approx(want[row, col], abs=1e-5)


def test_the_window_moves_by_the_stride_and_sees_the_padding_s_zeros():
    image = np.ones((8, 8), np.float32)
    s = sliding.slide(image, np.ones((3, 3)), stride=2, padding=1)
    corner = sliding.window(s, 0, 0)
    assert (corner.top, corner.left) == (0, 0)
    assert corner.patch[0].tolist() == [0, 0, 0] and corner.patch[:, 0].tolist() == [0, 0, 0]
    assert corner.total == pytest.approx(4)  # 2x2 of the image's ones inside the zero ring
    inner = sliding.window(s, 1, 2)
    assert (inner.top, inner.left) == (2, 4) and inner.total == pytest.approx(9)


@pytest.mark.parametrize("n", [8, 13, 28, 32])
@pytest.mark.parametrize("kernel", [1, 3, 5])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_output_size_formula_is_the_shape_torch_produces(n, kernel, stride, padding):
    out = _torch_conv(np.zeros((n, n + 3)), np.zeros((kernel, kernel)), stride, padding)
    g = sliding.Geometry(n, n + 3, kernel, stride, padding)
    assert g.out == out.shape
    text = g.formula(n)
    assert text == f"⌊({n} + 2×{padding} − {kernel}) / {stride}⌋ + 1 = {out.shape[0]}"


def test_a_kernel_larger_than_the_padded_image_is_refused_in_one_sentence():
    with pytest.raises(ValueError, match="does not fit in a 2x2 image with padding 0"):
        sliding.Geometry(2, 2, kernel=3)
    s = sliding.slide(np.zeros((5, 5)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="output is 3x3; row 3, column 0 is outside"):
        sliding.window(s, 3, 0)


def test_the_arithmetic_written_out_adds_up_to_the_output_pixel():
    rng = np.random.default_rng(1)
    image, kernel = (
        rng.random((6, 6)).round(2),
        np.array(lesson_convolutions.PRESETS["Sobel x (vertical edges)"]),
    )
    s = sliding.slide(image, kernel)
    w = sliding.window(s, 2, 1)
    text = w.arithmetic(s.kernel).replace("−", "-")
    terms = re.findall(r"(-?[\d.]+)×\(?(-?[\d.]+)\)?", text)
    assert len(terms) == 9
    shown = float(re.search(r"\*\*(-?[\d.]+)\*\*", text).group(1))
    assert sum(float(a) * float(b) for a, b in terms) == pytest.approx(shown, abs=1e-3)
    assert shown == pytest.approx(_torch_conv(image, kernel, 1, 0)[2, 1], abs=5e-4)


def test_the_output_fills_in_row_by_row():
    s = sliding.slide(np.random.default_rng(2).random((7, 7)), np.ones((3, 3)))
    part = sliding.filled(s, 1, 2)  # 5x5 output: row 0 and three pixels of row 1 are done
    assert np.isfinite(part).sum() == 5 + 3
    assert part[:1] == pytest.approx(s.output[:1]) and part[1, :3] == pytest.approx(s.output[1, :3])
    assert np.isnan(part[1, 3:]).all() and np.isnan(part[2:]).all()


def test_strongest_finds_the_largest_response_of_either_sign():
    out = np.zeros((4, 5))
    out[2, 3], out[1, 1] = -7, 5
    assert sliding.strongest(out) == (2, 3)


def test_colour_channels_each_convolved_add_up_to_a_three_channel_convolution():
    image = sliding.colour_photo("china.jpg")
    assert image.shape[0] == 3 and max(image.shape[1:]) == sliding.RGB_SIDE
    assert 0 <= image.min() and image.max() <= 1 and not np.allclose(image[0], image[2])
    kernels = np.array(
        [lesson_convolutions.PRESETS[n] for n in list(lesson_convolutions.PRESETS)[:3]]
    )
    c = sliding.colour_conv(image, kernels)
    x = torch.tensor(image)[None]  # (1, 3, H, W)
    w = torch.tensor(kernels, dtype=torch.float32)[None]  # one output channel: (1, 3, 3, 3)
    assert c.output == pytest.approx(F.conv2d(x, w)[0, 0].numpy(), abs=1e-5)
    for ch in range(3):
        assert c.per_channel[ch] == pytest.approx(
            _torch_conv(image[ch], kernels[ch], 1, 0), abs=1e-5
        )
    row, col = sliding.strongest(c.output)
    text = sliding.colour_sum(c, row, col).replace("−", "-")
    *parts, total = (float(v) for v in re.findall(r"-?\d+\.\d+", text))
    assert parts == pytest.approx(c.per_channel[:, row, col].tolist(), abs=5e-4)
    assert total == pytest.approx(float(c.output[row, col]), abs=5e-4)
