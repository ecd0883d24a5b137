"""Run records: one JSON file per run (configs, environment, every record), with a schema version.

Run files are plain JSON, never pickles, so an uploaded one can be read safely. Every file is
checked against one schema (`resviz.schema`) when it is read and again before it is written, so
a file the app saved can always be read back and drawn. Non-finite numbers are stored as null
(JSON has no NaN). A run trained here may keep its final weights beside it (`NAME.pt`, a state
dict read back with `weights_only=True`); uploads never do. Writes are atomic: a unique
temporary file in the same folder, flushed to disk, then renamed over the old one, so a reader
sees the old file or the new one and a full disk leaves no truncated file.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import functools
import io
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import torch

from . import schema
from .config import ConfigError, NetConfig, TrainConfig
from .data import DATASETS
from .models import blocks, build, weight_layers
from .probes import _responses
from .schema import Status

SCHEMA_VERSION = schema.VERSION
# The largest run file read, from disk or an upload (the Train and Experiments uploaders take
# this much per file): about what `shelf.FILE_RECORDS` probed records, the most a file holds, take.
MAX_FILE_MB = 20
MAX_FILE_BYTES = MAX_FILE_MB * 2**20
CSV_FIELDS = (
    "step",
    "epoch",
    "train_loss",
    "train_error",
    "val_loss",
    "val_error",
    "lr",
    "images_per_s",
    "elapsed",
)


class RunFileError(ValueError):
    """A run file that cannot be read; the message is one sentence for the learner."""


@dataclass
class Run:
    net: NetConfig
    train: TrainConfig
    records: list[schema.Record] = field(default_factory=list)
    env: dict = field(default_factory=dict)
    status: Status = Status.RUNNING
    message: str = ""
    name: str = ""
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))

    @property
    def label(self) -> str:
        return self.name or self.net.label

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA_VERSION,
            "name": self.name,
            "created": self.created,
            "status": self.status,
            "message": self.message,
            "env": self.env,
            "net": self.net.to_dict(),
            "train": self.train.to_dict(),
            "records": _finite(self.records),
        }

    @classmethod
    def from_dict(cls, d: object) -> Run:
        """A run from a run file's parsed JSON; `RunFileError` (one sentence) if it is not one."""
        try:
            v = schema.check(d)
            run = cls(
                net=NetConfig(**v["net"]),
                train=TrainConfig(**v["train"]),
                records=v["records"],
                env=v["env"],
                status=Status(v["status"]),
                message=v["message"],
                name=v["name"],
                created=v["created"],
            )
        except schema.SchemaError as e:
            raise RunFileError(str(e)) from None
        except TypeError:  # e.g. an unknown setting: Python's text would name __init__
            raise RunFileError(
                "this run file is invalid (its net or train settings have "
                "unknown or malformed fields)"
            ) from None
        except ConfigError as e:
            raise RunFileError(f"this run file is incomplete or invalid ({e})") from None
        if run.train.dataset not in DATASETS:
            raise RunFileError(
                f"this run file's dataset {schema.shown(run.train.dataset)} is "
                f"not one ResViz knows ({', '.join(DATASETS)})"
            )
        if (problem := _foreign_layer(run)) is not None:
            raise RunFileError(problem)
        if run.records and run.records[-1]["step"] > run.train.steps:
            raise RunFileError(
                f"this run file is invalid (its last record is step "
                f"{run.records[-1]['step']:,}, past the run's "
                f"{run.train.steps:,} steps)"
            )
        return run


def recorded(
    run: Run,
    records: Iterable[schema.Record],
    on_record: Callable[[schema.Record], None] | None = None,
) -> Run:
    """`run` with `records` appended as they come (a training loop's), ending done, or diverged
    with the last record's message."""
    for rec in records:
        run.records.append(rec)
        if on_record:
            on_record(rec)
    last = run.records[-1]
    run.status = Status.DIVERGED if last.get("diverged") else Status.DONE
    run.message = last.get("message", "")
    return run


@functools.lru_cache(maxsize=64)
def probe_layers(net: NetConfig) -> dict[str, frozenset[str]]:
    """The layer names each probe of this network records (built on the meta device: names,
    no weights)."""
    with torch.device("meta"):
        model = build(net)
    return {
        "grad_norms": frozenset(n for n, _ in weight_layers(model)),
        "block_grad_norms": frozenset(n for n, _ in blocks(model)),
        "act_std": frozenset(n for n, _ in _responses(model)),
    }


def _foreign_layer(run: Run) -> str | None:
    """A sentence if a probe names a layer the run's network does not have (the pages look
    each one up in the network)."""
    layers = probe_layers(run.net)
    for i, record in enumerate(run.records):
        for key, names in layers.items():
            if record.get(key) and not names.issuperset(record[key]):
                name = next(n for n in record[key] if n not in names)
                return (
                    f"this run file is invalid (record {i + 1}'s {key} names a layer "
                    f"{schema.shown(name)} that {run.net.label} does not have)"
                )
    return None


def _finite(value):
    """Replace NaN and infinities by None, recursively, so the file is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def slug(text: str) -> str:
    """A file name that cannot leave its folder: letters, digits, dot, dash, underscore."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-_")
    return s[:80] or "run"


def dumps(run: Run) -> str:
    return json.dumps(run.to_dict(), allow_nan=False, separators=(",", ":"))


def loads(text: str | bytes, max_records: int = schema.MAX_STEPS) -> Run:
    """A run from a file's text. The records are counted before anything is parsed, so a file of
    half a million tiny records costs a count, not 100 MB of dicts (`max_records`)."""
    if len(text) > MAX_FILE_BYTES:
        raise RunFileError(f"this run file is larger than {MAX_FILE_MB} MB")
    raw = text.encode() if isinstance(text, str) else text
    # Each record has one "step" and at most four objects (itself and three probes).
    if (steps := raw.count(b'"step"')) > max_records:
        raise RunFileError(
            f"this run file has {steps:,} records; at most {max_records:,} can be read here"
        )
    if raw.count(b"{") + raw.count(b"[") > 4 * max_records + 1000:
        raise RunFileError(
            f"this file holds more JSON objects and lists than a run file of "
            f"{max_records:,} records can, so it is not read"
        )
    try:
        d = json.loads(text, parse_constant=lambda c: None)  # NaN/Infinity -> null
    except RecursionError:
        raise RunFileError("this file is nested too deeply to be a ResViz run file") from None
    except (ValueError, UnicodeDecodeError):  # ValueError: JSONDecodeError, a 5,000-digit number
        raise RunFileError("this file is not valid JSON, so it is not a ResViz run file") from None
    records = d.get("records") if isinstance(d, dict) else None
    if isinstance(records, list) and len(records) > max_records:
        raise RunFileError(
            f"this run file has {len(records):,} records; at most {max_records:,} can be read here"
        )
    return Run.from_dict(d)


def to_csv(run: Run) -> str:
    """One row per step of the scalar fields (per-layer probes stay in the JSON file)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for r in _finite(run.records):
        writer.writerow(["" if r.get(k) is None else r[k] for k in CSV_FIELDS])
    return out.getvalue()


def save(run: Run, folder: str | Path, filename: str | None = None) -> Path:
    """Write `run` into `folder` atomically, checked against the schema first (`RunFileError`
    if it would not read back); the name is sanitised so it stays inside. Disk errors raise
    `OSError` (`write_problem` words them)."""
    text = dumps(run)
    Run.from_dict(json.loads(text))  # what is written must read back
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (slug(filename or f"{run.created}-{run.label}") + ".json")
    _write_atomically(path, lambda f: f.write(text.encode()))
    return path


def save_weights(state_dict: dict, run_path: Path) -> Path:
    """The state dict beside its run file, atomically: never a truncated `.pt`."""
    path = Path(run_path).with_suffix(".pt")
    _write_atomically(path, lambda f: torch.save(state_dict, f))
    return path


def _write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """A unique temporary file beside `path` (two writers of one name never share it), synced,
    then renamed over `path`; on any failure the temporary file is removed."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide a run file from its other readers
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a crash (not on Windows)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def check_writable(folder: str | Path) -> None:
    """Create `folder` if needed and create and remove a file in it, before any work starts;
    `OSError` if that fails (`write_problem` words it)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, trial = tempfile.mkstemp(dir=folder, prefix=".resviz-check.", suffix=".tmp")
    os.close(fd)
    os.unlink(trial)


_WRITE_PROBLEMS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the disk is read-only",
    errno.EACCES: "writing there is not allowed",
    errno.EPERM: "writing there is not allowed",
    errno.ENOTDIR: "part of the path is a file, not a folder",
    errno.EISDIR: "a folder has that name",
    errno.EEXIST: "a file stands where the folder should be",
}


def write_problem(err: OSError) -> str:
    """Why a write failed, in a few words and without the server's paths."""
    return _WRITE_PROBLEMS.get(err.errno) or (err.strerror or "the disk refused it").lower()


def load_weights(run_path: str | Path) -> dict | None:
    """The state dict saved beside a run file, or None when it has none."""
    path = Path(run_path).with_suffix(".pt")
    return torch.load(path, map_location="cpu", weights_only=True) if path.exists() else None


def load(path: str | Path, max_records: int = schema.MAX_STEPS) -> Run:
    path = Path(path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise RunFileError(f"{path.name} is larger than {MAX_FILE_MB} MB")
    return loads(path.read_bytes(), max_records)


def list_runs(folder: str | Path) -> list[Path]:
    """Run files in `folder`, newest first (temporary files of writes in progress excluded)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.glob("*.json"):
        with contextlib.suppress(FileNotFoundError):  # replaced or removed meanwhile
            found.append((p.stat().st_mtime, p))
    return [p for _, p in sorted(found, reverse=True)]
