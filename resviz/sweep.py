"""Depth sweeps: plain and residual networks at several depths under one training config.

Every configuration of a sweep trains with the same `TrainConfig`, so one seed gives every
network the same data order and augmentation draws, and plain/residual twins of one depth the
same initial weights (option A shortcuts add none): depth and the skip connection are the only
differences, as in the paper's Fig. 6. With several seeds every configuration is trained once
per seed, all configurations of one seed before the next, so a sweep stopped early holds whole
seeds. Each run goes to its own file, named from what was trained, so an interrupted sweep
resumes where it stopped and machines that share the work (each with `only`) fill one folder
with the same files a single machine would.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from . import data as datasets
from .config import IS_RESIDUAL, ConfigError, NetConfig, TrainConfig
from .runs import Run, RunFileError, load, recorded, save
from .runtime import environment, pick_device
from .schema import FINISHED, PROBES, Record
from .train import train


@dataclass(frozen=True)
class Entry:
    """One configuration of a sweep."""

    net: NetConfig
    train: TrainConfig

    @property
    def label(self) -> str:
        """`plain-20`, `residual-56`: what `only` names; one per seed in a sweep."""
        return f"{'residual' if self.net.residual else 'plain'}-{self.net.depth}"

    @property
    def name(self) -> str:
        """The label and the seed: `plain-20 seed 1`, unique within a sweep."""
        return f"{self.label} seed {self.train.seed}"

    @property
    def filename(self) -> str:
        """The label, then a digest of everything that shapes the training (not the device, so
        machines of one kind that split a sweep name its files alike)."""
        what = {"net": self.net.to_dict(), "train": self.train.to_dict()}
        del what["train"]["device"]
        digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.label}-{digest}"


def plan(
    depths: Iterable[int],
    archs: Iterable[str],
    train_cfg: TrainConfig,
    seeds: Iterable[int] | None = None,
    **net_fields,
) -> list[Entry]:
    """Each depth (in the order given) with each architecture, all sharing `train_cfg`; with
    `seeds`, that list once per seed (`train_cfg.seed` replaced), seed by seed."""
    nets = [
        NetConfig(depth=d, residual=IS_RESIDUAL[a], **net_fields)
        for d in dict.fromkeys(depths)
        for a in dict.fromkeys(archs)
    ]
    cfgs = (
        [dataclasses.replace(train_cfg, seed=s) for s in dict.fromkeys(seeds)]
        if seeds
        else [train_cfg]
    )
    return [Entry(net, cfg) for cfg in cfgs for net in nets]


def select(entries: list[Entry], only: Iterable[str] | None) -> list[Entry]:
    """The entries whose labels are in `only` (all of them when it is empty)."""
    if not only:
        return entries
    labels = list(dict.fromkeys(e.label for e in entries))
    for name in only:
        if name not in labels:
            raise ConfigError(
                f"this sweep has no configuration {name!r}; it has: {', '.join(labels)}"
            )
    return [e for e in entries if e.label in only]


def finished(path: Path) -> bool:
    """A readable run file that ended; a missing, unreadable or unfinished one is redone."""
    try:
        return load(path).status in FINISHED
    except (OSError, RunFileError):
        return False


def thin(records: list[Record], keep_every: int, probe_every: int) -> list[Record]:
    """Every `keep_every`-th record, the first, the last and every one with a validation error;
    per-layer probes only at the first, the last and every `probe_every`-th step.

    Enough for training and validation curves, final errors and a few gradient profiles, at a
    fraction of the size; with `keep_every=1` and the run's own probe interval nothing changes.
    """
    ends = {records[0]["step"], records[-1]["step"]} if records else set()
    kept = []
    for r in records:
        if r["step"] in ends or r.get("val_error") is not None or r["step"] % keep_every == 0:
            probed = r["step"] in ends or r["step"] % probe_every == 0
            kept.append(r if probed else cast(Record, {**r, **dict.fromkeys(PROBES)}))
    return kept


def final_errors(run: Run, tail: float = 0.1) -> tuple[float | None, float | None]:
    """(training error, validation error) at the end of a run, None where it has none.

    Training error: the mean per-batch error over the last `tail` of the steps, since one
    batch's error is noisy; validation error: the last evaluation on the whole split.
    """
    recs = [r for r in run.records if r.get("train_error") is not None]
    val = [r["val_error"] for r in run.records if r.get("val_error") is not None]
    if not recs:
        return None, val[-1] if val else None
    start = recs[-1]["step"] * (1 - tail)
    last = [r["train_error"] for r in recs if r["step"] > start]
    return sum(last) / len(last), val[-1] if val else None


def mean_spread(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of one configuration's seeds."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def run_one(
    entry: Entry,
    folder: str | Path,
    keep_every: int = 1,
    data: datasets.Dataset | None = None,
    on_record: Callable[[Record], None] | None = None,
    records: Iterable[Record] | None = None,
    env: dict | None = None,
) -> Path:
    """Train one entry and write its run file (thinned, atomically) into `folder`; `records`
    and `env`, when given, come from where it trained instead (a Ray worker: resviz.cluster)."""
    run = recorded(
        Run(entry.net, entry.train, env=env or environment(pick_device(entry.train.device))),
        train(entry.net, entry.train, data) if records is None else records,
        on_record,
    )
    run.records = thin(run.records, keep_every, entry.train.probe_every * keep_every)
    return save(run, folder, entry.filename)


def table(folder: str | Path, entries: list[Entry]) -> str:
    """Final errors of every run, read back from the files (also those skipped); with several
    seeds, then each configuration's mean and standard deviation over its seeds."""
    lines = [f"{'run':<22}{'status':<10}{'training error':>16}{'validation error':>18}"]
    errors: dict[str, list[tuple]] = {}
    for e in entries:
        run = load(Path(folder) / f"{e.filename}.json")
        errs = final_errors(run)
        if None not in errs:
            errors.setdefault(e.label, []).append(errs)
        cells = [f"{x:.2%}" if x is not None else "-" for x in errs]
        lines.append(f"{e.name:<22}{run.status:<10}{cells[0]:>16}{cells[1]:>18}")
    if any(len(v) > 1 for v in errors.values()):
        lines.append(
            f"\n{'configuration':<16}{'seeds':>6}{'training error':>22}{'validation error':>22}"
        )
        for label, seeds in errors.items():
            cells = ["{:.2%} ± {:.2%}".format(*mean_spread(list(col))) for col in zip(*seeds)]
            lines.append(f"{label:<16}{len(seeds):>6}{cells[0]:>22}{cells[1]:>22}")
        lines.append("mean ± sample standard deviation over the seeds")
    lines.append(
        "training error: mean batch error over the last 10% of steps; "
        "validation error: the last evaluation"
    )
    return "\n".join(lines)
