"""The Inside-the-network page's costs and what its pictures show, on the networks it ships
(assets/inside). Prints three tables.

    OMP_WAIT_POLICY=PASSIVE nice -n 10 python -m scripts.bench_inside [--repeats 3] [--am-steps 96]
        [--imagenet] [--server 5] [--browser 3] [--skip-costs]

1. Each attribution and the activation maximisation of one group of channels (the page's 6
   channels x 3 images), regularised (Olah et al. 2017) and plain, with the mean centre-unit
   value it reaches and the share of its energy at high frequencies (above half the highest).
2. The edge fit and linear probes, trained against the seeded initial weights.
3. With --imagenet: the ImageNet ResNet-18's attributions at 224 px, time and peak memory.
4. With --server N: the page's first render in a warm process, as the server makes it (an
   AppTest script run of a fresh session after one that computed every shared analysis): the
   engine's part of the first figure, without the browser.
5. With --browser N: a server is started, one Chromium visit warms it (every analysis of the
   default network computed once), then N fresh visits time the title (the script has started
   drawing), the first figure (the first-layer filters drawn), the first plotly chart drawn
   and the page's end.

Each time is the median of `repeats` runs after one warm-up, on one validation image.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

import torch
from torchvision.models import resnet18

from resviz import attribution, features, models, pretrained, shipped
from resviz import data as datasets
from resviz.lesson_convolutions import SAMPLE_PHOTOS
from resviz.models import build_seeded
from resviz.runtime import describe_device, pick_device
from resviz.ui.imagenet_view import IG_BATCH, IG_STEPS
from scripts.appserver import READY

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
    readout1, readout0 = (features.readout_accuracy(n, data, names) for n in (net, initial))
    marks = features.depth_labels(names)
    print(
        f"linear readout, validation accuracy (chance {1 / len(data.classes):.0%}): "
        + ", ".join(
            f"{m} ({n}) {readout1[n]:.0%} (initial {readout0[n]:.0%})" for n, m in marks.items()
        )
    )


def imagenet(repeats: int) -> None:
    """The ImageNet ResNet-18's attributions on one 224 px photo: time and the process's peak
    memory, cheapest first (the peak only grows). A seeded random ResNet-18 costs what the
    downloaded one does and needs no network."""
    torch.manual_seed(0)
    net = resnet18().eval().requires_grad_(False)
    x = pretrained.photo(SAMPLE_PHOTOS[0])
    print(f"\nImageNet ResNet-18 (random weights), {SAMPLE_PHOTOS[0]} at {x.shape[-1]} px")
    print(f"{'what':<56}{'s':>7}{'peak MB':>9}")
    runs = [(m, IG_STEPS, IG_STEPS) for m in ("Grad-CAM", "saliency")]
    runs += [("integrated gradients", IG_STEPS, b) for b in (IG_BATCH, 2 * IG_BATCH, IG_STEPS)]
    for method, steps, batch in runs:
        s, _ = median_s(
            partial(attribution.attribute, net, x, 0, method, steps, layer="layer4", batch=batch),
            repeats,
        )
        what = method + (f", {steps} steps, {batch} at once" if "integrated" in method else "")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{what:<56}{s:>7.2f}{peak:>9.0f}")


def server(visits: int) -> None:
    from streamlit.testing.v1 import AppTest

    from scripts.appserver import ROOT

    times = []
    for _ in range(visits + 1):  # the first computes the shared analyses
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        at.run()
        at.switch_page("pages/inside.py")
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        assert not at.exception, at.exception
    print(
        f"the page's script run in a fresh session: {times[0]:.2f} s in a fresh process, "
        f"then median of {visits} {statistics.median(times[1:]):.2f} s "
        f"(min {min(times[1:]):.2f}, max {max(times[1:]):.2f})"
    )


CHART = "[data-testid='stPlotlyChart'] .main-svg"
MILESTONES = {  # what a visitor sees, in the order it comes: a selector, or a JS predicate
    "title": "h1",
    # the first-layer filters, the page's first figure: PNG images sent inline (a plotly chart
    # until commit fa1b3d7, drawn with every other chart once plotly's script had loaded)
    "first figure": "() => [...document.querySelectorAll(\"img[src^='data:image/png']\")]"
    ".some(i => i.complete && i.naturalWidth > 0)"
    f' || document.querySelector("{CHART}") !== null',
    "first chart": CHART,
    "end": READY,
}


def browser(visits: int) -> None:
    from playwright.sync_api import sync_playwright

    from scripts.appserver import CHROMIUM, FLAGS, PAGES, app_server

    with tempfile.TemporaryDirectory() as runs, sync_playwright() as pw, app_server(runs) as app:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        url = f"{app.url}/{PAGES['inside']}"
        times: dict[str, list[float]] = {k: [] for k in list(MILESTONES)[1:]}
        for visit in range(visits + 1):  # the first visit warms the server
            page = chromium.new_page(viewport={"width": 1280, "height": 800})
            t0 = time.perf_counter()
            page.goto(url)
            seen = {}
            for what, selector in MILESTONES.items():
                if selector.startswith("() =>"):
                    page.wait_for_function(selector, timeout=300_000)
                else:
                    page.wait_for_selector(selector, timeout=300_000)
                seen[what] = time.perf_counter() - t0
            page.close()
            print(
                f"visit {visit} ({'warms the server' if visit == 0 else 'warm'}): "
                + ", ".join(f"{k} {v:.1f} s" for k, v in seen.items())
                + f", load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            for k in times if visit else ():
                times[k].append(seen[k])
        print(
            f"warm server, median of {visits}: "
            + ", ".join(f"{k} {statistics.median(v):.1f} s" for k, v in times.items())
        )


def machine() -> str:
    """Where and when: the date, the CPU, the cores this process may use, torch, the commit."""
    model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in open("/proc/cpuinfo")
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {model}, "
        f"{describe_device(pick_device())}, torch {torch.__version__}, commit {commit}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--am-steps", type=int, default=96)
    p.add_argument("--server", type=int, default=0, help="warm script runs to time (0: none)")
    p.add_argument("--browser", type=int, default=0, help="warm visits to time (0: none)")
    p.add_argument("--skip-costs", action="store_true")
    p.add_argument("--imagenet", action="store_true", help="the ImageNet ResNet-18's costs")
    args = p.parse_args()
    torch.set_num_threads(1)
    print(
        f"{machine()}; {torch.get_num_threads()} torch threads, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    if not args.skip_costs:
        for item in shipped.networks():
            state, _ = shipped.load_shipped(item)
            net, data = models.from_state(item.net, state), datasets.load(item.train.dataset)
            costs(item, net, data, args)
            measurements(item, net, data)
    if args.imagenet:
        imagenet(args.repeats)
    if args.server:
        server(args.server)
    if args.browser:
        browser(args.browser)


if __name__ == "__main__":
    main()
