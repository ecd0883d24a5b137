"""Loss landscapes: filter-normalised directions, the grid's centre, untouched networks, figures."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from resviz import landscape
from resviz.config import NetConfig
from resviz.data import load
from resviz.landscape import Landscape
from resviz.plots import landscape as plots
from resviz.plots.styles import run_style
from tests.helpers import trained_like


@pytest.fixture(scope="module")
def mnist():
    return load("mnist-5k")


def test_each_direction_filter_has_the_norm_of_the_weights_filter():
    net = trained_like(channels=1)
    d = landscape.direction(net, torch.Generator().manual_seed(0))
    assert len(d) == len(list(net.parameters()))
    for w, dw in zip(net.parameters(), d):
        assert dw.shape == w.shape
        if w.dim() == 1:  # biases and batch-norm scales and shifts stay where they are
            assert not dw.any()
        else:
            norms = lambda t: t.flatten(1).norm(dim=1)  # noqa: E731 - one norm per filter
            assert norms(dw) == pytest.approx(norms(w.detach()), rel=1e-5)
            assert not torch.allclose(dw, w)  # rescaled noise, not the weight itself


def test_directions_are_seeded():
    net = trained_like(channels=1)
    a, b, c = (landscape.direction(net, torch.Generator().manual_seed(s)) for s in (0, 0, 1))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0])


def _loss(net, x, y) -> float:
    """The oracle: an explicit eval-mode forward pass of the untouched network."""
    net.eval()
    with torch.no_grad():
        return F.cross_entropy(net(x), y).item()


def test_the_centre_of_the_landscape_is_the_trained_networks_loss(mnist):
    net = trained_like(channels=1)
    x, y = mnist.x_train[:64], mnist.y_train[:64]
    one = landscape.measure(net, mnist, 1, resolution=3, subset=64)
    two = landscape.measure(net, mnist, 2, resolution=3, subset=64)
    assert one.alphas[1] == two.alphas[1] == two.betas[1] == 0.0
    assert one.loss[1] == pytest.approx(_loss(net, x, y), rel=1e-5)
    assert two.loss[1][1] == pytest.approx(_loss(net, x, y), rel=1e-5)
    # Away from the centre the weights really moved.
    assert abs(one.loss[0] - one.loss[1]) > 1e-3


def test_the_1d_slice_is_the_2d_slices_middle_row(mnist):
    net = trained_like(channels=1)
    one = landscape.measure(net, mnist, 1, resolution=3, subset=32, seed=7)
    two = landscape.measure(net, mnist, 2, resolution=3, subset=32, seed=7)
    assert one.loss == pytest.approx(two.loss[1], rel=1e-5)


def test_the_network_is_unchanged_after_a_landscape(mnist):
    net = trained_like(channels=1).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    landscape.measure(net, mnist, 2, resolution=3, subset=32)
    assert net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())


def test_progress_reaches_one_point_by_point(mnist):
    seen = []
    ls = landscape.measure(
        trained_like(channels=1), mnist, 2, resolution=3, subset=16, progress=seen.append
    )
    assert seen == pytest.approx([k / 9 for k in range(1, 10)])
    assert len(ls.loss) == len(ls.betas) == 3 and {len(r) for r in ls.loss} == {3}
    assert ls.net == NetConfig(depth=8, width=4) and ls.label == "ResNet-8"
    assert ls.dataset == "mnist-5k" and ls.subset == 16


def test_a_landscape_survives_a_json_round_trip(tmp_path):
    ls = _landscape(RESNET20, [[0.1, 2.0], [30.0, 4.0]])
    landscape.save(ls, tmp_path / "r.json")
    assert landscape.load(tmp_path / "r.json") == ls and ls.ndim == 2
    inf = _landscape(PLAIN20, [[0.1, math.inf], [1.0, 1.0]])
    landscape.save(inf, tmp_path / "p.json")
    assert json.loads((tmp_path / "p.json").read_text())["loss"][0] == [0.1, None]  # no NaN/inf


def test_bad_grids_say_what_is_allowed(mnist):
    with pytest.raises(ValueError, match="at least 2 points"):
        landscape.measure(trained_like(channels=1), mnist, 1, resolution=1)


PLAIN20, RESNET20 = (NetConfig(depth=20, residual=r, width=8) for r in (False, True))


def _landscape(net: NetConfig, loss: list[list[float]]) -> Landscape:
    axis = tuple(np.linspace(-1, 1, len(loss)).tolist())
    return Landscape(
        net,
        "mnist-5k",
        500,
        0,
        axis,
        axis,
        tuple(map(tuple, loss)),
        tuple(tuple(0.5 for _ in row) for row in loss),
    )


def test_1d_figure_shows_the_losses_and_errors_it_was_given():
    a = Landscape(
        PLAIN20, "mnist-5k", 500, 0, (-1.0, 0.0, 1.0), (), (9.0, 0.2, 7.0), (0.9, 0.05, 0.8)
    )
    b = Landscape(
        RESNET20, "mnist-5k", 500, 0, (-1.0, 0.0, 1.0), (), (3.0, 0.1, 2.0), (0.6, 0.02, 0.5)
    )
    fig = plots.slice_curves([a, b])
    loss, err = [t for t in fig.data if t.xaxis == "x"], [t for t in fig.data if t.xaxis == "x2"]
    assert [t.name for t in loss] == ["plain-20", "ResNet-20"]
    assert [t.line.color for t in loss] == [run_style(n).colour for n in (PLAIN20, RESNET20)]
    assert [list(t.y) for t in loss] == [[9.0, 0.2, 7.0], [3.0, 0.1, 2.0]]
    assert np.array([t.y for t in err]) == pytest.approx(np.array([[90, 5, 80], [60, 2, 50]]))
    assert fig.layout.yaxis.type == "log" and a.ndim == 1


def test_contours_share_one_log_scale_and_keep_the_raw_loss():
    plain = _landscape(PLAIN20, [[500.0, 40.0, 900.0], [30.0, 0.3, 60.0], [2e3, 8.0, 1e4]])
    res = _landscape(RESNET20, [[3.0, 1.0, 4.0], [0.9, 0.1, 1.0], [5.0, 2.0, 6.0]])
    fig = plots.contour_pair([plain, res])
    contours = [t for t in fig.data if t.type == "contour"]
    assert [np.asarray(t.customdata).tolist() for t in contours] == [
        list(map(list, plain.loss)),
        list(map(list, res.loss)),
    ]
    assert np.asarray(contours[0].z) == pytest.approx(np.log10(plain.loss))
    assert {(t.zmin, t.zmax) for t in contours} == {(-1.0, 4.0)}  # 0.1 .. 1e4, on both panels
    assert contours[0].contours.size == 0.25
    assert list(contours[0].colorbar.ticktext) == ["0.1", "1", "10", "100", "1e+03", "1e+04"]
    assert list(contours[1].x) == list(res.alphas) and list(contours[1].y) == list(res.betas)


def test_surfaces_share_one_colour_scale_and_height_range():
    plain = _landscape(PLAIN20, [[50.0, 4.0], [3.0, 0.2]])
    res = _landscape(RESNET20, [[2.0, 1.0], [0.9, 0.1]])
    fig = plots.surface_pair([plain, res])
    assert [t.type for t in fig.data] == ["surface", "surface"]
    assert np.asarray(fig.data[1].z) == pytest.approx(np.log10(res.loss))
    assert {(t.cmin, t.cmax) for t in fig.data} == {(-1.0, 1.75)}
    assert list(fig.data[0].colorbar.ticktext) == [
        "0.1",
        "0.2",
        "0.5",
        "1",
        "2",
        "5",
        "10",
        "20",
        "50",
    ]
    assert list(fig.layout.scene.zaxis.range) == list(fig.layout.scene2.zaxis.range) == [-1, 1.75]


def test_the_shipped_landscapes_name_the_networks_their_manifest_trained():
    folder = Path(landscape.__file__).parent.parent / "assets" / "landscapes"
    loaded = {p.name: landscape.load(p) for p in sorted(folder.glob("*.json"))}
    assert len(loaded) == 8
    for name, ls in loaded.items():
        assert name == f"{ls.label.lower()}_{ls.ndim}d.json"
        assert (ls.net.width, ls.net.batch_norm, ls.dataset) == (8, True, "mnist-5k")
