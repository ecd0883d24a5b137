"""What the Experiments page computes from runs: which runs may share a line (they differ in
depth alone), the mean and spread of a configuration's seeds, and the table beside the paper's
(what the runs say about depth: depth_changes)."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from . import data as datasets
from .paper import paper_cell
from .runs import Run
from .sweep import final_errors

PAPER_COLUMN = "paper, CIFAR-10"
TAIL = 0.1  # the final training error averages the batches of the last tenth of the steps
MEASURES = ("training error", "validation error")
DECIMALS = (2, 1)  # a mean of batch errors to 0.01%, one validation error to 0.1% (the table's)


def dataset_title(name: str) -> str:
    """'MNIST-5k' for 'mnist-5k'; a name the registry does not know, as it is."""
    return datasets.DATASETS[name].short if name in datasets.DATASETS else name


# Every setting that changes what a network learns, except depth (the x axis) and the seed
# (repeats of one configuration, averaged), with how a value reads in a legend. The device, the
# evaluation and probe intervals and the memory layout change where numbers are read, or their
# last bits, not what is trained. The family is always CIFAR-style here (see `sweep_runs`).
SETTINGS: dict[tuple[str, str], Callable[[object], str]] = {
    ("net", "batch_norm"): lambda v: "BN" if v else "no BN",
    ("net", "width"): lambda v: f"width {v}",
    ("net", "shortcut"): lambda v: f"option-{v} shortcuts",
    ("net", "in_channels"): lambda v: f"{v} input channel{'s' * (v != 1)}",
    ("net", "num_classes"): lambda v: f"{v} classes",
    ("train", "dataset"): dataset_title,
    ("train", "steps"): lambda v: f"{v:,} steps",
    ("train", "batch_size"): lambda v: f"batch {v}",
    ("train", "lr"): lambda v: f"learning rate {v:g}",
    ("train", "momentum"): lambda v: f"momentum {v:g}",
    ("train", "weight_decay"): lambda v: f"weight decay {v:g}",
    ("train", "schedule"): lambda v: f"{v} schedule",
    ("train", "warmup_steps"): lambda v: f"{v} warm-up steps",
    ("train", "augment"): lambda v: "augmented" if v else "not augmented",
    ("train", "precision"): str,
}
TITLES = {
    "batch_norm": "batch norm",
    "in_channels": "input channels",
    "num_classes": "classes",
    "batch_size": "batch size",
    "lr": "learning rate",
    "weight_decay": "weight decay",
    "warmup_steps": "warm-up steps",
    "augment": "augmentation",
}


def settings(run: Run) -> tuple:
    """Everything but depth, seed and kind that shapes what `run` learns, as a hashable key."""
    return tuple(getattr(getattr(run, part), name) for part, name in SETTINGS)


def sweep_runs(runs: list[Run]) -> list[Run]:
    """CIFAR-style runs with records (the depth axis of Fig. 6), one per kind, settings, depth
    and seed: the first of each, which is the newest in a session's history."""
    seen: dict[tuple, Run] = {}
    for run in runs:
        if run.net.family == "cifar" and run.records:
            key = (run.net.residual, settings(run), run.net.depth, run.train.seed)
            seen.setdefault(key, run)
    return list(seen.values())


# eq=False: compared and hashed by identity (runs are mutable, so not hashable).
@dataclass(frozen=True, eq=False)
class Point:
    """One depth of one configuration: a run for each seed."""

    depth: int
    runs: tuple[Run, ...]

    def values(self, measure: int) -> list[float]:
        """Each seed's final training (0) or validation (1) error, where it has one."""
        return [e for r in self.runs if (e := final_errors(r, TAIL)[measure]) is not None]

    def mean(self, measure: int) -> float | None:
        got = self.values(measure)
        return statistics.fmean(got) if got else None

    def spread(self, measure: int) -> float | None:
        """The standard deviation over seeds; None with fewer than two."""
        got = self.values(measure)
        return statistics.stdev(got) if len(got) > 1 else None

    def training_images(self) -> int:
        """Images behind one seed's final training error: the kept batches of its last tenth."""
        run = self.runs[0]
        steps = [r["step"] for r in run.records if r.get("train_error") is not None]
        if not steps:
            return 0
        return sum(s > steps[-1] * (1 - TAIL) for s in steps) * run.train.batch_size


@dataclass(frozen=True, eq=False)
class Group:
    """Runs that differ in depth (and seed) alone: the only ones a line may join."""

    residual: bool
    settings: tuple
    tag: str  # what sets it apart from the other groups shown: "", "no BN", "no BN, 50 steps"
    points: tuple[Point, ...]  # by depth

    @property
    def kind(self) -> str:
        return "ResNet" if self.residual else "plain"

    @property
    def name(self) -> str:
        """'plain', 'ResNet, no BN'."""
        return ", ".join(filter(None, (self.kind, self.tag)))

    @property
    def seeds(self) -> int:
        return max(len(p.runs) for p in self.points)

    def label(self, point: Point) -> str:
        """'plain-56', 'plain-56, no BN, 50 steps'."""
        return ", ".join(filter(None, (f"{self.kind}-{point.depth}", self.tag)))

    @property
    def batch_norm(self) -> bool:
        return self.points[0].runs[0].net.batch_norm


def _differing(keys: list[tuple]) -> list[int]:
    """Indices of the settings that take more than one value among `keys`."""
    return [i for i in range(len(SETTINGS)) if len({k[i] for k in keys}) > 1]


def groups(runs: list[Run]) -> list[Group]:
    """`runs` split into lines: plain first, then ResNets; within a kind, batch norm first.

    Each group's tag names its value of every setting that differs between the groups, and
    'no BN' whenever batch norm is off (as the runs' own labels do)."""
    by_key: dict[tuple, dict[int, list[Run]]] = {}
    for run in runs:
        by_key.setdefault((run.net.residual, settings(run)), {}).setdefault(
            run.net.depth, []
        ).append(run)
    differ = _differing([s for _, s in by_key])
    formats = list(SETTINGS.values())
    bn = list(SETTINGS).index(("net", "batch_norm"))
    found = []
    for (residual, key), depths in by_key.items():
        shown = [i for i in differ if i != bn]
        tag = ", ".join(([] if key[bn] else ["no BN"]) + [formats[i](key[i]) for i in shown])
        points = tuple(
            Point(d, tuple(sorted(rs, key=lambda r: r.train.seed)))
            for d, rs in sorted(depths.items())
        )
        found.append(Group(residual, key, tag, points))
    return sorted(found, key=lambda g: (g.residual, not g.batch_norm, g.settings))


def mixed_note(found: list[Group]) -> str:
    """What differs between the lines besides the kind ('' when the runs are one experiment)."""
    keys = list(dict.fromkeys(g.settings for g in found))
    differ = _differing(keys)
    if not differ:
        return ""
    parts = []
    for i in differ:
        (_, field), says = list(SETTINGS.items())[i]
        values: dict[object, list[str]] = {}
        for g in found:
            values.setdefault(g.settings[i], []).extend(f"{g.kind}-{p.depth}" for p in g.points)
        listed = "; ".join(
            f"{says(v)}: {', '.join(dict.fromkeys(labels))}" for v, labels in values.items()
        )
        parts.append(f"{TITLES.get(field, field)} ({listed})")
    return (
        "These runs differ in more than depth: " + ", and ".join(parts) + ". A line joins "
        "only runs that differ in depth alone, and nothing is compared across lines."
    )


def comparison(found: list[Group], dataset: str) -> list[dict]:
    """One row per network: our final errors (in percent; the mean where there are several
    seeds, with their number where rows differ in it) beside the paper's."""
    rows = []
    for g in found:
        for p in g.points:
            train, val = (None if (m := p.mean(i)) is None else 100 * m for i in (0, 1))
            rows.append(
                {
                    "network": g.label(p),
                    "seeds": len(p.runs),
                    f"training, {dataset}": train,
                    f"validation, {dataset}": val,
                    PAPER_COLUMN: paper_cell(p.runs[0].net),
                }
            )
    if len({r["seeds"] for r in rows}) == 1:  # one count for every row: said once, under it
        for r in rows:
            del r["seeds"]
    return rows
