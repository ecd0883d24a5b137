"""The Inside-the-network page's costs and what its pictures show, on the networks it ships
(assets/inside). Prints three tables.

    OMP_WAIT_POLICY=PASSIVE nice -n 10 python -m scripts.bench_inside [--repeats 3] [--am-steps 96]
        [--browser 3]

1. Each attribution and the activation maximisation of one group of channels (the page's 6
   channels x 3 images), regularised (Olah et al. 2017) and plain, with the mean centre-unit
   value it reaches and the share of its energy at high frequencies (above half the highest).
2. The edge fit and linear probes, trained against the seeded initial weights.
3. With --browser N: a server is started, one Chromium visit warms it (every analysis of the
   default network computed once), then N fresh visits time the title (the script has started
   drawing), the first figure (plotly drawn) and the page's end.

Each time is the median of `repeats` runs after one warm-up, on one validation image.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial

import torch

from resviz import attribution, features, models, shipped
from resviz import data as datasets
from resviz.models import build_seeded
from resviz.runtime import describe_device, pick_device

AM_CHANNELS, AM_STARTS = 6, 3  # the page's group of channels and images per channel


def median_s(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """The median time of `repeats` calls after one warm-up (allocator, oneDNN primitives),
    and the last call's result."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def high_frequency_share(x: torch.Tensor) -> float:
    power = torch.fft.rfft2(x - x.mean((2, 3), keepdim=True)).abs() ** 2
    fy, fx = torch.fft.fftfreq(x.shape[-2]).abs()[:, None], torch.fft.rfftfreq(x.shape[-1])
    return (power[..., (fy > 0.25) | (fx > 0.25)].sum() / power.sum()).item()


def centre_units(net, layer: str, x: torch.Tensor) -> float:
    unit = features.last_relu(net, layer)
    with torch.no_grad():
        out = features.outputs(models.eval_copy(net), x, [unit], inputs=True)[unit]
    row, col = features.centre(out.shape[-2:])
    chans = torch.arange(AM_CHANNELS).repeat_interleave(len(x) // AM_CHANNELS)
    return out[torch.arange(len(x)), chans, row, col].mean().item()


def costs(item: shipped.Shipped, net, data, args) -> None:
    image, target = data.x_val[0], int(data.y_val[0])
    print(f"\n{item.title}, width {item.net.width}")
    print(f"{'what':<66}{'s':>7}{'unit':>8}{'high f':>8}")
    for method in attribution.METHODS:
        s, _ = median_s(lambda m=method: attribution.attribute(net, image, target, m), args.repeats)
        print(f"{method:<66}{s:>7.2f}")
    marks = features.depth_labels(features.layer_names(net))
    for layer in [n for n, m in marks.items() if m in ("early", "late")]:
        for robust in (True, False):
            per = AM_STARTS if robust else 1
            s, x = median_s(
                partial(
                    features.activation_maximisation,
                    net,
                    layer,
                    range(AM_CHANNELS),
                    data,
                    args.am_steps,
                    per_channel=per,
                    robust=robust,
                ),
                1,
            )
            what = (
                f"activation max., {layer}, {AM_CHANNELS}x{per} images, {args.am_steps} "
                f"steps, {'regularised' if robust else 'plain'}"
            )
            print(
                f"{what:<66}{s:>7.2f}{centre_units(net, layer, x):>8.2f}"
                f"{high_frequency_share(data.images(x)):>8.0%}"
            )


def measurements(item: shipped.Shipped, net, data) -> None:
    initial = build_seeded(item.net, item.train.seed).eval()
    before, after = (features.first_layer_filters(n) for n in (initial, net))
    fit0, fit1 = features.edge_fit(before), features.edge_fit(after)
    count, k = len(after), after.shape[-1]
    print(
        f"edge fit of the first layer's {count} {k}x{k} kernels (random: "
        f"{2 / (k * k - 1):.2f}): {fit0.mean():.2f} at initialisation, {fit1.mean():.2f} "
        f"after training; {(fit1 > fit0.max()).sum()} trained kernels beat every initial one"
    )
    names = features.layer_names(net)
    probe1, probe0 = (features.probe_accuracy(n, data, names) for n in (net, initial))
    marks = features.depth_labels(names)
    print(
        f"linear probe, validation accuracy (chance {1 / len(data.classes):.0%}): "
        + ", ".join(
            f"{m} ({n}) {probe1[n]:.0%} (initial {probe0[n]:.0%})" for n, m in marks.items()
        )
    )


def browser(visits: int) -> None:
    from playwright.sync_api import sync_playwright

    from scripts.appserver import CHROMIUM, FLAGS, PAGES, READY, app_server

    chart = "[data-testid='stPlotlyChart'] .main-svg"
    with tempfile.TemporaryDirectory() as runs, sync_playwright() as pw, app_server(runs) as app:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        url = f"{app.url}/{PAGES['inside']}"
        firsts, lasts = [], []
        for visit in range(visits + 1):  # the first visit warms the server
            page = chromium.new_page(viewport={"width": 1280, "height": 800})
            t0 = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("h1", timeout=300_000)  # the page's title: the script runs
            title = time.perf_counter() - t0
            page.wait_for_selector(chart, timeout=300_000)
            first = time.perf_counter() - t0
            page.wait_for_selector(READY, timeout=300_000)
            last = time.perf_counter() - t0
            page.close()
            print(
                f"visit {visit} ({'warms the server' if visit == 0 else 'warm'}): title "
                f"{title:.1f} s, first figure {first:.1f} s, page finished {last:.1f} s, load "
                f"average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            if visit:
                firsts.append(first)
                lasts.append(last)
        print(
            f"warm server, median of {visits}: first figure {statistics.median(firsts):.1f} s, "
            f"page finished {statistics.median(lasts):.1f} s"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--am-steps", type=int, default=96)
    p.add_argument("--browser", type=int, default=0, help="warm visits to time (0: none)")
    p.add_argument("--skip-costs", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    print(
        f"on {describe_device(pick_device())}, {torch.get_num_threads()} torch threads, load "
        f"average {os.getloadavg()[0]:.1f}"
    )
    if not args.skip_costs:
        for item in shipped.networks():
            state, _ = shipped.load_shipped(item)
            net, data = models.from_state(item.net, state), datasets.load(item.train.dataset)
            costs(item, net, data, args)
            measurements(item, net, data)
    if args.browser:
        browser(args.browser)


if __name__ == "__main__":
    main()
