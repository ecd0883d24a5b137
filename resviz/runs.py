"""Run records: one JSON file per run (configs, environment, every record), with a schema version.

Run files are plain JSON, never pickles, so an uploaded one can be read safely. Non-finite
numbers are stored as null (JSON has no NaN). A run trained here may keep its final weights
beside it (`NAME.pt`, a state dict read back with `weights_only=True`); uploads never do.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .config import ConfigError, NetConfig, TrainConfig

SCHEMA_VERSION = 1
MAX_FILE_BYTES = 20_000_000
STATUSES = ("running", "done", "stopped", "diverged", "failed")
CSV_FIELDS = ("step", "epoch", "train_loss", "train_error", "val_loss", "val_error", "lr",
              "images_per_s", "elapsed")
PROBES = ("grad_norms", "block_grad_norms", "act_std")  # layer name -> number, every few steps


class RunFileError(ValueError):
    """A run file that cannot be read; the message is one sentence for the learner."""


@dataclass
class Run:
    net: NetConfig
    train: TrainConfig
    records: list[dict] = field(default_factory=list)
    env: dict = field(default_factory=dict)
    status: str = "running"
    message: str = ""
    name: str = ""
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))

    @property
    def label(self) -> str:
        return self.name or self.net.label

    def to_dict(self) -> dict:
        return {"schema": SCHEMA_VERSION, "name": self.name, "created": self.created,
                "status": self.status, "message": self.message, "env": self.env,
                "net": self.net.to_dict(), "train": self.train.to_dict(),
                "records": _finite(self.records)}

    @classmethod
    def from_dict(cls, d: dict) -> "Run":
        if not isinstance(d, dict):
            raise RunFileError("this is not a ResViz run file (expected a JSON object)")
        if d.get("schema") != SCHEMA_VERSION:
            raise RunFileError(f"this run file has schema version {d.get('schema')!r}; "
                               f"this ResViz reads version {SCHEMA_VERSION}")
        try:
            run = cls(net=NetConfig(**d["net"]), train=TrainConfig(**d["train"]),
                      records=list(d["records"]), env=dict(d.get("env", {})),
                      status=str(d.get("status", "done")), message=str(d.get("message", "")),
                      name=str(d.get("name", "")), created=str(d.get("created", "")))
        except KeyError as e:
            raise RunFileError(f"this run file is incomplete (it has no {e.args[0]!r} field)") \
                from None
        except TypeError:  # e.g. an unknown setting: Python's text would name __init__
            raise RunFileError("this run file is invalid (its net or train settings have "
                               "unknown or malformed fields)") from None
        except ConfigError as e:
            raise RunFileError(f"this run file is incomplete or invalid ({e})") from None
        if run.status not in STATUSES or not all(map(_record_ok, run.records)):
            raise RunFileError("this run file's status or records are malformed")
        run.records = _finite(run.records)  # 1e999 parses as infinity: stored as missing
        return run


def _number(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _record_ok(r) -> bool:
    """A step number, numbers (or null) where the curves and tables read them."""
    if not isinstance(r, dict) or r.get("step") is None or not _number(r["step"]):
        return False
    if not all(_number(r.get(k)) for k in CSV_FIELDS):
        return False
    return all(r.get(k) is None or (isinstance(r[k], dict) and all(map(_number, r[k].values())))
               for k in PROBES)


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


def loads(text: str | bytes) -> Run:
    if len(text) > MAX_FILE_BYTES:
        raise RunFileError(f"this run file is larger than {MAX_FILE_BYTES // 1_000_000} MB")
    try:
        d = json.loads(text, parse_constant=lambda c: None)  # NaN/Infinity -> null
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunFileError("this file is not valid JSON, so it is not a ResViz run file") from None
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
    """Write `run` into `folder` atomically; the name is sanitised so it stays inside."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (slug(filename or f"{run.created}-{run.label}") + ".json")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(dumps(run))
    tmp.replace(path)
    return path


def save_weights(state_dict: dict, run_path: Path) -> Path:
    path = Path(run_path).with_suffix(".pt")
    torch.save(state_dict, path)
    return path


def load_weights(run_path: str | Path) -> dict | None:
    """The state dict saved beside a run file, or None when it has none."""
    path = Path(run_path).with_suffix(".pt")
    return torch.load(path, map_location="cpu", weights_only=True) if path.exists() else None


def load(path: str | Path) -> Run:
    path = Path(path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise RunFileError(f"{path.name} is larger than {MAX_FILE_BYTES // 1_000_000} MB")
    return loads(path.read_bytes())


def list_runs(folder: str | Path) -> list[Path]:
    """Run files in `folder`, newest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
