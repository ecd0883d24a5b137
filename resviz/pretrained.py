"""torchvision's ResNet-18 trained on ImageNet (the paper's 18-layer network, Table 1, as
torchvision trains it): fetched on request into torch hub's cache, checked, read safely; and
scikit-learn's two sample photos prepared as it was trained.

The weights are never shipped: `download()` fetches them where the internet is reachable and
says in one sentence why it cannot where it is not. Nothing here imports streamlit.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlparse

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.models import ResNet, ResNet18_Weights, resnet18

from .lesson_convolutions import SAMPLE_PHOTOS, photo_path

WEIGHTS = ResNet18_Weights.IMAGENET1K_V1
LAYERS = ("layer1", "layer2", "layer3", "layer4")  # the four stages, 56 -> 7 px at 224 px
HOST = urlparse(WEIGHTS.url).netloc


class PretrainedUnavailable(Exception):
    """The weights cannot be had or used here: the one sentence a learner reads."""


def weights_path() -> Path:
    """Where torch hub caches the file: $TORCH_HOME/hub/checkpoints/resnet18-f37072fd.pth."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(WEIGHTS.url).path).name


def downloaded() -> bool:
    return weights_path().is_file()


def download() -> Path:
    """The weights file, fetched once into torch hub's cache.

    As torchvision's `check_hash=True`: the file's SHA-256 must start with the hex digits in its
    name, or it is deleted; it is written under a temporary name and moved into place whole.
    """
    path = weights_path()
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    named = torch.hub.HASH_REGEX.search(path.name)  # torchvision's names end -<prefix>.pth
    if named is None:
        raise ValueError(f"{path.name} carries no hash prefix to check the download against")
    prefix = named.group(1)
    try:
        torch.hub.download_url_to_file(WEIGHTS.url, str(path), prefix, progress=False)
    except (URLError, ConnectionError, TimeoutError) as err:  # no network here
        raise PretrainedUnavailable(
            f"The ImageNet weights cannot be downloaded here ({HOST} is not reachable from "
            "this server): the networks trained on this server's datasets still work."
        ) from err
    except OSError as err:  # a full or read-only disk
        raise PretrainedUnavailable(
            f"The ImageNet weights could not be saved in {path.parent} ({err.strerror})."
        ) from err
    except RuntimeError as err:  # torch hub's "invalid hash value"
        raise PretrainedUnavailable(
            f"The file downloaded from {HOST} did not match torchvision's checksum and was "
            "deleted: try again later."
        ) from err
    return path


@cache
def _shapes() -> dict[str, torch.Size]:
    with torch.device("meta"):  # shapes only: no 11.7M random weights drawn
        return {k: v.shape for k, v in resnet18().state_dict().items()}


def parameter_count() -> int:
    return WEIGHTS.meta["num_params"]


def check(state: object) -> None:
    """Raise PretrainedUnavailable unless `state` is ResNet-18's: every key, shape, finite."""
    want = _shapes()
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PretrainedUnavailable("The weights file does not hold a table of tensors.")
    missing, extra = want.keys() - state.keys(), state.keys() - want.keys()
    wrong = [k for k in want.keys() & state.keys() if state[k].shape != want[k]]
    if missing or extra or wrong:
        first = sorted(missing | extra | set(wrong))[0]
        raise PretrainedUnavailable(
            f"The weights file is not ResNet-18's: {len(missing)} tensors missing, "
            f"{len(extra)} unknown, {len(wrong)} of the wrong shape (first: {first})."
        )
    bad = [k for k, v in state.items() if v.is_floating_point() and not v.isfinite().all()]
    if bad:
        raise PretrainedUnavailable(
            f"The weights file holds values that are not finite numbers ({len(bad)} tensors, "
            f"first: {bad[0]})."
        )


def load() -> ResNet:
    """The downloaded network, checked, in evaluation mode with frozen weights (read with
    `weights_only=True`: tensors only, no code)."""
    path = weights_path()
    if not path.is_file():
        raise PretrainedUnavailable("The ImageNet weights are not downloaded yet.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    # A damaged file raises RuntimeError, OSError, EOFError, zipfile's BadZipFile or the
    # unpickler's own error (pickle is not imported here: nothing else is unpickled).
    except Exception as err:
        raise PretrainedUnavailable(
            f"The cached file {path.name} is damaged and could not be read: delete it from "
            f"{path.parent} to download it again."
        ) from err
    check(state)
    with torch.device("meta"):
        net = resnet18()
    net.load_state_dict(state, assign=True)  # the file's tensors become the weights: no copy
    return net.eval().requires_grad_(False)


def first_conv_at_init(seed: int = 0) -> np.ndarray:
    """conv1's 64 kernels (64, 3, 7, 7) as torchvision draws them before training (He et al.
    2015's normal initialisation, fan-out, as `ResNet.__init__` does), seeded."""
    weight = torch.empty(_shapes()["conv1.weight"])
    nn.init.kaiming_normal_(
        weight,
        mode="fan_out",
        nonlinearity="relu",
        generator=torch.Generator().manual_seed(seed),
    )
    return weight.numpy()


def photo(name: str) -> torch.Tensor:
    """One of scikit-learn's sample photos as the network's input (3, 224, 224): resized to
    256 px on its short side, centre-cropped, normalised with ImageNet's mean and spread."""
    if name not in SAMPLE_PHOTOS:
        raise ValueError(f"photo must be one of {', '.join(SAMPLE_PHOTOS)}, not {name!r}")
    with Image.open(photo_path(name)) as image:
        return WEIGHTS.transforms()(image.convert("RGB"))


def pixels(x: torch.Tensor) -> np.ndarray:
    """A normalised input (3, H, W) back to colours in [0, 1]."""
    prep = WEIGHTS.transforms()
    mean, std = (torch.tensor(v)[:, None, None] for v in (prep.mean, prep.std))
    return (x * std + mean).clamp(0, 1).numpy()


@torch.no_grad()
def top(net: nn.Module, x: torch.Tensor, k: int = 5) -> list[tuple[int, str, float]]:
    """The k most probable ImageNet classes for one input (3, H, W): (index, name, probability).

    `net` is only run, never hooked: it may be shared between sessions."""
    probs = torch.softmax(net(x[None]), 1)[0]
    values, indices = probs.topk(k)
    names = WEIGHTS.meta["categories"]
    return [(int(i), names[i], float(v)) for v, i in zip(values, indices)]
