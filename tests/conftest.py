"""Shared fixtures: the app under Streamlit's AppTest, with timeouts sized for torch; and for
the browser tests, a `streamlit run` server and Debian's Chromium (one each per test module)."""

from __future__ import annotations

import functools
import os
import tempfile
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as app.py does, before torch loads
# The app's runs (sessions' folders and the shared store) go to a folder of this test process:
# a run finished by an earlier test process is never served to this one.
os.environ.setdefault("RESVIZ_RUNS", tempfile.mkdtemp(prefix="resviz-test-runs-"))

from resviz.runtime import cpu_quota
from scripts.appserver import CHROMIUM, FLAGS, app_server

# Streamlit and the test helpers are imported where they are used: xdist's controller loads this
# file before it starts the workers, and runs no test.


@pytest.fixture(autouse=True, scope="session")
def one_component_scan():
    """Every new AppTest scans all installed packages' metadata for Streamlit components: about
    0.8 s, most of a page test's time. The installed packages do not change while tests run."""
    from streamlit.components.v2 import manifest_scanner

    manifest_scanner.scan_component_manifests = functools.cache(
        manifest_scanner.scan_component_manifests
    )


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (pyproject's addopts): the fast tier on one process per CPU of the quota; a
    run that includes slow tests (they time pages and drive a browser) in this one process."""
    return cpu_quota() if "not slow" in (config.option.markexpr or "") else 0


@pytest.fixture(autouse=True)
def fresh_shared_runs(tmp_path, monkeypatch):
    """Each test gets its own runs folder and job manager: a run finished by an earlier test
    would otherwise be served to this one as a recorded run instead of being trained."""
    from resviz.ui import state

    monkeypatch.setenv("RESVIZ_RUNS", str(tmp_path / "runs"))
    state.manager.clear()


@pytest.fixture
def open_page():
    """open_page("pages/train.py") -> an AppTest that has run the router and that page."""

    from streamlit.testing.v1 import AppTest

    from tests.helpers import ROOT, TIMEOUT

    def _open(page: str, **state) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
        for k, v in state.items():
            at.session_state[k] = v
        at.run()
        if page != "pages/home.py":
            at.switch_page(page)
            at.run()
        assert not at.exception, at.exception
        return at

    return _open


@pytest.fixture
def train_custom():
    """Fill the Train page's custom form with tiny networks, submit, and wait for the end."""

    from tests.helpers import train_button

    def _train(at: AppTest, steps: int = 20, depths: tuple = (8,), bn: bool = True) -> AppTest:
        at.slider(key="train_configs").set_value(len(depths))
        at.number_input(key="train_steps").set_value(steps)
        at.number_input(key="train_width").set_value(4)
        for i, depth in enumerate(depths):
            at.selectbox(key=f"train_depth{i}").set_value(depth)
            at.checkbox(key=f"train_bn{i}").set_value(bn)
        train_button(at).click()
        at.run()
        end = time.monotonic() + 120
        while not any(f"done: step {steps} of {steps}" in str(p.proto) for p in at.get("progress")):
            assert time.monotonic() < end, "the run did not finish in 2 minutes"
            time.sleep(0.5)
            at.run()
        return at

    return _train


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with app_server(tmp_path_factory.mktemp("runs")) as app:
        yield app.url


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()
