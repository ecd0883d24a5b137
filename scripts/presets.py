"""Each one-click preset as the app runs it (one job, its networks side by side on the CPU's
cores, one torch thread each) for seeds 0-2, timed: writes the figures its sentences rest on to
assets/presets/measured.json, then prints each preset's sentences and the numbers behind them.

    python -m scripts.presets [--only degradation vanishing paper-figure]
    python -m scripts.presets --show    # print from the stored figures, train nothing
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
from dataclasses import replace
from pathlib import Path

import torch

from resviz import presets
from resviz.runtime import (
    cpu_quota,
    describe_device,
    fast_precision,
    pick_device,
)
from resviz.training_job import Job

DEFINED = {p.key: p for p in presets.DEFINED}


def cpu_model() -> str:
    """The CPU's model name where Linux says it (platform.processor() is empty there)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.machine()
    return next(
        (ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")),
        platform.machine(),
    )


def measure(preset: presets.Preset, seed: int, precision: str) -> dict:
    """One seed of a preset trained as the app trains it: its wall time and figures."""
    job = Job([(n, replace(t, seed=seed)) for n, t in preset.specs(precision=precision)])
    t0 = time.perf_counter()
    job.train(workers=cpu_quota())
    wall = time.perf_counter() - t0
    return {
        "wall_s": round(wall, 1),
        "load_average": round(os.getloadavg()[0], 1),
        "runs": [presets.figures(run) for run in job.runs],
    }


def dumps(measured: dict) -> str:
    """JSON with each list of numbers on one line: a profile is one line of the diff."""
    text = json.dumps(measured, indent=1)
    return (
        re.sub(r"\[\s+([^\[\]{}\"]*?)\s+\]", lambda m: f"[{' '.join(m.group(1).split())}]", text)
        + "\n"
    )


def train_all(keys: list[str]) -> dict:
    torch.set_num_threads(1)  # one torch thread per network, as the app trains
    device = pick_device()
    precision = fast_precision(device)
    measured = presets.load_measured()
    measured.update(
        {
            "command": "python -m scripts.presets",
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{describe_device(device)}, {cpu_model()}",
            "precision": precision,
            "dataset": presets.DATASET,
        }
    )
    for key in keys:
        preset = DEFINED[key]
        seeds = {}
        for seed in presets.SEEDS:
            seeds[str(seed)] = measure(preset, seed, precision)
            print(f"{key:<13} seed {seed}  {seeds[str(seed)]['wall_s']:6.1f} s", flush=True)
        measured.setdefault("presets", {})[key] = {
            "fingerprint": preset.fingerprint(),
            "seeds": seeds,
        }
        presets.MEASURED.parent.mkdir(parents=True, exist_ok=True)
        presets.MEASURED.write_text(dumps(measured))
    return measured


def show(measured: dict) -> None:
    print(
        f"Measured {measured.get('date')} on {measured.get('machine')}, "
        f"{measured.get('precision')}, {measured.get('dataset')}, seeds "
        f"{', '.join(map(str, presets.SEEDS))}"
    )
    for preset in presets.build(measured).values():
        entry = measured.get("presets", {}).get(preset.key, {})
        walls = [s["wall_s"] for s in entry.get("seeds", {}).values()]
        print(f"\n## {preset.title}" + (f"  ({min(walls)}-{max(walls)} s a seed)" if walls else ""))
        for finding in [f for group in presets.findings(preset, measured) for f in group]:
            print(f"\n{'SAID' if finding.holds else 'NOT SAID'}: {finding.sentence}")
            if not finding.holds:
                print(f"INSTEAD: {finding.instead}")
            for seed, numbers in zip(presets.SEEDS, finding.evidence()):
                print(f"  seed {seed}: {numbers}")
        print(
            f"\nShown under its button: {preset.lesson}\nBeside it: {preset.details}\n"
            f"Scaled down: {preset.scaled_down}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=list(DEFINED), default=list(DEFINED))
    p.add_argument("--show", action="store_true", help="print from the stored figures only")
    args = p.parse_args()
    show(presets.load_measured() if args.show else train_all(args.only))


if __name__ == "__main__":
    main()
