"""Home: the five steps link to their pages; the correction (degradation, not overfitting) with
the learner's own runs as evidence; a preset starts a run and opens the Train page."""

import os
import re

import torch

from resviz.config import NetConfig, TrainConfig
from resviz.models import AlexNet
from resviz.runs import Run, save
from resviz.runtime import cpu_quota, fast_precision, training_slots


def test_the_lesson_links_every_step_to_its_page(open_page):
    at = open_page("pages/home.py")
    links = [el.proto.page for el in at.get("page_link")]
    assert links == ["conv", "block", "builder", "training", "gradients"]  # the pages' url paths


def test_the_sidebar_names_the_device_its_cores_and_the_precision(open_page):
    at = open_page("pages/home.py")
    line = at.sidebar.caption[0].value
    if torch.cuda.is_available():
        assert line.startswith(f"Running on **GPU: {torch.cuda.get_device_name()}**, training in ")
        return
    cores = cpu_quota()  # this process's affinity and cgroup quota, not the host's count
    assert cores <= os.cpu_count()
    precision = fast_precision(torch.device("cpu"))  # bf16 only where the CPU computes it
    slots = training_slots("cpu")
    assert line == (
        f"Running on **CPU, {cores} core{'s' * (cores > 1)}**, training in {precision}"
        + (f" · {slots} networks train at once" if slots > 1 else "")
    )


def test_a_preset_starts_training_and_switches_to_the_train_page(open_page):
    at = open_page("pages/home.py")
    at.button(key="home_preset_degradation").click()
    at.run()
    assert at.title[0].value == "Train plain and residual networks"
    work = at.session_state["work"]
    assert [r.net.label for r in work.job.runs] == [
        "plain-20",
        "ResNet-20",
        "plain-56",
        "ResNet-56",
    ]
    work.job.stop()


def test_a_second_click_while_training_does_not_start_another_run(open_page):
    at = open_page("pages/home.py")
    at.button(key="home_preset_vanishing").click()
    at.run()
    work = at.session_state["work"]
    first = work.job
    work.start([])  # what a second click submits: ignored while the first job trains
    assert work.job is first and first.active
    first.stop()


def test_the_alexnet_line_counts_what_the_app_builds(open_page):
    at = open_page("pages/home.py")
    layers = [type(m).__name__ for m in AlexNet().modules()]
    words = {3: "three", 5: "five"}
    line = next(m.value for m in at.markdown if "AlexNet" in m.value)
    assert f"{words[layers.count('Conv2d')]} convolutions" in line
    assert f"{words[layers.count('MaxPool2d')]} max-pooling layers" in line


def test_without_runs_the_correction_points_to_the_degradation_preset(open_page):
    at = open_page("pages/home.py")
    text = " ".join(m.value for m in at.markdown)
    assert "higher **training** error" in text and "In your own runs" not in text
    assert "Run the **Degradation** preset below" in text
    # No verdict on batch norm's gradients without a run to judge (at initialisation a deep
    # plain network's explode).
    assert not re.search(r"with (it|batch norm)[^.]*healthy", text)


def _run(depth: int, train_error: float, val_error: float, seed: int = 0) -> Run:
    errors = [train_error + (0.02 if i % 2 else -0.02) for i in range(40)]
    records = [
        {"step": i + 1, "train_error": e, "val_error": val_error if i == 39 else None}
        for i, e in enumerate(errors)
    ]
    return Run(
        NetConfig(depth=depth, residual=False, width=8),
        TrainConfig(steps=40, seed=seed),
        records,
        status="done",
    )


def test_the_learner_s_own_degraded_run_is_the_evidence(open_page):
    at = open_page("pages/home.py")
    folder = at.session_state["work"].folder
    save(_run(20, 0.20, 0.22), folder, "plain-20")
    save(_run(56, 0.62, 0.63), folder, "plain-56")
    at.run()
    own = [m.value for m in at.markdown if m.value.startswith("In your own runs")]
    assert len(own) == 1
    assert (
        "**plain-56**'s *training* error is 62% against plain-20's 20%: it fails to fit, "
        "it does not overfit" in own[0]
    )
    assert "validation 63% against training 62%" in own[0]


def test_runs_that_do_not_degrade_are_not_called_evidence(open_page):
    at = open_page("pages/home.py")
    folder = at.session_state["work"].folder
    save(_run(20, 0.20, 0.22), folder, "plain-20")
    save(_run(56, 0.21, 0.40), folder, "plain-56")
    at.run()
    assert not any(m.value.startswith("In your own runs") for m in at.markdown)
