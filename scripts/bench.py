"""Every speed and memory figure ResViz claims, in one run, on this machine:

1-2. training images/s of the engine (probes on) against a bare PyTorch loop on the same model,
     data and batch, for plain/residual 20 and 56, and the FLOP/s each reaches against the
     matrix-multiply peak measured in the same run (scripts/bench_train.py);
3.   the overhead of the probes (same table) and of the live view (scripts/bench_app.py);
4.   the app's cold start to its first rendered page, and each page's render time;
5.   the app's peak memory (RSS) while the "Degradation" preset trains.

    python -m scripts.bench [--quick]

--quick: shorter timing windows, for a first look (the figures are noisier).
"""

from __future__ import annotations

import argparse

from scripts import bench_app, bench_train


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    quick = p.parse_args().quick
    print("== Training speed (items 1-3) ==")
    bench_train.main(["--steps", "10" if quick else "30", "--repeats", "1" if quick else "2"])
    print("\n== The app in Chromium (items 3-5) ==")
    bench_app.main(["--steps", "60" if quick else "200"])


if __name__ == "__main__":
    main()
