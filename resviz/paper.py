"""The paper's published numbers (He et al., 2016), each with the dataset it was measured on,
so nobody mistakes our digits for CIFAR-10 or ImageNet, and with the network it was measured
on, so nobody puts it beside a different network without a word."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .config import NetConfig


@dataclass(frozen=True)
class Published:
    label: str  # "ResNet-20", "plain-34"
    depth: int
    residual: bool
    percent: float  # as printed in the paper
    measure: str  # what the error is, on which data
    source: str  # where in the paper
    runs: int = 1  # trainings behind `percent`; with more than one, it is the best of them
    mean: tuple[float, float] | None = None  # (mean, standard deviation) over `runs`, percent

    @property
    def error(self) -> float:
        return self.percent / 100

    @property
    def text(self) -> str:
        """'8.75%', or '6.43% (best of 5 runs; mean 6.61 ± 0.16%)'."""
        if self.mean is None:
            return f"{self.percent}%"
        return f"{self.percent}% (best of {self.runs} runs; mean {self.mean[0]} ± {self.mean[1]}%)"


# Table 6 lists ResNets only (beside other methods): the plain networks of the same depths
# appear only as curves, in Fig. 6. ResNet-110 was trained 5 times ("best (mean±std)").
CIFAR10 = tuple(
    Published(f"ResNet-{d}", d, True, e, "CIFAR-10 test error", "Table 6", *more)
    for d, e, *more in (
        (20, 8.75),
        (32, 7.51),
        (44, 7.17),
        (56, 6.97),
        (110, 6.43, 5, (6.61, 0.16)),
    )
)

IMAGENET = tuple(
    Published(
        f"{'ResNet' if r else 'plain'}-{d}",
        d,
        r,
        e,
        "ImageNet top-1 validation error (10-crop)",
        "Table 2",
    )
    for d, r, e in ((18, False, 27.94), (34, False, 28.54), (18, True, 27.88), (34, True, 25.03))
)

# Fig. 6's left panel: the plain networks the paper shows as training curves only.
PLAIN_CURVES = (20, 32, 44, 56)

# The CIFAR-10 networks behind Table 6 (Sec. 4.2): 16 channels in the first stage, batch norm
# after every convolution, zero-padding (option A) shortcuts; and their sizes in Table 6.
CIFAR_NET = NetConfig(family="cifar", width=16, batch_norm=True, shortcut="A", in_channels=3)
CIFAR_PARAMS = {20: 0.27e6, 32: 0.46e6, 44: 0.66e6, 56: 0.85e6, 110: 1.7e6}
# Table 1: multiply-adds ("FLOPs") of the ImageNet networks for one 224x224 image.
IMAGENET_FLOPS = {18: 1.8e9, 34: 3.6e9}


def paper_network(family: str, depth: int, residual: bool = True) -> tuple[NetConfig, int]:
    """The paper's network of a family and depth, and its image size. ImageNet: 224 px colour,
    1000 classes, 7x7 stem, with projection shortcuts (option B) as torchvision's resnet18/34
    (Table 2 used option A for its ResNet-34; Table 3 compares both); CIFAR-10: 32 px colour,
    10 classes, Sec. 4.2's network."""
    if family == "imagenet":
        return NetConfig(
            "imagenet", depth, residual, True, 64, "B", 3, 1000, small_input=False
        ), 224
    return replace(CIFAR_NET, depth=depth, residual=residual), 32


def published_cost(net: NetConfig) -> str:
    """What the paper prints about this network's size, if anything: 'Table 1: 1.8 x 10^9
    FLOPs (multiply-adds)'."""
    if net.family == "imagenet" and net.depth in IMAGENET_FLOPS:
        return f"Table 1: {IMAGENET_FLOPS[net.depth] / 1e9:.1f} x 10^9 FLOPs (multiply-adds)"
    if net.family == "cifar" and net.residual and net.depth in CIFAR_PARAMS:
        return f"Table 6: {CIFAR_PARAMS[net.depth] / 1e6:.2g}M parameters"
    return ""


def published(net: NetConfig) -> Published | None:
    """The paper's CIFAR-10 number for a CIFAR-style network of this kind and depth, if it
    printed one (plain depths: None, Table 6 has no plain networks)."""
    if net.family != "cifar":
        return None
    return next((p for p in CIFAR10 if p.residual == net.residual and p.depth == net.depth), None)


def unlike_paper(net: NetConfig) -> list[str]:
    """How the network behind the paper's number differs from `net`: ['width 16', 'with BN']."""
    said = []
    if net.width != CIFAR_NET.width:
        said.append(f"width {CIFAR_NET.width}")
    if net.batch_norm != CIFAR_NET.batch_norm:
        said.append("with BN")
    if net.shortcut != CIFAR_NET.shortcut:
        said.append(f"option-{CIFAR_NET.shortcut} shortcuts")
    return said


def paper_cell(net: NetConfig) -> str:
    """The paper's CIFAR-10 error for this network, with how the paper's network differs."""
    paper = published(net)
    if paper is None:
        plain_curve = not net.residual and net.depth in PLAIN_CURVES
        return "curve only (Fig. 6)" if plain_curve else "not in the paper"
    unlike = unlike_paper(net)
    return paper.text + (f" (paper: {', '.join(unlike)})" if unlike else "")
