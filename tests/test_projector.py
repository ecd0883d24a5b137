"""In front of a class: classroom mode stays on across pages, st.switch_page and reloads, and at a
projector's 1024x768 no page cuts its text, tables or figures. Debian's Chromium via Playwright.
"""

import pytest

from scripts.appserver import PAGES, READY
from scripts.appserver import open_page as _open
from tests.helpers import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PROJECTOR = {"width": 1024, "height": 768}
CLASSROOM_FONT = "21px"  # resviz.ui.sidebar.CLASSROOM_CSS

# Text Streamlit shortened with an ellipsis because its box was too narrow (a select's value
# is left out: the list shows it whole).
_CUT_TEXT = """() => [...document.querySelectorAll('[data-testid=stMain] *')].filter(e => {
    const c = getComputedStyle(e);
    return c.textOverflow === 'ellipsis' && e.scrollWidth > e.clientWidth + 1
        && e.innerText.trim() && e.offsetParent !== null && !e.closest('[data-baseweb=select]'); })
    .map(e => e.innerText.slice(0, 60))"""
# Tables whose columns run past their box (the right ones only reachable by scrolling); a few
# pixels of a last column's padding may go (Experiments' table: 5 px, every letter shown).
_CUT_TABLES = """() => [...document.querySelectorAll('[data-testid=stDataFrame] .dvn-scroller')]
    .filter(e => e.scrollWidth > e.clientWidth + 10).length"""
# Figures whose legend labels cover an axis or figure title, or whose title runs out of the
# figure (a pixel's touch allowed: the boxes include the glyphs' spacing).
_CLASHES = """() => { const out = [], meet = (a, b) => a.left < b.right - 1 && b.left < a.right - 1
        && a.top < b.bottom - 1 && b.top < a.bottom - 1;
    for (const p of document.querySelectorAll('.js-plotly-plot')) {
        const box = p.getBoundingClientRect();
        const entries = [...p.querySelectorAll('g.legend text.legendtext')].map(
            e => e.getBoundingClientRect());
        for (const t of p.querySelectorAll('g.infolayer > g > text[class$=title], .gtitle')) {
            const r = t.getBoundingClientRect();
            if (!r.width) continue;
            if (entries.some(e => meet(r, e))) out.push('legend over ' + t.textContent);
            if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1)
                out.push('clipped ' + t.textContent);
        } }
    return out; }"""


def _settled(page) -> None:
    page.wait_for_timeout(600)
    page.wait_for_selector(READY, timeout=90_000)
    page.wait_for_timeout(600)


def _classroom(page) -> bool:
    """Whether the page shows classroom mode: its font, its toggle and its address agree."""
    font = page.evaluate("() => getComputedStyle(document.documentElement).fontSize")
    toggle = page.locator(".st-key-classroom_toggle input").is_checked()
    in_url = "classroom=1" in page.url
    assert (font == CLASSROOM_FONT) == toggle == in_url, (font, toggle, page.url)
    return toggle


def _sidebar_width(page) -> float:
    return page.locator("[data-testid='stSidebar']").bounding_box()["width"]


def _open_sidebar(page) -> None:
    button = page.locator("[data-testid='stExpandSidebarButton']")
    if button.count():
        button.click()
        page.wait_for_timeout(500)


def test_classroom_mode_survives_every_page_a_preset_and_a_reload(server, browser):  # noqa: F811
    page = browser.new_page(viewport=PROJECTOR)
    _open(page, f"{server}/?classroom=1")
    assert _classroom(page) and _sidebar_width(page) < 50  # folded: the projector's width
    _open_sidebar(page)
    nav = page.locator("[data-testid='stSidebarNav']")
    for title in ("Convolutions", "Residual block", "Build", "Train", "Gradient flow"):
        nav.get_by_text(title, exact=True).click()
        _settled(page)
        assert _classroom(page), title
        page.reload()
        _settled(page)
        assert _classroom(page), f"{title}, reloaded"
    # Home's preset opens Train through st.switch_page, which once dropped the mode there.
    _open(page, f"{server}/?classroom=1")
    page.locator(".st-key-home_preset_vanishing button").click()
    page.get_by_role("heading", name="Train plain and residual networks").wait_for()
    _settled(page)
    assert _classroom(page) and page.get_by_text("Your own configurations", exact=True).count() == 0
    # The run is shown first: its progress bar in the first screen, above the presets.
    bar = page.locator("[data-testid='stProgress']").bounding_box()
    run = page.locator(".st-key-train_preset_degradation button").first.bounding_box()
    assert bar["y"] + bar["height"] < PROJECTOR["height"] and bar["y"] < run["y"]
    page.screenshot(path=str(SHOTS / "projector-train-live-classroom-1024x768.png"))
    page.locator(".st-key-train_stop button").click()
    page.get_by_text("stopped: step").wait_for(timeout=30_000)
    _settled(page)
    # Switched off, it stays off, reload included.
    _open_sidebar(page)
    page.locator(".st-key-classroom_toggle label").click()
    _settled(page)
    assert not _classroom(page)
    page.reload()
    _settled(page)
    assert not _classroom(page)
    page.close()


@pytest.mark.parametrize("mode", ["normal", "classroom, sidebar open"])
def test_at_1024x768_no_page_cuts_its_text_tables_or_figures(server, browser, mode):  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport=PROJECTOR)
    query = "?classroom=1" if mode != "normal" else ""
    for name, path in PAGES.items():
        _open(page, f"{server}/{path}{query}")
        page.keyboard.press("Escape")
        if mode != "normal":
            _open_sidebar(page)  # the narrowest a teacher makes it
        assert page.locator("[data-testid='stException']").count() == 0, name
        assert page.evaluate(_CUT_TEXT) == [], name
        assert page.evaluate(_CUT_TABLES) == 0, name
        assert page.evaluate(_CLASHES) == [], name
        suffix = "classroom" if mode != "normal" else "normal"
        page.screenshot(path=str(SHOTS / f"{name}-{suffix}-1024x768.png"), full_page=True)
    page.close()


def test_residual_block_maps_are_not_smaller_in_classroom_mode(server, browser):  # noqa: F811
    sizes = {}
    for query in ("", "?classroom=1"):
        page = browser.new_page(viewport=PROJECTOR)
        _open(page, f"{server}/block{query}")
        first = page.locator(".st-key-block_maps .heatmaplayer image").first
        sizes[query] = first.bounding_box()["width"]
        page.close()
    assert sizes["?classroom=1"] >= sizes[""], sizes
