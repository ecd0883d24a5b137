"""In a real browser, with a session that already has runs: one run keeps one colour on every
page, and the Inside page shows its figures as it opens, before anything is clicked."""

import time

import pytest

from resviz.runs import save
from scripts.appserver import PAGES, app_server
from scripts.appserver import open_page as _open
from tests import claims_grid

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SESSION = "0123456789abcdef0123456789abcdef"  # a valid ?session= id: its folder holds the runs

# Every trace of every chart on the page, as plotly holds it: (name, line colour).
_TRACES = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(p =>
    (p.data || []).filter(t => t.line && t.line.color).map(t => [t.name, t.line.color]))"""


@pytest.fixture(scope="module")
def session_server(tmp_path_factory):
    """A server whose session SESSION has finished plain and ResNet runs of 20 and 56 layers."""
    runs = tmp_path_factory.mktemp("runs")
    for i, run in enumerate(
        r
        for r in claims_grid.runs()
        if r.train.seed == 0 and r.net.batch_norm and r.net.depth in (20, 56)
    ):
        run.created = f"2026-11-29T10:00:0{i}"
        save(run, runs / SESSION, f"{run.created}-{run.label}")
    with app_server(runs) as app:
        yield app.url


def _colours(page) -> dict[str, set[str]]:
    """Each network's colours on the page, by run label (a trace named 'plain-56 train' or
    'plain-56 validation' is plain-56's)."""
    out: dict[str, set[str]] = {}
    for name, colour in page.evaluate(_TRACES):
        label = name.removesuffix(" train").removesuffix(" validation")
        out.setdefault(label, set()).add(colour)
    return out


def test_a_run_has_one_colour_on_train_and_on_gradient_flow(session_server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    seen = {}
    for name in ("train", "gradient-flow"):
        _open(page, f"{session_server}/{PAGES[name]}?session={SESSION}")
        page.keyboard.press("Escape")  # a fresh server's one-time "Page not found" notice
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length > 0")
        seen[name] = _colours(page)
    labels = {"plain-20", "plain-56", "ResNet-20", "ResNet-56"}
    assert labels <= set(seen["train"]) and labels <= set(seen["gradient-flow"]), seen
    for label in labels:
        assert len(seen["train"][label]) == 1, (label, seen["train"][label])
        assert seen["train"][label] == seen["gradient-flow"][label], label
    assert len({c for label in labels for c in seen["train"][label]}) == 4  # four networks
    page.close()


def test_the_inside_page_shows_its_figures_without_a_click(session_server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    t0 = time.monotonic()
    _open(page, f"{session_server}/{PAGES['inside']}")
    page.keyboard.press("Escape")
    # The shipped network's first-layer filters, then its feature maps: drawn with no click.
    page.locator("[data-testid='stImage'] img").first.wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    assert page.locator("[data-testid='stException']").count() == 0
    assert time.monotonic() - t0 < 60
    page.close()
