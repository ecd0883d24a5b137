"""A small classroom: 4 sessions click at once on a server that trains one job at a time, three
in a real browser and one through Streamlit's websocket protocol. The queue shows positions,
every job ends, no session sees another's runs, and a tab closed mid-run stops its job (its runs
so far are kept). `python -m scripts.load` is the full size.
"""

import argparse
import asyncio
import os
from pathlib import Path

import pytest

from scripts.appserver import CHROMIUM
from scripts.load import main_async, report

pytestmark = [pytest.mark.browser, pytest.mark.slow]
STEPS = 150  # long enough that a closed tab stops its job before it ends (2 s redraws)


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    mp = pytest.MonkeyPatch()
    mp.setenv("RESVIZ_TRAIN_SLOTS", "1")  # one job at a time, on any CI runner
    args = argparse.Namespace(
        sessions=4,
        preset="degradation",
        steps=STEPS,
        width=4,
        timeout=300,
        render_every=8.0,
        settle=2.0,
        close_one=True,
        link=False,
        browsers=3,  # the fourth submits the Train form through the websocket protocol
        spread=0.0,
        hostile=False,
        runs=str(tmp_path_factory.mktemp("runs")),
        clients_nice=0,  # a nice would stay on the test process for the tests after this one
    )
    try:
        result = asyncio.run(main_async(args))
    finally:
        mp.undo()
    report(result)
    return result


def _open(result):
    return [s for s in result["sessions"] if not s.closed]


def test_every_job_ends_and_the_waiting_ones_were_shown_their_place(classroom):
    stayed = _open(classroom)
    assert len(stayed) == 3
    assert all(s.ended == f"done: step {STEPS} of {STEPS}" for s in stayed), [
        s.ended for s in stayed
    ]
    # All clicked at once and one trains at a time: at least two of the three waited in line.
    queued = [s for s in stayed if s.positions]
    assert len(queued) >= 2 and all(min(s.positions) >= 1 for s in queued)


def test_no_session_sees_another_sessions_runs(classroom):
    sessions = classroom["sessions"]
    assert all(s.sid for s in sessions) and len({s.sid for s in sessions}) == len(sessions)
    assert [s.via for s in sessions] == ["browser"] * 3 + ["websocket"]
    for s in _open(classroom):
        assert s.history == (1 if s.via == "browser" else -1)  # its own run only (-1: not drawn)
        (run,) = classroom["runs"][s.index]
        assert run["status"] == "done" and run["records"][-1]["step"] == STEPS
        assert run["net"]["width"] == 4 + s.index - 1  # the width it asked for


def test_a_closed_tab_stops_its_job_and_keeps_what_it_trained(classroom):
    (closed,) = [s for s in classroom["sessions"] if s.closed]
    (run,) = classroom["runs"][closed.index]  # saved by the worker: no page was left
    assert run["status"] == "stopped" and 1 <= run["records"][-1]["step"] < STEPS
