"""One-click experiments, scaled down from the paper so each shows its effect in a few minutes on
a 2-core CPU. What each shows is not typed: `python -m scripts.presets` trains every preset for
seeds 0, 1 and 2 and stores the figures the sentences rest on (`figures`) in MEASURED; each
sentence (a `Finding`) is said only where its claim (`resviz.claims`) holds for every seed, and
otherwise says what the figures show instead. Figures measured for other settings are not used.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from .claims import Kind
from .comparisons import error_window, last_step, validation_at
from .config import NetConfig, TrainConfig
from .findings import (
    SEEDS,
    Finding,
    depth_finding,
    error_figures,
    fit_finding,
    gradient_finding,
    response_figures,
    seed_words,
    spread_figures,
)
from .gradients import rms_matrix
from .paper import CIFAR10, IMAGENET, Published
from .runs import Run

MEASURED = Path(__file__).resolve().parent.parent / "assets" / "presets" / "measured.json"
DATASET = "mnist-5k"  # what the figures were measured on (the sentences say so)
DATA_WORDS = "the 5,000 MNIST digits"


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    nets: tuple[NetConfig, ...]
    train: TrainConfig
    lesson: str = ""  # what the learner should see, from the measured figures
    details: str = ""  # what else the runs measured
    scaled_down: str = ""  # what differs from the paper, with what that does to the figures

    def specs(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        dataset: str = DATASET,
        precision: str = "fp32",
    ) -> list[tuple[NetConfig, TrainConfig]]:
        """(NetConfig, TrainConfig) pairs for a dataset's image channels and classes."""
        t = replace(self.train, dataset=dataset, precision=precision)
        return [
            (replace(n, in_channels=in_channels, num_classes=num_classes), t) for n in self.nets
        ]

    def fingerprint(self) -> list[dict]:
        """What decides the measured figures, but the seed and the precision (which the file
        records beside them): a preset whose fingerprint changed has no measured figures."""
        return [
            {"net": n.to_dict(), "train": {**t.to_dict(), "seed": None, "precision": None}}
            for n, t in self.specs()
        ]


def _pair(
    depths: tuple[int, ...], bn: bool, family: str = "cifar", width: int = 8
) -> tuple[NetConfig, ...]:
    return tuple(
        NetConfig(family=family, depth=d, residual=r, batch_norm=bn, width=width)
        for d in depths
        for r in (False, True)
    )


def _plain(depth: int, bn: bool = True) -> NetConfig:
    return NetConfig(depth=depth, residual=False, batch_norm=bn, width=8)


QUICK = TrainConfig(steps=180, batch_size=32, lr=0.05, eval_every=36)

DEFINED = (
    Preset("degradation", "Degradation (with batch norm)", _pair((20, 56), bn=True), QUICK),
    Preset(
        "vanishing",
        "Vanishing gradients vs degradation",
        (_plain(56, bn=False), _plain(20), _plain(56), NetConfig(depth=56, residual=True, width=8)),
        QUICK,
    ),
    Preset(
        "paper-figure",
        "The paper's figure (18 vs 34 layers)",
        _pair((18, 34), bn=True, family="imagenet"),
        QUICK,
    ),
)


# Measured figures ------------------------------------------------------------------------------


def _sig(x: float | None) -> float | None:
    """Four significant digits: the figures' noise is far larger, and the file stays readable."""
    return None if x is None or not math.isfinite(x) else float(f"{x:.4g}")


def figures(run: Run) -> dict:
    """What the sentences rest on, from one finished run: its training error as the app judges it
    (mean and standard error over the last batches), its last validation error, and its gradient
    (RMS of dL/dx per element, each block) and response spread (std of each 3x3 layer's
    response) as initialised and at the end."""
    step = last_step(run)
    w, val = error_window(run, step), validation_at(run, step)
    grads, acts = rms_matrix(run, "block_grad_norms"), rms_matrix(run, "act_std")
    ends = (grads.steps[0], grads.steps[-1])
    return {
        "label": run.label,
        "status": run.status,
        "step": step,
        "train_error": _sig(w.mean),
        "train_noise": _sig(w.stderr),
        "window": [w.first, w.last],
        "val_error": _sig(val[1]),
        "val_step": val[0],
        "grad": {str(s): [_sig(v) for v in grads.at(s)] for s in ends},
        "act": {str(s): [_sig(v) for v in acts.at(s)] for s in ends},
    }


def load_measured(path: Path = MEASURED) -> dict:
    """The measured figures file, or an empty one where it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def measured_runs(preset: Preset, measured: dict) -> list[list[dict]] | None:
    """Each seed's figures (one dict per network, in the preset's order), or None when the file
    has none for the preset as it is defined now (stale, missing or incomplete)."""
    entry = measured.get("presets", {}).get(preset.key)
    if not entry or entry.get("fingerprint") != preset.fingerprint():
        return None
    seeds = entry.get("seeds", {})
    if any(str(s) not in seeds for s in SEEDS):
        return None
    runs = [seeds[str(s)]["runs"] for s in SEEDS]
    labels = [n.label for n in preset.nets]
    return runs if all([r["label"] for r in rs] == labels for rs in runs) else None


def _paper(table: tuple[Published, ...], label: str) -> str:
    return next(p for p in table if p.label == label).text


_RUN = f"{QUICK.steps} steps of batch {QUICK.batch_size} (learning rate {QUICK.lr}) on {DATA_WORDS}"
_CIFAR = (
    f"The paper trains 64,000 steps of batch 128 on CIFAR-10 at width 16; here: {_RUN} at width 8."
)


class Findings(NamedTuple):
    lesson: list[Finding]  # the preset's headline, under its button
    details: list[Finding]  # what else the runs measured, beside what was scaled down
    scale: list[Finding]  # what the scaled-down runs show of the paper's claims


def _degradation(f: dict[str, list[dict]]) -> Findings:
    p20, p56, r20, r56 = f["plain-20"], f["plain-56"], f["ResNet-20"], f["ResNet-56"]
    end = p56[0]["step"]
    return Findings(
        [
            depth_finding(Kind.DEGRADATION, p56, p20),
            fit_finding(p56, p20),
            error_figures(("ResNet-56", r56), ("ResNet-20", r20)),
        ],
        [
            gradient_finding("plain-56", "plain-56", p56, [1], False, Kind.EXPLODING),
            gradient_finding("plain-56", "plain-56", p56, [end], False, Kind.HEALTHY),
        ],
        [depth_finding(Kind.DEEPER_WINS, r56, r20)],
    )


def _vanishing(f: dict[str, list[dict]]) -> Findings:
    bare, p20, p56, r56 = f["plain-56, no BN"], f["plain-20"], f["plain-56"], f["ResNet-56"]
    end = bare[0]["step"]
    return Findings(
        [
            error_figures(("Without batch norm, plain-56", bare)),
            gradient_finding(
                "plain-56 without batch norm",
                bare[0]["label"],
                bare,
                [1, end],
                False,
                Kind.VANISHING,
            ),
            depth_finding(Kind.DEGRADATION, p56, p20),
            error_figures(("ResNet-56", r56)),
        ],
        [
            response_figures("plain-56 without batch norm", bare),
            gradient_finding(
                "plain-56 with batch norm", "plain-56", p56, [1], False, Kind.EXPLODING
            ),
            spread_figures("plain-56", end, ("with batch norm", p56), ("without", bare)),
            fit_finding(p56, p20),
        ],
        [],
    )


def _imagenet(f: dict[str, list[dict]]) -> Findings:
    p18, p34, r18, r34 = f["plain-18"], f["plain-34"], f["ResNet-18"], f["ResNet-34"]
    end = p34[0]["step"]
    return Findings(
        [
            depth_finding(Kind.DEGRADATION, p34, p18),
            gradient_finding("plain-34", "plain-34", p34, [end], False, Kind.HEALTHY),
            error_figures(("ResNet-34", r34), ("ResNet-18", r18)),
        ],
        [
            gradient_finding("plain-34", "plain-34", p34, [1], False, Kind.EXPLODING),
            fit_finding(p34, p18),
        ],
        [depth_finding(Kind.DEEPER_WINS, r34, r18)],
    )


FINDINGS = {"degradation": _degradation, "vanishing": _vanishing, "paper-figure": _imagenet}
SCALE = {
    "degradation": _CIFAR + " In the paper ResNet-56 beats ResNet-20 (Table 6, CIFAR-10 test "
    f"error: {_paper(CIFAR10, 'ResNet-56')} against "
    f"{_paper(CIFAR10, 'ResNet-20')}).",
    "vanishing": _CIFAR,
    "paper-figure": "The paper trains ImageNet at 224 px with 64-512 channels for 600,000 steps; "
    "here: the same 18- and 34-layer networks with a small-image stem, 8-64 "
    f"channels, {_RUN}. In the paper ResNet-34 beats ResNet-18 (Table 2, ImageNet "
    f"top-1 validation error: {_paper(IMAGENET, 'ResNet-34')} against "
    f"{_paper(IMAGENET, 'ResNet-18')}).",
}
UNMEASURED = "What this preset shows has not been measured for its current settings yet."


def findings(preset: Preset, measured: dict) -> Findings:
    """The preset's findings from the measured figures (none where it has no figures)."""
    seeds = measured_runs(preset, measured)
    if seeds is None:
        return Findings([], [], [])
    by_label = {n.label: [runs[i] for runs in seeds] for i, n in enumerate(preset.nets)}
    return FINDINGS[preset.key](by_label)


def _text(found: list[Finding]) -> str:
    return " ".join(t for f in found if (t := f.text))


def build(measured: dict) -> dict[str, Preset]:
    """The presets with their sentences made from `measured` figures."""
    out = {}
    ranges = f"(Ranges: seeds {seed_words(SEEDS).removeprefix('seeds ')}, on {DATA_WORDS}.)"
    for p in DEFINED:
        found = findings(p, measured)
        out[p.key] = replace(
            p,
            lesson=f"{_text(found.lesson)} {ranges}" if found.lesson else UNMEASURED,
            details=_text(found.details),
            scaled_down=f"{SCALE[p.key]} {_text(found.scale)}".strip(),
        )
    return out


PRESETS = build(load_measured())
