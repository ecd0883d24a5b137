"""The convolution lesson against hand computations and known facts about its kernels."""

import numpy as np
import pytest
import torch

from resviz import lesson_convolutions, summary
from resviz.data import Dataset, DatasetInfo
from resviz.models import AlexNet, count_params


def _by_hand(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The textbook sliding window: each output is the sum of a 3x3 patch times the kernel."""
    h, w = image.shape
    out = np.zeros((h - 2, w - 2))
    for i in range(h - 2):
        for j in range(w - 2):
            out[i, j] = np.sum(image[i : i + 3, j : j + 3] * kernel)
    return out


def _edge(vertical: bool, size: int = 8) -> np.ndarray:
    img = np.zeros((size, size), np.float32)
    if vertical:
        img[:, size // 2 :] = 1  # dark left, bright right
    else:
        img[size // 2 :, :] = 1  # dark top, bright bottom
    return img


def _kernel(name: str) -> np.ndarray:
    return np.array(lesson_convolutions.PRESETS[name], np.float32)


def test_convolution_matches_a_hand_computed_sliding_window():
    rng = np.random.default_rng(0)
    image, kernel = rng.random((7, 9)), rng.normal(size=(3, 3))
    got = lesson_convolutions.convolve(image, kernel).numpy()
    assert got.shape == (5, 7)
    assert got == pytest.approx(_by_hand(image, kernel), abs=1e-5)


def test_sobel_x_sees_vertical_edges_only():
    sobel_x = _kernel("Sobel x (vertical edges)")
    assert np.abs(lesson_convolutions.convolve(_edge(vertical=True), sobel_x).numpy()).max() == 4
    assert np.abs(lesson_convolutions.convolve(_edge(vertical=False), sobel_x).numpy()).max() == 0


def test_sobel_y_sees_horizontal_edges_only():
    sobel_y = _kernel("Sobel y (horizontal edges)")
    assert np.abs(lesson_convolutions.convolve(_edge(vertical=False), sobel_y).numpy()).max() == 4
    assert np.abs(lesson_convolutions.convolve(_edge(vertical=True), sobel_y).numpy()).max() == 0


def test_identity_returns_the_input_and_blur_keeps_flat_regions():
    image = np.random.default_rng(1).random((10, 12)).astype(np.float32)
    inner = image[1:-1, 1:-1]  # no padding: the border pixels have no full 3x3 patch
    assert lesson_convolutions.convolve(image, _kernel("Identity")).numpy() == pytest.approx(inner)
    flat = np.full((6, 6), 0.7, np.float32)
    assert lesson_convolutions.convolve(flat, _kernel("Blur (box)")).numpy() == pytest.approx(
        0.7, abs=1e-6
    )
    assert lesson_convolutions.convolve(
        flat, _kernel("Laplacian (all edges)")
    ).numpy() == pytest.approx(0)


def test_steps_relu_then_pooling_halve_each_side():
    image = np.random.default_rng(2).random((28, 31)).astype(np.float32)
    kernel = _kernel("Laplacian (all edges)")
    inp, conv, relu, pool = lesson_convolutions.steps(image, kernel)
    assert [s.values.shape for s in (inp, conv, relu, pool)] == [
        (28, 31),
        (26, 29),
        (26, 29),
        (13, 14),
    ]
    assert relu.values == pytest.approx(np.maximum(conv.values, 0))
    assert pool.values[3, 5] == pytest.approx(relu.values[6:8, 10:12].max())
    assert "28x31 -> 26x29" in conv.caption and "no padding" in conv.caption
    assert "26x29 -> 13x14" in pool.caption
    assert conv.signed and not relu.signed and relu.vmax == pool.vmax == relu.values.max()


def test_kernel_note_reads_the_sum():
    assert "sum to 0" in lesson_convolutions.kernel_note(_kernel("Sobel x (vertical edges)"))
    assert "sum to 1" in lesson_convolutions.kernel_note(_kernel("Sharpen"))
    assert "scaled by 2" in lesson_convolutions.kernel_note(2 * _kernel("Identity"))


def _dataset(x: torch.Tensor, mean: tuple, std: tuple) -> Dataset:
    c = x.shape[1]
    info = DatasetInfo("tiny", "tiny", c, x.shape[-1], 2, True, False, len(x))
    y = torch.zeros(len(x), dtype=torch.long)
    return Dataset(info, x, y, x, y, ("a", "b"), mean, std)


def test_dataset_image_undoes_normalisation_and_weights_colours_by_luminance():
    raw = torch.rand(3, 3, 8, 8)  # (N, C, H, W) in [0, 1]
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    normed = (raw - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    got = lesson_convolutions.dataset_image(_dataset(normed, mean, std), 2)
    want = 0.299 * raw[2, 0] + 0.587 * raw[2, 1] + 0.114 * raw[2, 2]
    assert got == pytest.approx(want.numpy(), abs=1e-5)


@pytest.mark.parametrize("name", lesson_convolutions.SAMPLE_PHOTOS)
def test_sample_photos_load_offline_as_small_grayscale(name):
    img = lesson_convolutions.sample_photo(name, max_side=96)
    assert img.ndim == 2 and max(img.shape) == 96
    assert 0 <= img.min() < img.max() <= 1


def test_alexnet_table_is_the_2012_network_with_its_60_965_224_parameters():
    rows = lesson_convolutions.alexnet_layers()
    kinds = [r.kind.split()[0] for r in rows]
    assert kinds.count("Conv2d") == 5 and kinds.count("Linear") == 3
    assert kinds.count("LocalResponseNorm") == 2 and kinds.count("MaxPool2d") == 3
    # Krizhevsky et al. 2012, Fig. 2: 96 maps of 55x55, then 27x27, 13x13 and 6x6 after pooling
    shapes = {r.name: r.out_shape for r in rows}
    assert shapes["conv1"] == (96, 55, 55) and shapes["pool1"] == (96, 27, 27)
    assert shapes["conv5"] == (256, 13, 13) and shapes["pool5"] == (256, 6, 6)
    assert shapes["fc3"] == (1000,)
    assert sum(r.params for r in rows) == count_params(AlexNet()) == 60_965_224
    assert "60,965,224 parameters" in lesson_convolutions.totals_note(rows)
    table = summary.table(rows)
    assert list(table[0]) == ["layer", "type", "output", "parameters", "multiply-adds"]
    conv1 = (96 * (3 * 11 * 11 + 1), 55 * 55 * 96 * 3 * 11 * 11)  # parameters, multiply-adds
    assert tuple(table[0].values()) == ("conv1", "Conv2d 11x11/4", "96×55×55", *conv1)
    # Two groups: each of conv2's 256 kernels sees 48 of conv1's 96 maps.
    conv2 = (256 * (48 * 5 * 5 + 1), 27 * 27 * 256 * 48 * 5 * 5)
    assert tuple(table[3].values()) == ("conv2", "Conv2d 5x5, 2 groups", "256×27×27", *conv2)
