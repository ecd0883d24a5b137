"""Each one-click preset as the app runs it (one job, its networks side by side on the CPU's
cores, one torch thread each), timed, with what it shows: error on the whole training split and
the gradient rule's verdict at the end (resviz.claims). Prints a table.

    python -m scripts.presets [--seeds 3] [--only degradation vanishing paper-figure]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

from resviz import data as datasets
from resviz.claims import gradient_claim, spread
from resviz.features import from_state
from resviz.jobs import Job
from resviz.presets import PRESETS
from resviz.runtime import configure_threads, cpu_quota, fast_precision, pick_device
from resviz.train import evaluate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--only", nargs="+", choices=list(PRESETS), default=list(PRESETS))
    args = p.parse_args()
    configure_threads()  # one torch thread per network, as the app trains
    precision = fast_precision(pick_device())
    data = datasets.load("mnist-5k")
    print(f"{cpu_quota()} cores, {precision}; error on the 4,000 training digits at the end; "
          f"first/last: block gradient at the first block over the last one")
    for key in args.only:
        for seed in range(args.seeds):
            specs = [(n, replace(t, seed=seed)) for n, t in PRESETS[key].specs(precision=precision)]
            job = Job(specs)
            t0 = time.perf_counter()
            job.train(workers=cpu_quota())
            wall = time.perf_counter() - t0
            cells = []
            for run, weights in zip(job.runs, job.weights):
                err = evaluate(from_state(run.net, weights), data.x_train, data.y_train)[1]
                verdict = gradient_claim(run, run.records[-1]["step"])
                cells.append(f"{run.label} {err:5.1%}"
                             + (f" ({verdict.kind} {spread(verdict):.2g}x)" if verdict else "")
                             + ("" if run.status == "done" else f" {run.status}"))
            print(f"{key:<13}seed {seed}  {wall:5.1f} s   " + "   ".join(cells), flush=True)


if __name__ == "__main__":
    main()
