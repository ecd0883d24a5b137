"""The networks the Inside page opens on without a wait: how each is configured and trained
(`python -m scripts.make_inside` trains them), and their weights shipped in assets/inside as
safetensors, read back without pickle and checked against the network they claim to be.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .config import NetConfig, TrainConfig
from .data import DATASETS, DatasetInfo
from .models import build


def preset(
    dataset: DatasetInfo, steps: int = 300, seed: int = 0, precision: str = "fp32"
) -> tuple[NetConfig, TrainConfig]:
    """The network trained on demand when a learner has none: ResNet-20 at width 8 (8, 16, 32
    channels), small enough to train while the learner waits (width 16 errs less, after a longer
    wait). `python -m scripts.make_inside` trains it and writes its time and error to
    assets/inside/MANIFEST.md."""
    return dataset.net(depth=20, width=8), _inside_training(dataset, steps, seed, precision)


def large_kernel(
    dataset: DatasetInfo, steps: int = 1500, seed: int = 0
) -> tuple[NetConfig, TrainConfig]:
    """A network whose first layer sees 7x7 pixels (the ImageNet stem: 7x7 stride 2, then max
    pooling), so its trained kernels are large enough to read as oriented edges and colour
    blobs (Krizhevsky et al. 2012, Fig. 3). ResNet-18 at width 16 (16, 32, 64, 128 channels)."""
    return (
        dataset.net(family="imagenet", depth=18, width=16, small_input=False),
        _inside_training(dataset, steps, seed),
    )


def _inside_training(
    dataset: DatasetInfo, steps: int, seed: int, precision: str = "fp32"
) -> TrainConfig:
    """Batch 64, one evaluation at the end and no probes: nobody plots them."""
    return TrainConfig(
        dataset=dataset.name,
        steps=steps,
        batch_size=64,
        seed=seed,
        eval_every=steps,
        probe_every=steps,
        precision=precision,
    )


SHIPPED_DIR = Path(__file__).resolve().parent.parent / "assets" / "inside"


class ShippedError(ValueError):
    """A shipped network that cannot be used; the message is one sentence for the page."""


@dataclass(frozen=True)
class Shipped:
    """A network trained ahead of time and shipped in assets/inside as safetensors."""

    name: str  # the file's stem
    title: str  # what the network picker says
    net: NetConfig
    train: TrainConfig

    @property
    def path(self) -> Path:
        return SHIPPED_DIR / f"{self.name}.safetensors"


def networks() -> list[Shipped]:
    """The shipped networks, the page's default first: what `scripts.make_inside` writes."""
    shapes, digits = DATASETS["shapes"], DATASETS["mnist-5k"]
    return [
        Shipped("shapes-resnet20", "ResNet-20 on Shapes (3x3 first layer)", *preset(shapes, 300)),
        Shipped("shapes-stem7", "ResNet-18 on Shapes (7x7 first layer)", *large_kernel(shapes)),
        Shipped("digits-resnet20", "ResNet-20 on MNIST-5k digits", *preset(digits, 300)),
    ]


def save_shipped(
    item: Shipped, state: dict[str, torch.Tensor], facts: dict[str, str], path: Path | None = None
) -> None:
    """Weights as safetensors, with the configurations (and `facts`: how the run went) as text
    metadata, so a loader can check the file is the network it expects."""
    state = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    meta = {
        "net": json.dumps(item.net.to_dict()),
        "train": json.dumps(item.train.to_dict()),
        "digest": _digest(state),
        **facts,
    }
    save_file(state, str(path or item.path), meta)


def _digest(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of every tensor's name and bytes: safetensors itself checks only the header."""
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].numpy().tobytes())
    return h.hexdigest()


def load_shipped(
    item: Shipped, path: Path | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The shipped network's state dict and metadata, read without pickle; a missing, corrupt
    or different network raises `ShippedError`."""
    path = path or item.path
    name = f"The shipped network {path.name}"
    if not path.is_file():
        raise ShippedError(f"{name} is missing; python -m scripts.make_inside makes it.")
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError):  # a bad header, or tensors past the end of the file
        raise ShippedError(f"{name} is damaged and could not be read.") from None
    if meta.get("net") != json.dumps(item.net.to_dict()):
        raise ShippedError(
            f"{name} holds another network than {item.net.label} at width {item.net.width}."
        )
    want = {k: v.shape for k, v in build(item.net).state_dict().items()}
    if {k: v.shape for k, v in state.items()} != want:
        raise ShippedError(f"{name} does not have the weights of {item.net.label}.")
    if meta.get("digest") != _digest(state):
        raise ShippedError(f"{name} is damaged: its weights are not the ones it was saved with.")
    if not all(v.isfinite().all() for v in state.values() if v.is_floating_point()):
        raise ShippedError(f"{name} holds weights that are not finite numbers.")
    for v in state.values():
        v.requires_grad_(False)
    return state, meta
