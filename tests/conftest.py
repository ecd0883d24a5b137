"""Shared fixtures: the app under Streamlit's AppTest, with timeouts sized for torch."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60  # seconds: the 3 s default is too short for anything that touches torch


@pytest.fixture
def open_page():
    """open_page("pages/train.py") -> an AppTest that has run the router and that page."""
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
