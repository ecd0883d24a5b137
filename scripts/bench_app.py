"""The app in a real browser, timed: cold start, each page's render, the "Degradation" preset's
wall time and the server's peak memory meanwhile, and training throughput with the live view open
against the command line on the same configuration. Prints a table.

    python -m scripts.bench_app [--steps 200] [--width 8] [--parts pages preset live] [--pin]
                                [--rounds 3]

The live-view run is the Train form's first configuration as it opens: ResNet-20, trained once
with the Train page open and once mostly on another page; each row gives the CPUs the server and
the browser (Chromium, on the same host here; on a student's laptop in a class) kept busy.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from resviz.presets import PRESETS
from scripts.appserver import (
    CHROMIUM,
    FLAGS,
    PAGES,
    ROOT,
    app_server,
    cpu_seconds,
    descendants,
    open_page,
)

SERVER_CPUS, BROWSER_CPUS = {0}, {1}


def throughput(run_file: Path, within_s: float | None = None) -> float:
    """Training images per second over a run, evaluations included; with `within_s`, over the
    records written in its first `within_s` seconds only."""
    run = json.loads(run_file.read_text())
    last = [r for r in run["records"] if within_s is None or r["elapsed"] <= within_s][-1]
    return last["step"] * run["train"]["batch_size"] / last["elapsed"]


def newest(runs: Path) -> Path:
    return max(runs.rglob("*.json"), key=lambda p: p.stat().st_mtime)


def train_in_browser(page, url: str, args, away_s: float = 0) -> tuple[float, float]:
    """Train the form's first configuration; with `away_s`, spend that long on another page of
    the app (the live view closed) before coming back. (server, browser) CPU seconds used."""
    open_page(page, f"{url}/training")
    page.keyboard.press("Escape")
    page.get_by_text("Your own configurations", exact=True).click()
    page.locator(".st-key-train_configs").get_by_role("slider").press("Home")  # one configuration
    for key, value in (("train_steps", args.steps), ("train_width", args.width)):
        box = page.locator(f".st-key-{key} input")
        box.fill(str(value))
        box.press("Tab")
    server = descendants(args.server_pid)
    browser = descendants(os.getpid()) - {os.getpid()} - server  # Playwright and Chromium
    cpu0 = cpu_seconds(server), cpu_seconds(browser)
    page.locator(".st-key-train_submit button").click()
    if away_s:
        page.get_by_role("link", name="Residual block").click()
        page.wait_for_timeout(1000 * away_s)
        page.get_by_role("link", name="Train").click()
    page.get_by_text(f"done: step {args.steps} of {args.steps}").wait_for(timeout=600_000)
    return cpu_seconds(server) - cpu0[0], cpu_seconds(browser) - cpu0[1]


def preset(page, url: str, app) -> None:
    """Click "Degradation" and time it to its end; the server's peak RSS covers the run."""
    steps = PRESETS["degradation"].train.steps
    open_page(page, f"{url}/training")
    page.keyboard.press("Escape")
    t0 = time.perf_counter()
    page.locator(".st-key-train_preset_degradation button").click()
    page.get_by_text(f"done: step {steps} of {steps}").wait_for(timeout=600_000)
    print(
        f"Degradation preset (4 networks x {steps} steps): {time.perf_counter() - t0:.1f} s, "
        f"server peak RSS {app.peak_rss_mb():,.0f} MB"
    )


def pages(browser, app, t0: float) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    open_page(page, app.url, settle_ms=0)
    print(
        f"cold start to first rendered page: {time.perf_counter() - t0:.2f} s, "
        f"server RSS {app.rss_mb():,.0f} MB"
    )
    print(f"{'page':<16}{'first load s':>14}{'warm load s':>13}{'server RSS MB':>15}")
    for name, path in PAGES.items():
        times = []
        for _ in range(3):
            t = time.perf_counter()
            open_page(page, f"{app.url}/{path}", settle_ms=0)
            times.append(time.perf_counter() - t)
        print(
            f"{name:<16}{times[0]:>14.2f}{statistics.median(times[1:]):>13.2f}"
            f"{app.rss_mb():>15,.0f}"
        )


def command_line(runs: Path, args, precision: str) -> float:
    """The same run from the command line (as `python -m resviz train`), in images per second."""
    out = runs / "cli.json"
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")  # as app.py sets it: same torch settings
    subprocess.run(
        [
            sys.executable,
            "-m",
            "resviz",
            "train",
            "--arch",
            "residual",
            "--depth",
            "20",
            "--width",
            str(args.width),
            "--steps",
            str(args.steps),
            "--eval-every",
            str(max(1, args.steps // 10)),
            "--precision",
            precision,
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        preexec_fn=(lambda: os.sched_setaffinity(0, SERVER_CPUS)) if args.pin else None,
    )
    return throughput(out)


def live_view(browser, app, runs: Path, args) -> None:
    """The same run with the Train page open, then away on another page, then headless, in
    `args.rounds` rounds: this host's speed drifts by about 10% from minute to minute, so each
    round's ratios are against that round's command line, and the median of them is the figure."""
    args.server_pid = app.pid
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    for _ in range(args.rounds):
        measured = []
        for setting, away in (("live view open", 0), ("live view closed", args.away)):
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            t = time.perf_counter()
            server, chromium = train_in_browser(page, app.url, args, away)
            wall = time.perf_counter() - t
            run_file = newest(runs)
            measured.append(
                (
                    setting,
                    throughput(run_file, within_s=away - 5 if away else None),
                    server / wall,
                    chromium / wall,
                )
            )
            page.close()
        precision = json.loads(run_file.read_text())["train"]["precision"]
        cli = command_line(runs, args, precision)
        rows.setdefault("command line", []).append((cli, 1.0, math.nan, math.nan))
        for setting, ips, server, chromium in measured:
            rows.setdefault(setting, []).append((ips, ips / cli, server, chromium))
    print(
        f"ResNet-20 width {args.width}, {args.steps} steps of batch 64, {precision}; median of "
        f"{args.rounds} rounds (ratios against each round's own command-line run)"
    )
    print(
        f"{'setting':<20}{'img/s':>8}{'x CLI':>8}{'x CLI, each round':>26}{'server CPUs':>13}"
        f"{'browser CPUs':>14}"
    )
    for setting, values in rows.items():
        ips, ratio, server, chromium = (statistics.median(col) for col in zip(*values))
        each = " ".join(f"{v[1]:.2f}" for v in values)
        cpus = "" if math.isnan(server) else f"{server:>13.2f}{chromium:>14.2f}"
        print(f"{setting:<20}{ips:>8,.0f}{ratio:>8.2f}{each:>26}{cpus}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3, help="live-view rounds (median reported)")
    p.add_argument(
        "--away",
        type=float,
        default=30,
        help="seconds the closed-live-view run spends on another page",
    )
    p.add_argument(
        "--parts",
        nargs="+",
        choices=("pages", "preset", "live"),
        default=["pages", "preset", "live"],
    )
    p.add_argument(
        "--pin",
        action="store_true",
        help="server and command line on CPU 0, the browser on CPU 1: the browser "
        "then costs what it would on a student's own computer",
    )
    args = p.parse_args(argv)
    runs = Path(tempfile.mkdtemp(prefix="resviz-bench-"))
    if args.pin:  # this process's children (Playwright, Chromium) inherit CPU 1
        os.sched_setaffinity(0, BROWSER_CPUS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        t0 = time.perf_counter()
        with app_server(runs, cpus=SERVER_CPUS if args.pin else None) as app:
            if "pages" in args.parts:
                pages(browser, app, t0)
            if "preset" in args.parts:
                preset(browser.new_page(viewport={"width": 1280, "height": 800}), app.url, app)
            if "live" in args.parts:
                live_view(browser, app, runs, args)
        browser.close()


if __name__ == "__main__":
    main()
