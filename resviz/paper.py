"""The paper's published numbers (He et al., 2016), each with the dataset it was measured on,
so nobody mistakes our digits for CIFAR-10 or ImageNet."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Published:
    label: str       # "ResNet-20", "plain-34"
    depth: int
    residual: bool
    percent: float   # as printed in the paper
    measure: str     # what the error is, on which data
    source: str      # where in the paper

    @property
    def error(self) -> float:
        return self.percent / 100


CIFAR10 = tuple(
    Published(f"ResNet-{d}", d, True, e, "CIFAR-10 test error", "Table 6")
    for d, e in ((20, 8.75), (32, 7.51), (44, 7.17), (56, 6.97), (110, 6.43)))

IMAGENET = tuple(
    Published(f"{'ResNet' if r else 'plain'}-{d}", d, r, e,
              "ImageNet top-1 validation error (10-crop)", "Table 2")
    for d, r, e in ((18, False, 27.94), (34, False, 28.54), (18, True, 27.88), (34, True, 25.03)))


def published(residual: bool, depth: int) -> Published | None:
    """The paper's number for a CIFAR-style network of this kind and depth, if it printed one.

    Table 6 lists the plain nets only as curves (Fig. 6), so plain depths return None."""
    return next((p for p in CIFAR10 if p.residual == residual and p.depth == depth), None)
