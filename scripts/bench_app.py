"""The app in a real browser, timed: cold start, each page's render, the "Degradation" preset's
wall time and the server's peak memory meanwhile, and training throughput with the live view open
against the command line on the same configuration. Prints a table.

    python -m scripts.bench_app [--steps 200] [--width 8]

The live-view run is the Train form's first configuration as it opens: ResNet-20.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from scripts.appserver import CHROMIUM, FLAGS, PAGES, ROOT, app_server, open_page


def throughput(run_file: Path) -> float:
    """Training images per second over a whole run, evaluations included."""
    run = json.loads(run_file.read_text())
    last = run["records"][-1]
    return last["step"] * run["train"]["batch_size"] / last["elapsed"]


def train_in_browser(page, url: str, args) -> None:
    open_page(page, f"{url}/training")
    page.keyboard.press("Escape")
    page.get_by_text("Your own configurations").click()
    page.locator(".st-key-n_configs").get_by_role("slider").press("Home")  # one configuration
    for key, value in (("steps", args.steps), ("width", args.width)):
        box = page.locator(f".st-key-{key} input")
        box.fill(str(value))
        box.press("Tab")
    page.locator(".st-key-FormSubmitter-custom-Train button").click()
    page.get_by_text(f"done: step {args.steps} of {args.steps}").wait_for(timeout=600_000)


def preset(page, url: str, app) -> None:
    """Click "Degradation" and time it to its end; the server's peak RSS covers the run."""
    open_page(page, f"{url}/training")
    page.keyboard.press("Escape")
    t0 = time.perf_counter()
    page.locator(".st-key-preset-degradation button").click()
    page.get_by_text("done: step 200 of 200").wait_for(timeout=600_000)
    print(f"Degradation preset (4 networks x 200 steps): {time.perf_counter() - t0:.1f} s, "
          f"server peak RSS {app.peak_rss_mb():,.0f} MB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--width", type=int, default=8)
    args = p.parse_args()
    runs = Path(tempfile.mkdtemp(prefix="resviz-bench-"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        t0 = time.perf_counter()
        with app_server(runs) as app:
            url = app.url
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            open_page(page, url, settle_ms=0)
            print(f"cold start to first rendered page: {time.perf_counter() - t0:.2f} s")
            print(f"{'page':<16}{'first load s':>14}{'warm load s':>13}")
            for name, path in PAGES.items():
                times = []
                for _ in range(3):
                    t = time.perf_counter()
                    open_page(page, f"{url}/{path}", settle_ms=0)
                    times.append(time.perf_counter() - t)
                print(f"{name:<16}{times[0]:>14.2f}{statistics.median(times[1:]):>13.2f}")
            preset(page, url, app)
            train_in_browser(browser.new_page(viewport={"width": 1280, "height": 800}), url, args)
            live = throughput(max(runs.rglob("*.json"), key=lambda p: p.stat().st_mtime))
        browser.close()
    out = runs / "cli.json"
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")  # as app.py sets it: same torch settings
    subprocess.run([sys.executable, "-m", "resviz", "train", "--arch", "residual",
                    "--depth", "20", "--width", str(args.width), "--steps",
                    str(args.steps), "--eval-every", str(max(1, args.steps // 10)),
                    "--out", str(out)], cwd=ROOT, env=env, check=True, capture_output=True)
    cli = throughput(out)
    print(f"ResNet-20 width {args.width}, {args.steps} steps of batch 64: "
          f"live view {live:,.0f} img/s, command line {cli:,.0f} img/s, ratio {live / cli:.2f}")


if __name__ == "__main__":
    main()
