"""The Train page under AppTest: presets on offer; a custom run trains and its curves are drawn."""

import json
import statistics
import time
import tomllib

import pytest

from resviz import data
from resviz.claims import percent
from resviz.config import NetConfig, TrainConfig
from resviz.runs import dumps
from resviz.ui import state, train_view
from tests.helpers import ROOT, RUN, figures, one_network, over_budget, start_long_run, train_button


def test_default_render_offers_presets_and_no_run(open_page):
    at = open_page("pages/train.py")
    assert [b.label for b in at.button if b.key and b.key.startswith("train_preset_")] == [
        "Run"
    ] * 3
    (info,) = at.info
    assert info.value.startswith("No run yet") and "Your own configurations" in info.value
    # Classroom mode has no form: the sentence points only at what is there.
    (info,) = open_page("pages/train.py", classroom=True).info
    assert info.value == "No run yet: click a preset's Run below."


def test_a_session_with_runs_is_not_told_it_has_none(open_page):
    at = open_page("pages/train.py")
    assert at.session_state["work"].add_upload("run.json", dumps(RUN).encode()) is None
    at.run()
    assert not [i.value for i in at.info if "No run yet" in i.value]
    assert at.multiselect(key="train_compare").options == [f"{RUN.created} · ResNet-8 · done"]


def test_a_dataset_that_cannot_load_cannot_be_started_and_says_why(open_page, monkeypatch):
    real = data.load
    why = "CIFAR-10 could not be downloaded (no internet connection?)."

    def offline(name, *args, **kwargs):
        if name == "cifar10":
            raise data.DatasetUnavailable(why)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(data, "load", offline)
    train_view.dataset_problem.clear()  # tried once a minute per server: not from another test
    try:
        at = open_page("pages/train.py", dataset="cifar10")
        presets = [b for b in at.button if b.key and b.key.startswith("train_preset_")]
        assert len(presets) == 3 and all(b.disabled and why in b.help for b in presets)
        assert train_button(at).disabled and why in train_button(at).help
        assert [w.value for w in at.warning] == [f"{why} Choose one in the sidebar."]
        assert at.session_state["work"].job is None
    finally:
        train_view.dataset_problem.clear()


@pytest.mark.slow
def test_a_custom_run_trains_and_draws_thin_train_and_bold_validation(open_page, train_custom):
    at = train_custom(open_page("pages/train.py"), depths=(8, 8))
    fig = next(f for f in figures(at).values() if "validation" in json.dumps(f["data"]))
    lines = {t["name"]: t for t in fig["data"]}
    assert set(lines) == {
        "plain-8 train",
        "plain-8 validation",
        "ResNet-8 train",
        "ResNet-8 validation",
    }
    assert lines["ResNet-8 validation"]["line"]["width"] > lines["ResNet-8 train"]["line"]["width"]
    assert len(lines["ResNet-8 validation"]["x"]) == 10  # evaluated every 2 of 20 steps
    # The History chart gives each run the colour it had while training.
    charts = {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    live, history = (
        {t["name"]: t["line"]["color"] for t in f["data"]}
        for key in ("train_live_errors", "train_history_errors")
        for i, f in charts.items()
        if key in i
    )
    assert history == live
    # When the job ends, one computed line a run says what it did: no pair of plain networks
    # of different depths here, so each run's own errors.
    shown = [m.value for m in at.markdown]
    for run in at.session_state["work"].job.snapshot().runs:
        mean = statistics.fmean(r["train_error"] for r in run.records)  # all 20 steps
        val = run.records[-1]["val_error"]
        assert (
            f"**{run.label}**: training error {percent(mean)} (mean of steps 1-20), "
            f"validation error {percent(val)} at step 20."
        ) in shown


def test_the_form_shows_as_many_networks_as_the_slider_says(open_page):
    at = open_page("pages/train.py")

    def pickers():
        return [s.key for s in at.selectbox if s.key.startswith("train_arch")]

    assert pickers() == ["train_arch0", "train_arch1"]
    at.slider(key="train_configs").set_value(4).run()
    assert pickers() == ["train_arch0", "train_arch1", "train_arch2", "train_arch3"]
    at.slider(key="train_configs").set_value(1).run()
    assert pickers() == ["train_arch0"]


@pytest.mark.slow  # trains (and generates the 20,000 scenes)
def test_the_form_trains_an_imagenet_style_resnet18_sized_for_the_dataset(open_page):
    at = open_page("pages/train.py", dataset="scenes")
    depth = at.selectbox(key="train_depth0")
    assert depth.options[-2:] == ["18 ImageNet", "34 ImageNet"]
    assert "20" in depth.options  # a CIFAR-style depth: its number alone
    at.slider(key="train_configs").set_value(1)
    depth.set_value(18)
    at.number_input(key="train_width").set_value(4)
    at.number_input(key="train_steps").set_value(10)
    train_button(at).click()
    at.run()
    work = at.session_state["work"]
    try:
        ((net, train),) = [(r.net, r.train) for r in work.job.runs]
        scenes = data.info("scenes")
        assert (net.family, net.label, net.width) == ("imagenet", "ResNet-18", 4)
        assert (net.in_channels, net.num_classes) == (scenes.channels, scenes.num_classes)
        assert net.small_input  # 32 px images: the small stem, no 4x shrink before any block
        assert train.steps == 10 and "**ResNet-18**" in [m.value for m in at.markdown]
    finally:
        work.job.stop()


def test_an_imagenet_style_network_too_large_for_memory_gets_one_sentence(open_page):
    at = open_page("pages/train.py")
    train_button(one_network(at, depth=34, width=64, batch=512)).click()
    at.run()
    (error,) = at.error
    assert over_budget("ResNet-34", 512).fullmatch(error.value), error.value
    assert at.session_state["work"].job is None


@pytest.mark.slow
def test_once_a_run_starts_the_buttons_are_off_at_once_and_say_why(open_page):
    # Drawn before the click was handled, the buttons used to stay on until the next full
    # rerun, and a click on one was then silently lost.
    at = open_page("pages/train.py")
    start_long_run(at)
    work = at.session_state["work"]
    try:
        assert work.busy
        assert all(b.disabled for b in at.button if b.key and b.key.startswith("train_preset_"))
        assert train_button(at).disabled
        assert any("A run is in progress" in c.value for c in at.caption)
    finally:
        work.job.stop()
        end = time.monotonic() + 60
        while work.busy:
            assert time.monotonic() < end, "the stopped job did not end"
            time.sleep(0.2)


@pytest.mark.slow  # another session's job trains meanwhile
def test_a_waiting_run_shows_its_place_and_estimate_and_draws_no_empty_axes(open_page, monkeypatch):
    monkeypatch.setenv("RESVIZ_TRAIN_SLOTS", "1")  # one trainer, which another session holds
    state.runtime.clear()
    tickets = [
        state.manager().submit(
            [(NetConfig(depth=8, width=4), TrainConfig(steps=5000))], owner="another session"
        )
    ]
    try:
        at = open_page("pages/train.py")
        start_long_run(at)
        tickets.append(at.session_state["work"].job)
        assert tickets[-1].snapshot().state == "queued"
        (waiting,) = [i.value for i in at.info if "queue" in i.value]
        assert "you are number 1 in the queue. Estimated start in about" in waiting
        assert not [c for c in at.get("plotly_chart") if "train_live" in c.proto.id]
        assert any(
            "curves are drawn here from the first training step" in c.value for c in at.caption
        )
    finally:
        for ticket in tickets:
            state.manager().release(ticket)
        state.runtime.clear()


def test_redraws_do_not_run_a_full_garbage_collection():
    # Streamlit's default collects every generation after each script run, fragment redraws
    # included, holding the GIL while training runs (docs/PERFORMANCE.md).
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
