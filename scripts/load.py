"""A classroom at once: N sessions on one server, each starting or joining a run; prints figures.

    python -m scripts.load                       # 8 sessions, each clicks a preset on Home
    python -m scripts.load --sessions 8 --steps 100 --browsers 2   # 8 different custom runs
    python -m scripts.load --link --sessions 30 --browsers 4       # a class opens a teacher's link

One Chromium, one browser context per session (separate cookies and websockets: separate
Streamlit sessions). With --link, every session opens /training?preset=...&classroom=1 at a
random moment within --spread seconds: --browsers of them in Chromium, the others through
Streamlit's own websocket protocol (scripts/wsclient.py: the same messages, nothing drawn), so
that thirty sessions fit on 2 cores beside the app. Otherwise all click at the same moment: a
preset on Home (every session asks for the same runs: trained once, followed by all), or with
--steps one ResNet-20 from the Train form, each session a different width (a job each: on 2
cores two train side by side and the others wait in the queue, shown their place and an
estimated start, compared here with when training really started); --browsers of them fill the
form in Chromium, the others submit it through the websocket protocol. While they train, browser
sessions time in-app page changes (Train -> Build -> Train: a script run under load). Checks:
every job finishes or showed its queue position; each session's history holds only its own
runs; the server's memory after all tabs close, against a server that has trained once. With
--close-one, session 1 closes its tab mid-run: its job must stop. With --hostile, each browser
session first makes the uploads of the hardening issue, files of its own: a 56 KB PNG of
4,000 x 4,000 pixels on Convolutions (then two kernel edits, each a rerun), sixteen 4.9 MB run
files of 445,000 tiny records on Experiments, and the 1e999-step "brick" in Train's History.

    nice -n 10 python -m scripts.load --hostile    # the memory figures of docs/BAD_INPUT.md

The websocket clients run at --clients-nice 10 against the server: here they share its cores,
in a class they are the students' machines. Chromium's niceness does not help: it starts in a
session of its own, and the kernel's autogroups share the cores fairly between sessions whatever
their threads' niceness (so 8 Chromium tabs took 0.8 of the 2 cores, the server 1.1). Classes of
more than a tab or two are therefore mostly websocket sessions (--browsers). The queue's estimates
are best judged with --browsers 0: a tab's share of the cores slows training by a load the server
cannot foresee, and never has where students' browsers run on their own machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import tempfile
import time
import traceback
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from scripts.appserver import CHROMIUM, FLAGS, app_server
from scripts.load_pages import (
    BUILD_TITLE,
    TRAIN_TITLE,
    Session,
    _fill_custom,
    _goto_page,
    _hostile,
    _open,
    _ready,
    hostile_files,
    rss_mb,
    seconds,
)
from scripts.load_report import report
from scripts.wsclient import Form, Tab

PRESETS = ("degradation", "vanishing", "paper-figure")
HOME_TITLE = "Why residual networks work"
ENDED = re.compile(r"(done|stopped|failed): step (\d+) of (\d+)")
QUEUED = re.compile(r"number (\d+) in the queue")
DURATION = r"((?:\d+ min )?\d+ s)"
ETA = re.compile(rf"Estimated start in about {DURATION}, end in about {DURATION}")
RUNNING = re.compile(r"running: step \d+")
SUBMIT = ".st-key-train_submit button"  # the Train form's button


async def run_session(s: Session, browser, url: str, args, go: asyncio.Event, ready: list) -> None:
    if s.via == "websocket":  # custom only: --browsers splits only --link and --steps classes
        await _run_form(s, url, args, go, ready)
        return
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await ctx.new_page()
    if args.hostile:  # then on to its run in the same session
        await _hostile(s, page, url, hostile_files(args.hostile_dir, s.index))
        await _goto_page(
            page, *(("Train", TRAIN_TITLE) if s.how == "custom" else ("Home", HOME_TITLE))
        )
    else:
        await _open(page, url + ("/training" if s.how == "custom" else "/"))
    if s.how == "custom":
        await _fill_custom(page, args.steps, _width(s, args))
        button = page.locator(SUBMIT)
    else:
        button = page.locator(f".st-key-home_preset_{s.how} button")
    ready.append(s.index)
    await go.wait()
    t0, s.clicked = time.perf_counter(), time.time()
    await button.click()
    await _follow(s, ctx, page, t0, args)


def _width(s: Session, args) -> int:
    """The width of the session's ResNet-20 with --steps: a different run each."""
    return args.width + s.index - 1


async def _run_form(s: Session, url: str, args, go: asyncio.Event, ready: list) -> None:
    """The Train form through the websocket protocol: one ResNet-20 of the session's width."""
    values = {"train_configs": [1.0], "train_steps": args.steps, "train_width": _width(s, args)}
    form = Form(values, "train_submit", go)
    tab = Tab(url, "training", "", form=form)
    following = asyncio.create_task(tab.run(ENDED, args.timeout + 300))  # 300: the others' set-up
    await form.ready.wait()
    ready.append(s.index)
    await go.wait()
    s.clicked = time.time()
    await following
    _read(s, tab, form.sent)


def _read(s: Session, tab: Tab, t0: float) -> None:
    """What a websocket session was shown, timed from `t0` (time.monotonic() of its click)."""
    s.sid = parse_qs(tab.query).get("session", [""])[0]
    s.positions = {int(m[1]) for _, text in tab.seen for m in [QUEUED.search(text)] if m}
    s.etas = [t - t0 + seconds(m[1]) for t, text in tab.seen if t >= t0 and (m := ETA.search(text))]
    if (end := tab.first(ENDED)) is not None:
        s.ended, s.seconds = end[1][0], end[0] - t0
    if (start := tab.first(RUNNING)) is not None:
        s.shown_running = start[0] - t0


async def run_link(s: Session, browser, url: str, args, go: asyncio.Event, delay: float) -> None:
    """Open the teacher's link `delay` seconds after the start, follow the run to its end."""
    link = f"training?preset={s.how}&classroom=1"
    await go.wait()
    await asyncio.sleep(delay)
    t0, s.clicked = time.perf_counter(), time.time()
    if s.via == "websocket":
        tab = Tab(url, *link.split("?"))
        await tab.run(ENDED, args.timeout)
        _read(s, tab, tab.opened)
        return
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await ctx.new_page()
    await page.goto(f"{url}/{link}", timeout=120_000)  # under load the page takes its time
    await _follow(s, ctx, page, t0, args)


async def _follow(s: Session, ctx, page, t0: float, args) -> None:
    """Watch the Train page until the run ends: its queue place, estimate, start and end."""
    await page.get_by_role("heading", name=TRAIN_TITLE).first.wait_for(timeout=120_000)
    s.sid = parse_qs(urlparse(page.url).query).get("session", [""])[0]
    deadline = t0 + args.timeout
    last_render = time.perf_counter()
    # The tab that will close stays on the Train page, so that it sees its run start: a trip to
    # another page under load takes seconds, and a short run could end meanwhile.
    closing = args.close_one and s.index == 1
    while time.perf_counter() < deadline:
        text = await page.locator("[data-testid='stMain']").inner_text()
        s.positions |= {int(p) for p in QUEUED.findall(text)}
        if m := ETA.search(text):
            s.etas.append(time.perf_counter() - t0 + seconds(m[1]))
        if not s.shown_running and RUNNING.search(text):
            s.shown_running = time.perf_counter() - t0
        if m := ENDED.search(text):
            s.ended, s.seconds = m[0], time.perf_counter() - t0
            break
        if closing and re.search(r"running: step [1-9]", text):
            s.closed = True  # a closed tab: its session ends, its job must stop
            await ctx.close()
            return
        # Page changes once it trains: while it waits, the page watches for its start.
        if (
            not closing
            and s.shown_running
            and time.perf_counter() - last_render > args.render_every
        ):
            s.renders.append(await _goto_page(page, "Build", BUILD_TITLE))
            s.renders.append(await _goto_page(page, "Train", TRAIN_TITLE))
            last_render = time.perf_counter()
        await asyncio.sleep(0.5)
    if s.ended:
        await page.wait_for_timeout(1500)  # the rerun that files the finished runs away
        await _ready(page)
        # One JSON download button per run shown for comparison (up to 4 are preselected).
        s.history = await page.locator("[class*='st-key-train_json']").count()
    await ctx.close()


def folder_runs(runs: Path, sid: str) -> list[dict]:
    """The session's run files, oldest first, each with the time it was written ("saved")."""
    if not sid:
        return []
    paths = sorted((runs / sid).glob("*.json"), key=lambda p: p.stat().st_mtime)
    return [{**json.loads(p.read_text()), "saved": p.stat().st_mtime} for p in paths]


async def main_async(args) -> dict:
    from playwright.async_api import async_playwright

    runs = Path(args.runs or tempfile.mkdtemp(prefix="resviz-load-"))
    hows = (
        ["custom"] * args.sessions
        if args.steps
        else [
            args.preset if args.preset != "rotate" else PRESETS[i % 3] for i in range(args.sessions)
        ]
    )
    sessions = [
        Session(
            i + 1,
            how,
            via="browser" if not (args.link or args.steps) or i < args.browsers else "websocket",
        )
        for i, how in enumerate(hows)
    ]
    delays = random.Random(0).sample(range(1000), len(sessions))  # spread over --spread seconds
    with app_server(runs) as app:
        # From here on this process (the websocket clients) and Playwright's driver are the
        # class's side: niced, so that on one machine they yield the cores to the server, as
        # students' machines would. Chromium escapes it (see the module's docstring).
        os.nice(args.clients_nice)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            # Warm-up: one session loads Train (imports, datasets) and trains a 10-step run (the
            # one-time costs of a first job: the optimizer's and the memory check's imports,
            # oneDNN's kernels), then closes. The baseline is that warm server.
            warm = await browser.new_page()
            await _open(warm, app.url + "/training")
            cold = rss_mb(app.pid)
            await _fill_custom(warm, 10, 4)
            await warm.locator(SUBMIT).click()
            await warm.get_by_text(ENDED).first.wait_for(timeout=120_000)
            await warm.close()
            await asyncio.sleep(3)
            baseline = rss_mb(app.pid)
            go, ready, peak = asyncio.Event(), [], [baseline]
            if args.link:
                ready = [s.index for s in sessions]  # nothing to prepare: each opens the link
                tasks = [
                    asyncio.create_task(
                        run_link(s, browser, app.url, args, go, d * args.spread / 1000)
                    )
                    for s, d in zip(sessions, delays)
                ]
            else:
                tasks = [
                    asyncio.create_task(run_session(s, browser, app.url, args, go, ready))
                    for s in sessions
                ]

            async def sample():
                while True:
                    peak.append(rss_mb(app.pid))
                    await asyncio.sleep(0.25)

            sampler = asyncio.create_task(sample())
            while len(ready) < len(sessions):
                await asyncio.sleep(0.2)
                if any(t.done() and t.exception() for t in tasks):
                    break
            go.set()  # everyone clicks at once
            for s, outcome in zip(sessions, await asyncio.gather(*tasks, return_exceptions=True)):
                if isinstance(outcome, Exception):  # reported, and the others still count
                    s.ended = f"error: {type(outcome).__name__}"
                    traceback.print_exception(outcome)
            await browser.close()
        await asyncio.sleep(args.settle)  # closed sessions release their jobs
        after = rss_mb(app.pid)
        sampler.cancel()
        peak_mb = max(max(peak), rss_mb(app.pid, "VmHWM:"))
    return {
        "sessions": sessions,
        "cold": cold,
        "baseline": baseline,
        "peak": peak_mb,
        "after": after,
        "folder": runs,
        "runs": {s.index: folder_runs(runs, s.sid) for s in sessions},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument(
        "--preset",
        default="degradation",
        choices=(*PRESETS, "rotate"),
        help="the preset each session starts from Home (rotate: all three in turn)",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=0,
        help="instead of a preset: one ResNet-20 of this many steps from the Train form",
    )
    p.add_argument("--width", type=int, default=4, help="its width (with --steps)")
    p.add_argument("--timeout", type=float, default=900, help="seconds each session waits")
    p.add_argument(
        "--render-every",
        type=float,
        default=5.0,
        help="seconds between timed page changes while a session waits or trains",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=130.0,
        help="seconds to wait after closing before measuring memory (Streamlit keeps "
        "a closed tab's session 120 s for a reconnect)",
    )
    p.add_argument("--close-one", action="store_true", help="session 1 closes its tab mid-run")
    p.add_argument(
        "--link",
        action="store_true",
        help="each session opens the teacher's link to --preset instead of clicking",
    )
    p.add_argument(
        "--browsers",
        type=int,
        default=4,
        help="with --link or --steps: sessions in Chromium; the others use the websocket protocol",
    )
    p.add_argument(
        "--spread",
        type=float,
        default=10.0,
        help="with --link: the sessions open it within this many seconds",
    )
    p.add_argument(
        "--hostile",
        action="store_true",
        help="each browser session first uploads the hardening issue's files",
    )
    p.add_argument("--runs", help="runs folder (default: a new temporary folder)")
    p.add_argument(
        "--clients-nice",
        type=int,
        default=10,
        help="niceness of the websocket clients against the server's 0: they share its cores "
        "here, not in a class (0: the same priority; Chromium shares them fairly whatever this)",
    )
    args = p.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    with tempfile.TemporaryDirectory(prefix="resviz-hostile-") as folder:  # 80 MB a session
        args.hostile_dir = Path(folder)
        report(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
