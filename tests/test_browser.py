"""End to end in a real browser: Debian's Chromium driven by Playwright against `streamlit run`.

Opens every page, trains a tiny run live, watches its curve grow, stops it, and saves a
screenshot of every page at 1280x800 and at a projector's 1024x768 into `screenshots/`.
In CI (CI=true) a missing browser fails the run instead of skipping it.
"""

import re
from pathlib import Path

import pytest

from resviz.shelf import parse
from scripts.appserver import PAGES, READY
from scripts.appserver import open_page as _open
from tests.helpers import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


# A redraw may replace the chart's element: read it defensively, as plotly's own data.
_MORE_POINTS = """n => { const p = document.querySelector('.js-plotly-plot');
    return !!(p && p.data && p.data[0].x && p.data[0].x.length > n); }"""


def _points(page) -> int:
    """Points in the first chart's first trace, read from plotly's own data in the page."""
    return page.evaluate("""() => {
        const plot = document.querySelector('.js-plotly-plot');
        return plot && plot.data && plot.data[0].x ? plot.data[0].x.length : 0; }""")


def test_a_deep_link_to_a_fresh_server_runs_through_the_router(server, browser):
    # First request this server sees. Streamlit's legacy pages/ mode may show a one-time
    # "Page not found" notice before the router takes over (see README); what matters is that
    # the router ran (shared sidebar) and the linked page, with its query string, is shown.
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _open(page, f"{server}/training?from=link")
    page.keyboard.press("Escape")
    assert page.get_by_text("Train plain and residual networks").is_visible()
    assert page.get_by_text("Classroom mode").is_visible()
    assert "from=link" in page.url
    page.close()


@pytest.mark.parametrize("width, height", [(1280, 800), (1024, 768)])
def test_every_page_renders_without_an_error(server, browser, width, height):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": width, "height": height})
    for name, path in PAGES.items():
        _open(page, f"{server}/{path}")
        page.keyboard.press("Escape")
        assert page.locator("[data-testid='stException']").count() == 0, name
        assert page.locator("h1").count() >= 1, name
        page.screenshot(path=str(SHOTS / f"{name}-{width}x{height}.png"), full_page=True)
    page.close()


def test_a_live_run_grows_then_stops(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _open(page, f"{server}/training")
    page.keyboard.press("Escape")
    page.get_by_text("Your own configurations", exact=True).click()
    for key, value in (("train_steps", "5000"), ("train_width", "4")):
        box = page.locator(f".st-key-{key} input")
        box.fill(value)
        box.press("Tab")  # Enter would submit the form before the next field is set
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function(_MORE_POINTS, arg=1, timeout=90_000)
    first = _points(page)
    page.wait_for_function(_MORE_POINTS, arg=first, timeout=60_000)  # a later poll drew more
    page.locator(".st-key-train_stop button").click()
    page.get_by_text("stopped: step").wait_for(timeout=30_000)  # one step, on a busy host
    page.wait_for_timeout(1500)  # the rerun that files the stopped run away, then quiet
    page.wait_for_selector(READY, timeout=30_000)
    stopped_at = _points(page)
    page.wait_for_timeout(2000)
    assert _points(page) == stopped_at
    page.screenshot(path=str(SHOTS / "train-live-1280x800.png"), full_page=True)
    # The history's file is written when its button is clicked: it reads back as the run drawn.
    with page.expect_download() as download:
        page.locator("[class*='st-key-train_json'] button").first.click()
    run = parse(Path(download.value.path()).read_bytes())
    said = re.search(
        rf"{run.label}: training error .*? \(mean of steps \d+-(\d+)\)",
        page.locator("[data-testid='stMain']").inner_text(),
    )
    assert run.status == "stopped" and int(said[1]) == run.records[-1]["step"]
    # Same session (a sidebar link, not a new page load): the stopped run's gradients.
    page.get_by_role("link", name="Gradient flow").click()
    page.get_by_text("gradient entering each block").first.wait_for(timeout=60_000)
    page.wait_for_selector(READY, timeout=60_000)
    assert (
        page.evaluate("() => document.querySelector('.js-plotly-plot').layout.yaxis.type") == "log"
    )
    page.screenshot(path=str(SHOTS / "gradient-flow-trained-1280x800.png"), full_page=True)
    page.close()
