"""Attributions: integrated gradients' completeness, saliency and occlusion of a network that
reads one pixel, Grad-CAM's shape, and uploads turned into the network's input."""

import numpy as np
import pytest
import torch
from torch import nn

from resviz import attribution, uploads
from resviz.data import Dataset, DatasetInfo
from tests.helpers import trained_like

PIXEL = (0, 5, 7)  # channel, row, column the hand-built network reads


def _one_pixel_reader() -> nn.Module:
    """Class 1's score is 3 * relu(pixel); class 0's is constant: only that pixel matters."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 2), nn.ReLU(), nn.Linear(2, 2))
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net[1].weight.view(2, 3, 16, 16)[1][PIXEL] = 1.0
        net[3].weight[1, 1] = 3.0
        net[3].bias[0] = 1.0
    return net


def _image() -> torch.Tensor:
    x = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(2))
    x[PIXEL] = 2.0  # the read pixel is lit, so the ReLU passes its gradient
    return x


@pytest.mark.parametrize("target", [0, 3, 7])
def test_integrated_gradients_add_up_to_the_change_in_the_score(target):
    # Completeness (Sundararajan et al. 2017, Prop. 1): sum of attributions = F(x) - F(baseline).
    # The integral is exact; its 128-point Gauss-Legendre estimate through ReLU kinks is not:
    # measured error 0.015-0.13% of the change here, so the tolerance is 0.5% (plus 1e-6).
    net = trained_like().eval().double()
    x = torch.randn(3, 32, 32, generator=torch.Generator().manual_seed(target), dtype=torch.float64)
    with torch.no_grad():
        scores = net(torch.stack([x, torch.zeros_like(x)]))[:, target]
    change = (scores[0] - scores[1]).item()
    total = attribution.attribute(
        trained_like(), x, target, "integrated gradients", steps=128
    ).sum()
    assert total == pytest.approx(change, rel=0.005, abs=1e-6)


def test_saliency_of_a_one_pixel_reader_is_that_pixel():
    sal = attribution.attribute(_one_pixel_reader(), _image(), 1, "saliency")
    assert sal.shape == (16, 16) and np.unravel_index(sal.argmax(), sal.shape) == PIXEL[1:]
    assert sal[PIXEL[1:]] == pytest.approx(3.0) and np.count_nonzero(sal) == 1


def test_occlusion_of_a_one_pixel_reader_lights_only_windows_over_that_pixel():
    occ = attribution.attribute(_one_pixel_reader(), _image(), 1, "occlusion", window=4)
    rows, cols = np.nonzero(occ)
    assert occ.max() == pytest.approx(3 * 2.0)  # hiding the pixel removes its whole score
    assert (np.abs(rows - PIXEL[1]) < 4).all() and (np.abs(cols - PIXEL[2]) < 4).all()
    assert occ[PIXEL[1:]] == occ.max()


def test_grad_cam_covers_the_image_and_drops_negative_evidence():
    net, x = trained_like(), torch.randn(3, 32, 32, generator=torch.Generator().manual_seed(4))
    cam = attribution.attribute(net, x, 2, "Grad-CAM")
    assert cam.shape == (32, 32) and cam.min() >= 0
    with pytest.raises(ValueError, match="Grad-CAM needs a layer"):
        attribution.attribute(_one_pixel_reader(), _image(), 1, "Grad-CAM")
    with pytest.raises(ValueError, match="method must be one of"):
        attribution.attribute(net, x, 2, "deep dream")


def test_predictions_are_probabilities():
    p = attribution.predict(trained_like(), torch.randn(3, 32, 32))
    assert p.shape == (10,) and p.sum() == pytest.approx(1.0, abs=1e-6) and (p >= 0).all()


def _data(channels: int) -> Dataset:
    info = DatasetInfo("toy", "toy", channels, 28, 10, True, False, 0)
    empty = torch.zeros(0)
    return Dataset(
        info, empty, empty, empty, empty, tuple("0123456789"), (0.2,) * channels, (0.4,) * channels
    )


def test_an_upload_becomes_the_networks_input_without_being_stretched():
    wide = np.ones((20, 60), np.float32)  # white, three times wider than tall
    wide[:, 28:32] = 0.0  # a black bar down the middle
    x = uploads.prepare_upload(wide, _data(1))
    assert x.shape == (1, 28, 28)
    pixels = x * 0.4 + 0.2  # undo the normalisation
    assert pixels.min() >= 0 and pixels.max() <= 1 + 1e-6
    assert pixels[0, 0].min() == pytest.approx(1.0)  # padded above with the white border
    middle = pixels[0, 14]
    assert middle.argmin() in (13, 14) and middle.min() < 0.6  # the bar stays thin and centred
    inverted = uploads.prepare_upload(wide, _data(3), invert=True)
    assert inverted.shape == (3, 28, 28) and torch.equal(inverted[0], inverted[2])
    assert (inverted[0, 0] * 0.4 + 0.2).max() == pytest.approx(0.0, abs=1e-6)  # white -> black


def test_a_digits_polarity_is_read_from_its_border_and_a_colour_upload_keeps_its_colours():
    digit = np.zeros((28, 28), np.float32)
    digit[6:22, 12:16] = 1.0  # a light "1" on black, as MNIST draws it
    assert not uploads.dark_ink(digit) and uploads.dark_ink(1 - digit)  # ink on paper
    photo = np.zeros((28, 28, 3), np.float32)
    photo[..., 0], photo[8:20, 8:20, 2] = 0.9, 0.8  # a blue square on red
    pixels = uploads.prepare_upload(photo, _data(3)) * 0.4 + 0.2  # undo the normalisation
    assert pixels[0, 0, 0] == pytest.approx(0.9, abs=1e-5) and pixels[2, 0, 0] < 1e-5
    assert pixels[2, 14, 14] == pytest.approx(0.8, abs=1e-5)  # the colours, not their grey
    grey = uploads.prepare_upload(photo, _data(1)) * 0.4 + 0.2
    assert grey.shape == (1, 28, 28) and grey[0, 0, 0] == pytest.approx(0.3, abs=1e-5)
