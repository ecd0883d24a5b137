"""The dataset registry: offline sets, torchvision loaders on fake files, and augmentation."""

import os
import pickle
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision.datasets

from resviz import data
from resviz.synthetic import SCENE_FILLS

OFFLINE = ("mnist-5k", "shapes", "scenes")
DOWNLOADED = ("mnist", "fashion-mnist", "cifar10")


# --- fake torchvision files, written in the formats torchvision reads -------------------------


def write_idx(path, array: np.ndarray) -> None:
    """An uncompressed idx-ubyte file: magic 0x0000080N (uint8, N dims), big-endian sizes, bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = np.array([0x800 + array.ndim, *array.shape], ">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def fake_mnist(root, folder="MNIST", n_train=30, n_test=10):
    """Random digits, except image 0 of each split: one bright pixel at row 3, column 5."""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        images[0] = 0
        images[0, 3, 5] = 255
        write_idx(root / folder / "raw" / f"{prefix}-images-idx3-ubyte", images)
        write_idx(root / folder / "raw" / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)


def fake_cifar(root, per_batch=4):
    """Six pickled batches in CIFAR's row layout (N, 3072) = (N, C*H*W); image 0 is pure red."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        rows = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        rows[0] = np.repeat(np.uint8([255, 0, 0]), 1024)
        batch = {"data": rows, "labels": list(np.arange(per_batch) % 10)}
        (folder / name).write_bytes(pickle.dumps(batch))
    names = "airplane automobile bird cat deer dog frog horse ship truck".split()
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))


@pytest.fixture
def no_md5(monkeypatch):
    # CIFAR10 checks every file's md5 against the real download; fake files only need to exist.
    monkeypatch.setattr(
        torchvision.datasets.cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path)
    )


def assert_one_learner_sentence(message: str) -> None:
    assert message.endswith(".") and ". " not in message
    assert "mnist-5k" in message and "shapes" in message
    assert "Traceback" not in message and "http" not in message


# --- registry ---------------------------------------------------------------------------------


def test_registry_describes_every_dataset():
    assert list(data.DATASETS) == [
        "mnist-5k",
        "shapes",
        "scenes",
        "mnist",
        "fashion-mnist",
        "cifar10",
    ]
    assert all(data.info(n).offline for n in OFFLINE)
    assert not any(data.info(n).offline for n in DOWNLOADED)
    assert not data.info("mnist-5k").flip and not data.info("mnist").flip
    assert data.info("shapes").flip and data.info("cifar10").flip and data.info("scenes").flip
    assert data.info("scenes").num_classes == len(data.SCENE_CLASSES) == 30
    # the validation splits' sizes (a validation error's noise), known without loading them:
    # the loaded splits' below, and the 10,000 test images of MNIST, Fashion-MNIST and CIFAR-10
    sizes = [1000, data.SHAPES_VAL, data.SCENES_VAL, 10_000, 10_000, 10_000]
    assert [d.val_images for d in data.DATASETS.values()] == sizes


def test_unknown_name_lists_the_choices():
    with pytest.raises(
        ValueError,
        match="unknown dataset 'foo'; choose one of: mnist-5k, shapes, "
        "scenes, mnist, fashion-mnist, cifar10",
    ):
        data.load("foo")


def test_default_root_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RESVIZ_DATA", str(tmp_path))
    assert data.default_root() == tmp_path
    monkeypatch.delenv("RESVIZ_DATA")
    assert data.default_root().parts[-2:] == (".cache", "resviz")


def test_availability_on_empty_and_filled_root(tmp_path, no_md5):
    assert data.availability(tmp_path) == {n: n in OFFLINE for n in data.DATASETS}
    fake_mnist(tmp_path, "FashionMNIST")
    fake_cifar(tmp_path)
    available = data.availability(tmp_path)
    assert available["fashion-mnist"] and available["cifar10"] and not available["mnist"]


# --- mnist-5k -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist5k():
    return data.load("mnist-5k")


def test_mnist5k_shapes_and_split(mnist5k):
    d = mnist5k
    assert d.x_train.shape == (4000, 1, 28, 28) and d.x_val.shape == (1000, 1, 28, 28)
    assert len(d.y_val) == d.info.val_images
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert d.classes == tuple("0123456789")
    assert torch.bincount(d.y_train).tolist() == [400] * 10  # stratified
    assert torch.bincount(d.y_val).tolist() == [100] * 10
    assert len(set(d.y_train[:20].tolist())) > 3  # shuffled, not sorted by class
    train = {row.numpy().tobytes() for row in d.x_train.flatten(1)}
    assert not any(row.numpy().tobytes() in train for row in d.x_val.flatten(1))


def test_mnist5k_is_normalised_and_split_is_fixed(mnist5k):
    assert abs(mnist5k.x_train.mean().item()) < 1e-4
    assert abs(mnist5k.x_train.std().item() - 1) < 1e-3
    again = data.load("mnist-5k")
    assert torch.equal(again.x_train, mnist5k.x_train) and torch.equal(again.y_val, mnist5k.y_val)
    assert again.x_train is not mnist5k.x_train  # each load hands out its own tensors


def test_mnist5k_digits_are_real(mnist5k):
    raw = mnist5k.images(mnist5k.x_train)
    assert 0.15 < (raw > 0.5 / 255).float().mean().item() < 0.24  # MNIST: ~19% of pixels inked
    means = {c: raw[mnist5k.y_train == c].mean(0)[0] for c in (0, 1)}
    assert means[1][14, 14] > 0.5 > means[0][14, 14] + 0.2  # a one's stroke, a zero's hole
    assert means[1].sum() < 0.6 * means[0].sum()  # ones use far less ink


def test_images_undo_normalisation_and_to_moves(mnist5k):
    raw = mnist5k.images(mnist5k.x_val[:8])
    assert raw.min() >= 0 and raw.max() <= 1 and raw.max() > 0.99
    assert mnist5k.images(mnist5k.x_val[0]).shape == (1, 28, 28)
    moved = mnist5k.to("cpu")
    assert moved.info == mnist5k.info and moved.x_train.device.type == "cpu"


# --- shapes --------------------------------------------------------------------------------------


def test_shapes_are_deterministic_balanced_and_in_range():
    x, y = data.make_shapes(200, seed=1)
    x2, y2 = data.make_shapes(200, seed=1)
    x3, _ = data.make_shapes(200, seed=2)
    assert torch.equal(x, x2) and torch.equal(y, y2) and not torch.equal(x, x3)
    assert x.shape == (200, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.min() >= 0 and x.max() <= 1
    assert len(data.SHAPE_CLASSES) >= 10
    assert torch.bincount(y).tolist() == [20] * len(data.SHAPE_CLASSES)


def test_shapes_class_is_not_in_the_mean_colour():
    def mean_rgb(seed):
        x, y = data.make_shapes(1000, seed)
        return x.mean((2, 3)), y

    f_train, y_train = mean_rgb(0)
    f_test, y_test = mean_rgb(1)
    centroids = torch.stack([f_train[y_train == c].mean(0) for c in range(len(data.SHAPE_CLASSES))])
    accuracy = (torch.cdist(f_test, centroids).argmin(1) == y_test).float().mean().item()
    assert accuracy < 0.3


def test_stripes_run_the_way_their_class_says():
    # Oracle on the pixels: horizontal stripes change along y, vertical stripes along x.
    x, y = data.make_shapes(200, seed=3, difficulty=0.0)
    along_y = (x[:, :, 1:] - x[:, :, :-1]).abs().sum(1).mean((1, 2))  # summed over RGB
    along_x = (x[..., 1:] - x[..., :-1]).abs().sum(1).mean((1, 2))
    horizontal = y == data.SHAPE_CLASSES.index("horizontal stripes")
    vertical = y == data.SHAPE_CLASSES.index("vertical stripes")
    assert (along_y[horizontal] > 1.5 * along_x[horizontal]).all()
    assert (along_x[vertical] > 1.5 * along_y[vertical]).all()


def test_shapes_difficulty_adds_noise():
    def background_roughness(difficulty):
        x, _ = data.make_shapes(100, seed=4, difficulty=difficulty)
        corner = x[:, :, :3, :3]  # mostly background
        return (corner - corner.mean((2, 3), keepdim=True)).abs().mean().item()

    assert background_roughness(1.0) > 2 * background_roughness(0.0)
    with pytest.raises(ValueError, match="difficulty"):
        data.make_shapes(10, seed=0, difficulty=2)


def test_load_shapes():
    d = data.load("shapes")
    assert d.x_train.shape == (6000, 3, 32, 32) and d.x_val.shape == (1000, 3, 32, 32)
    assert len(d.y_val) == d.info.val_images
    assert d.classes == data.SHAPE_CLASSES and len(d.mean) == len(d.std) == 3
    assert torch.allclose(d.x_train.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.equal(d.y_val, data.load("shapes").y_val)


# --- scenes -------------------------------------------------------------------------------------


def test_scenes_are_deterministic_balanced_and_in_range():
    x, y = data.make_scenes(120, seed=1)
    x2, y2 = data.make_scenes(120, seed=1)
    x3, _ = data.make_scenes(120, seed=2)
    assert torch.equal(x, x2) and torch.equal(y, y2) and not torch.equal(x, x3)
    assert x.shape == (120, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.min() >= 0 and x.max() <= 1
    assert torch.bincount(y).tolist() == [4] * 30
    assert data.make_scenes(30, seed=1, size=16)[0].shape == (30, 3, 16, 16)


def test_scene_classes_are_every_outline_with_every_fill():
    assert len(set(data.SCENE_CLASSES)) == 30
    assert data.SCENE_CLASSES[:6] == (
        "circle, solid",
        "circle, horizontal stripes",
        "circle, vertical stripes",
        "circle, checkerboard",
        "circle, dots",
        "ring, solid",
    )
    assert data.SCENE_CLASSES[-1] == "star, dots"


def test_scene_fills_run_the_way_their_class_says():
    # Oracle on the pixels: horizontal stripes change along y, vertical along x; solid fills
    # change least. Distractors, the bar and the noise blur it, so compare class means.
    x, y = data.make_scenes(600, seed=3)
    along_y = (x[:, :, 1:] - x[:, :, :-1]).abs().sum(1).mean((1, 2))
    along_x = (x[..., 1:] - x[..., :-1]).abs().sum(1).mean((1, 2))
    fill = y % len(SCENE_FILLS)
    lean = {f: (along_y - along_x)[fill == i].mean().item() for i, f in enumerate(SCENE_FILLS)}
    roughness = {f: (along_y + along_x)[fill == i].mean().item() for i, f in enumerate(SCENE_FILLS)}
    assert lean["horizontal stripes"] > 0.05 > -0.05 > lean["vertical stripes"]
    assert roughness["solid"] == min(roughness.values())


def test_scenes_class_is_not_in_the_mean_colour():
    def mean_rgb(seed):
        x, y = data.make_scenes(1500, seed)
        return x.mean((2, 3)), y

    f_train, y_train = mean_rgb(0)
    f_test, y_test = mean_rgb(1)
    centroids = torch.stack([f_train[y_train == c].mean(0) for c in range(30)])
    accuracy = (torch.cdist(f_test, centroids).argmin(1) == y_test).float().mean().item()
    assert accuracy < 0.1  # chance is 1/30


def test_load_scenes(monkeypatch):
    monkeypatch.setattr(data, "SCENES_TRAIN", 300)
    monkeypatch.setattr(data, "SCENES_VAL", 60)
    d = data.load("scenes")
    assert d.x_train.shape == (300, 3, 32, 32) and d.x_val.shape == (60, 3, 32, 32)
    assert d.classes == data.SCENE_CLASSES and d.info.num_classes == 30
    assert torch.allclose(d.x_train.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)
    _, y_val = data.make_scenes(60, data.SCENES_SEED + 1)
    assert torch.equal(d.y_val, y_val)


# --- torchvision datasets without internet ----------------------------------------------------


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_family_from_raw_files(tmp_path, name, folder):
    fake_mnist(tmp_path, folder)
    d = data.load(name, root=tmp_path, download=False)
    assert d.x_train.shape == (30, 1, 28, 28) and d.x_val.shape == (10, 1, 28, 28)
    assert d.y_train.dtype == torch.int64 and d.y_val.tolist() == list(range(10))
    first = d.images(d.x_train[0])[0]
    assert first[3, 5] > 0.99 and first.sum() < 1.01  # the one bright pixel landed where it was
    assert len(d.classes) == 10 and (name != "fashion-mnist" or d.classes[0] == "T-shirt/top")


def test_cifar10_from_pickled_batches(tmp_path, no_md5):
    fake_cifar(tmp_path)
    d = data.load("cifar10", root=tmp_path, download=False)
    assert d.x_train.shape == (20, 3, 32, 32) and d.x_val.shape == (4, 3, 32, 32)
    assert d.classes[0] == "airplane" and d.y_train.tolist() == [0, 1, 2, 3] * 5
    red = d.images(d.x_train[0])
    assert (red[0] > 0.99).all() and (red[1:] < 0.01).all()  # channels first, not scrambled


@pytest.mark.parametrize("name", DOWNLOADED)
def test_missing_files_without_download(tmp_path, name):
    with pytest.raises(data.DatasetUnavailable) as err:
        data.load(name, root=tmp_path, download=False)
    assert_one_learner_sentence(str(err.value))
    assert "downloading is switched off" in str(err.value)


def test_failed_download_becomes_one_sentence(tmp_path, monkeypatch):
    def offline(self):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", offline)
    with pytest.raises(data.DatasetUnavailable) as err:
        data.load("mnist", root=tmp_path, download=True)
    assert_one_learner_sentence(str(err.value))
    assert "could not be downloaded" in str(err.value) and "no internet" in str(err.value)
    assert err.value.__suppress_context__  # the urllib traceback is not shown


# --- augmentation -------------------------------------------------------------------------------


def crops(image, pad):
    """Oracle: every pad-and-crop of one (C, H, W) image, written with plain loops."""
    c, h, w = image.shape
    padded = torch.zeros(c, h + 2 * pad, w + 2 * pad)
    padded[:, pad : pad + h, pad : pad + w] = image
    shifts = range(2 * pad + 1)
    return [padded[:, dy : dy + h, dx : dx + w] for dy in shifts for dx in shifts]


def match(out, image, pad, flip):
    candidates = crops(image, pad) + (crops(image.flip(-1), pad) if flip else [])
    hits = [i for i, c in enumerate(candidates) if torch.equal(out, c)]
    assert len(hits) == 1
    return hits[0]


def test_augment_matches_loop_oracle():
    x = torch.randn(64, 3, 8, 8)
    for flip in (False, True):
        out = data.augment(x, torch.Generator().manual_seed(0), flip=flip, pad=2)
        assert out.shape == x.shape
        hits = [match(o, i, pad=2, flip=flip) for o, i in zip(out, x)]
        assert len(set(hits)) > 10  # crops really shift the content, by varied amounts
        assert flip == any(h >= 25 for h in hits)  # mirrored only when asked


def test_augment_identity_and_flip_only():
    x = torch.randn(32, 1, 28, 28)
    assert torch.equal(data.augment(x, torch.Generator().manual_seed(0), flip=False, pad=0), x)
    out = data.augment(x, torch.Generator().manual_seed(0), flip=True, pad=0)
    mirrored = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in zip(out, x)])
    kept = torch.tensor([torch.equal(o, i) for o, i in zip(out, x)])
    assert (mirrored ^ kept).all() and 0 < mirrored.sum() < 32


def test_augment_is_deterministic_for_a_seed():
    x = torch.randn(128, 3, 32, 32)
    a, b, c = (data.augment(x, torch.Generator().manual_seed(s), flip=True) for s in (7, 7, 8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError):
        data.augment(x[0], torch.Generator(), flip=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_augment_on_gpu_matches_its_own_seed():
    x = torch.randn(128, 3, 32, 32, device="cuda")
    a, b = (data.augment(x, torch.Generator("cuda").manual_seed(0), flip=True) for _ in range(2))
    assert a.device == x.device and torch.equal(a, b)
    assert match(a[0].cpu(), x[0].cpu(), pad=2, flip=True) >= 0
