"""One-click experiments, scaled down from the paper so each shows its effect within a minute
on a 2-core CPU. Each says what was scaled down."""
from __future__ import annotations

from dataclasses import dataclass, replace

from .config import NetConfig, TrainConfig


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    lesson: str       # what the learner should see
    scaled_down: str  # what differs from the paper
    nets: tuple[NetConfig, ...]
    train: TrainConfig

    def specs(self, in_channels: int = 1, num_classes: int = 10, dataset: str = "mnist-5k",
              precision: str = "fp32"):
        """(NetConfig, TrainConfig) pairs for a dataset's image channels and classes."""
        t = replace(self.train, dataset=dataset, precision=precision)
        return [(replace(n, in_channels=in_channels, num_classes=num_classes), t) for n in self.nets]


def _pair(depths, bn: bool, family: str = "cifar", width: int = 8):
    return tuple(NetConfig(family=family, depth=d, residual=r, batch_norm=bn, width=width)
                 for d in depths for r in (False, True))


# Measured with all four networks in one job on 2 CPU cores (python -m scripts.presets):
# Degradation 26-27 s, Vanishing 33-34 s, the paper's figure 16-21 s, seeds 0-2.
QUICK = TrainConfig(steps=180, batch_size=32, lr=0.05, eval_every=36)
_RUN = (f"{QUICK.steps} steps of batch {QUICK.batch_size} (learning rate {QUICK.lr}) on 5,000 "
        f"MNIST digits")
_SCALE = (f"The paper trains 64,000 steps of batch 128 on CIFAR-10 at width 16; here: {_RUN} at "
          f"width 8, so the gaps are smaller but the ordering is the same.")


def _plain(depth: int, bn: bool = True) -> NetConfig:
    return NetConfig(depth=depth, residual=False, batch_norm=bn, width=8)


PRESETS = {p.key: p for p in (
    Preset("degradation", "Degradation (with batch norm)",
           "Plain-56 ends far above plain-20 although its gradients look healthy; ResNet-56 "
           "trains as well as ResNet-20.",
           _SCALE,
           _pair((20, 56), bn=True), QUICK),
    Preset("vanishing", "Vanishing gradients vs degradation",
           "Without batch norm plain-56's gradient fades on its way back (the first block gets "
           "hundreds to thousands of times less than the last) and it learns nothing. With "
           "batch norm its gradients are healthy, yet it trains worse than plain-20: that is "
           "degradation. ResNet-56 trains. See the Gradient flow page.",
           _SCALE,
           (_plain(56, bn=False), _plain(20), _plain(56),
            NetConfig(depth=56, residual=True, width=8)), QUICK),
    Preset("paper-figure", "The paper's figure (18 vs 34 layers)",
           "Plain-34 trains worse than plain-18. In the paper ResNet-34 then beats ResNet-18; "
           "in this short run they end level, so look at the gap to plain-34.",
           "The paper trains ImageNet at 224 px with 64-512 channels for 600,000 steps; here: "
           "the same 18- and 34-layer networks with a small-image stem, 8-64 channels, "
           f"{_RUN}.",
           _pair((18, 34), bn=True, family="imagenet"), QUICK),
)}
