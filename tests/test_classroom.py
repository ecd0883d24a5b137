"""A class at once, under AppTest (every AppTest is a session of one server): the teacher's link,
students joining its run, sessions that share runs but never each other's history, and the
Inside page training through the queue, one job per session."""

import time

import pytest
from streamlit.testing.v1 import AppTest

from resviz.config import NetConfig, TrainConfig
from resviz.runs import Run, dumps
from resviz.ui import train_view
from tests.helpers import ROOT, TIMEOUT, start_long_run

DEGRADATION = ["plain-20", "ResNet-20", "plain-56", "ResNet-56"]


def _open(query: dict, page: str = "pages/train.py") -> AppTest:
    """A new session opening an address with this query string (as a browser would)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _param(at: AppTest, key: str) -> str | None:
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def _idle(work, timeout=60):
    end = time.monotonic() + timeout
    while work.busy:
        assert time.monotonic() < end, "the stopped job did not end"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_teachers_link_runs_the_preset_and_students_join_the_same_run():
    link = {"preset": "degradation", "classroom": "1"}
    teacher = _open(link)
    works = [teacher.session_state["work"]]
    try:
        assert [r.net.label for r in works[0].job.runs] == DEGRADATION
        assert teacher.session_state["classroom"] and _param(teacher, "classroom") == "1"
        assert [c.value for c in teacher.code] == ["/training?preset=degradation&classroom=1"]
        student = _open(link)
        works.append(student.session_state["work"])
        assert works[1].id != works[0].id and student.session_state["classroom"]
        assert works[1].job.jobs() == works[0].job.jobs()  # one job for both sessions
        assert works[1].job.snapshot().followers == 2
        # The teacher reloads: the same session follows the same run, still in classroom mode.
        again = _open({**link, "session": works[0].id})
        works.append(again.session_state["work"])
        assert works[2].job is works[0].job and again.session_state["classroom"]
    finally:
        for work in works:
            work.job.stop()
        for work in works:
            _idle(work)


def test_a_link_to_no_preset_says_which_there_are():
    at = _open({"preset": "<b>depth</b>"})
    assert [w.value for w in at.warning] == [
        r"Ignored the link's preset \<b\>depth\<\/b\>: the presets are degradation, vanishing, "
        "paper-figure."
    ]
    assert at.session_state["work"].job is None


@pytest.mark.slow
def test_sessions_share_a_run_but_not_their_histories(open_page, train_custom):
    first = train_custom(open_page("pages/train.py"), steps=10)
    mine = Run(
        net=NetConfig(depth=14, width=4),
        train=TrainConfig(steps=1),
        status="done",
        records=[{"step": 1, "train_error": 0.5}],
    )
    assert first.session_state["work"].add_upload("mine.json", dumps(mine).encode()) is None
    second = train_custom(open_page("pages/train.py"), steps=10)  # the same configuration
    a, b = first.session_state["work"], second.session_state["work"]
    assert b.job.snapshot().recorded and not a.job.snapshot().recorded
    assert [r.net.label for r in a.history()] == ["ResNet-14", "ResNet-8"]
    (shared,) = b.history()  # its own copy of the shared run, not the other session's upload
    assert shared.records == a.history()[1].records
    assert {p.parent for p in b.folder.iterdir()} == {b.folder} != {a.folder}


@pytest.mark.slow
def test_inside_trains_its_preset_through_the_queue_one_job_per_session(open_page):
    at = open_page("pages/train.py")
    start_long_run(at)
    work = at.session_state["work"]
    at.switch_page("pages/inside.py")
    at.run()  # it opens on a network trained in advance: pick the one trained here
    at.selectbox(key="inside_net").set_value(("preset", "shapes")).run()
    at.number_input(key="inside_steps").set_value(20).run()
    assert at.button(key="inside_train").disabled  # the session's run trains: one at a time
    assert any("Your session's run is still training" in c.value for c in at.caption)
    work.job.stop()
    _idle(work)
    at.run()
    at.button(key="inside_train").click().run()
    (run,) = work.job.runs  # the session's job now: queued and trained like any run
    assert (run.net.label, run.train.dataset, run.train.steps) == ("ResNet-20", "shapes", 20)
    end = time.monotonic() + 120
    while not at.get("plotly_chart"):
        assert time.monotonic() < end, "the preset did not train in 2 minutes"
        time.sleep(0.5)
        at.run()
    assert not at.exception and work.history()[0].net.label == "ResNet-20"


def test_live_views_of_a_class_share_their_figures_for_a_second(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(train_view.time, "monotonic", lambda: clock[0])
    run = Run(NetConfig(depth=8, width=4), TrainConfig(steps=10), status="running")
    run.records = [{"step": 1, "train_error": 0.9, "train_loss": 2.3}]
    first = train_view._curves([run])
    run.records.append({"step": 2, "train_error": 0.8, "train_loss": 2.2})
    clock[0] += train_view.SHARED_FIGURES_S / 2
    assert train_view._curves([run]) is first  # another session, half a second later
    clock[0] += train_view.SHARED_FIGURES_S
    later = train_view._curves([run])
    assert later is not first and len(later[0].data[0].x) == 2  # the step it has now
    run.status = "done"
    assert train_view._curves([run]) is not later  # a run's end is drawn at once
