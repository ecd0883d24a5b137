"""Train the Inside page's shipped networks and write them to assets/inside as safetensors, with
MANIFEST.md rebuilt from every shipped file's own metadata (so the manifest says what the files
hold, not what was meant).

    nice -n 10 python -m scripts.make_inside [--only shapes-stem7 ...] [--threads 1]

Each network trains with its seed on the CPU in fp32 (the same bytes on any x86 machine with
this torch), then its validation error is measured on the whole validation split.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import torch

from resviz import data as datasets
from resviz import features, models, shipped
from resviz.models import build_seeded
from resviz.train import Trainer, evaluate

COMMAND = "nice -n 10 python -m scripts.make_inside"


def make(item: shipped.Shipped, threads: int) -> None:
    data = datasets.load(item.train.dataset)
    trainer = Trainer(item.net, item.train, data, threads=threads)
    t0 = time.perf_counter()
    *_, last = trainer.run()  # every step's record; the last says how far it ran
    seconds = time.perf_counter() - t0
    _, error = evaluate(trainer.net, data.x_val, data.y_val)
    facts = {
        "steps_run": str(last["step"]),
        "val_error": f"{error:.4f}",
        "train_seconds": f"{seconds:.0f}",
        "threads": str(threads),
        "machine": f"{platform.machine()} Linux, {os.cpu_count()} cores",
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "command": f"{COMMAND} --only {item.name}",
    }
    shipped.save_shipped(item, trainer.net.state_dict(), facts)
    print(
        f"{item.name}: {last['step']} steps in {seconds:.0f} s, validation error {error:.1%}",
        flush=True,
    )


def manifest() -> str:
    lines = [
        "# Shipped networks of the Inside page",
        "",
        "Trained ahead of time so the page shows filters, maps and attributions on opening. "
        "Safetensors (no pickle): the configurations and a SHA-256 of the weights are in "
        "each file's metadata, and the page refuses a file whose configuration or digest "
        "differs. Regenerate all with:",
        "",
        f"    {COMMAND}",
        "",
        "| file | network | dataset | steps | validation error | first-layer edge fit "
        "(initial, trained; random kernels) | wall time | date |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for item in shipped.networks():
        try:
            state, meta = shipped.load_shipped(item)
        except shipped.ShippedError as err:
            lines.append(f"| {item.path.name} | {err} | | | | | | |")
            continue
        train = json.loads(meta["train"])
        fit = [
            features.edge_fit(features.first_layer_filters(net)).mean()
            for net in (
                build_seeded(item.net, item.train.seed),
                models.from_state(item.net, state),
            )
        ]
        k = state["stem.conv.weight"].shape[-1]
        lines.append(
            f"| {item.path.name} | {item.title}, width {item.net.width} | "
            f"{train['dataset']} | {meta['steps_run']} of {train['steps']}, batch "
            f"{train['batch_size']} | {float(meta['val_error']):.1%} | {fit[0]:.2f}, "
            f"{fit[1]:.2f}; {2 / (k * k - 1):.2f} for {k}x{k} | "
            f"{meta['train_seconds']} s on {meta['threads']} thread(s) | {meta['date']} |"
        )
    machines = {
        shipped.load_shipped(i)[1]["machine"] for i in shipped.networks() if i.path.is_file()
    }
    lines += [
        "",
        f"Machine: {'; '.join(sorted(machines))}; torch {torch.__version__}, fp32, "
        "seed 0, a CPU shared with other users (times are wall clock under nice).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    names = [i.name for i in shipped.networks()]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=names, default=names)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    shipped.SHIPPED_DIR.mkdir(parents=True, exist_ok=True)
    for item in shipped.networks():
        if item.name in args.only:
            make(item, args.threads)
    (shipped.SHIPPED_DIR / "MANIFEST.md").write_text(manifest())
    sys.stdout.write(manifest())


if __name__ == "__main__":
    main()
