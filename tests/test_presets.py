"""The presets' sentences: made from the measured figures in assets/presets/measured.json, said
only where the claim behind them holds for seeds 0, 1 and 2, and dropped when the figures are
stale or say otherwise."""

import copy
import math

import pytest

from resviz import presets
from resviz.claims import Kind, classify, factor, holds, percent
from resviz.comparisons import error_window
from resviz.config import NetConfig, TrainConfig
from resviz.gradients import rms_matrix
from resviz.training_job import Job

MEASURED = presets.load_measured()
KEYS = [p.key for p in presets.DEFINED]


def _figures(key: str, label: str) -> list[dict]:
    """One network's figures for each seed, read straight from the file."""
    seeds = MEASURED["presets"][key]["seeds"]
    return [next(r for r in seeds[str(s)]["runs"] if r["label"] == label) for s in presets.SEEDS]


@pytest.mark.parametrize("key", KEYS)
def test_the_measured_file_is_for_the_presets_as_defined(key):
    preset = presets.PRESETS[key]
    assert presets.measured_runs(preset, MEASURED) is not None, (
        f"assets/presets/measured.json is stale for {key}: run python -m scripts.presets"
    )
    assert preset.lesson != presets.UNMEASURED


@pytest.mark.parametrize("key", KEYS)
def test_a_sentence_is_shown_only_where_its_claim_holds_for_every_seed(key):
    preset = presets.PRESETS[key]
    shown = " ".join([preset.lesson, preset.details, preset.scaled_down])
    for finding in [f for group in presets.findings(preset, MEASURED) for f in group]:
        assert len(finding.claims or finding.figures) == len(presets.SEEDS)
        if all(holds(c) for c in finding.claims):
            assert finding.sentence in shown
        else:
            assert finding.sentence not in shown and finding.instead in shown


def test_the_vanishing_sentence_rests_on_each_seed_s_gradient_profile():
    """The first blocks of plain-56 without batch norm get thousands of times less gradient per
    element than the last ones by the end of the run: recomputed here from the stored profiles."""
    figs = _figures("vanishing", "plain-56, no BN")
    end = str(figs[0]["step"])
    ratios = []
    for fig in figs:
        profile = fig["grad"][end]
        lo, hi = profile.index(min(profile)), profile.index(max(profile))
        assert classify(max(profile), hi, min(profile), lo, False) == Kind.VANISHING
        assert lo < hi  # smaller nearer the input
        ratios.append(max(profile) / min(profile))
    said = f"{factor(min(ratios))}-{factor(max(ratios))}x at step {end}"
    assert said in presets.PRESETS["vanishing"].lesson


@pytest.mark.parametrize(
    "key, deep, shallow",
    [
        ("degradation", "plain-56", "plain-20"),
        ("vanishing", "plain-56", "plain-20"),
        ("paper-figure", "plain-34", "plain-18"),
    ],
)
def test_degradation_quotes_each_seed_s_training_error(key, deep, shallow):
    d, s = _figures(key, deep), _figures(key, shallow)
    for a, b in zip(d, s):  # worse by more than twice the noise of the two means, every seed
        assert a["train_error"] - b["train_error"] > 2 * math.hypot(
            a["train_noise"], b["train_noise"]
        )

    def span(figs):
        errors = [f["train_error"] for f in figs]
        return f"{percent(min(errors)).rstrip('%')}-{percent(max(errors))}"

    said = (
        f"{deep.capitalize()} trains worse than {shallow}: training error {span(d)} "
        f"against {span(s)}"
    )
    assert said in presets.PRESETS[key].lesson


def _contradicted(key: str, label: str, **changes) -> dict:
    """The measured file with one network's figures changed in seed 1 only."""
    measured = copy.deepcopy(MEASURED)
    run = next(r for r in measured["presets"][key]["seeds"]["1"]["runs"] if r["label"] == label)
    run.update(changes)
    return measured


def test_figures_that_contradict_a_claim_in_one_seed_drop_its_sentence():
    shallow = _figures("degradation", "plain-20")[1]["train_error"]
    built = presets.build(_contradicted("degradation", "plain-56", train_error=shallow))
    lesson = built["degradation"].lesson
    assert "Plain-56 trains worse than plain-20" not in lesson
    assert "Plain-56's training error is not clearly above plain-20's for every seed" in lesson
    assert "it does not overfit" not in lesson  # it rests on the degradation claim


def test_a_gradient_that_does_not_vanish_in_one_seed_is_reported_seed_by_seed():
    figs = _figures("vanishing", "plain-56, no BN")
    end = str(figs[0]["step"])
    flat = {**figs[1]["grad"], end: [1e-4] * len(figs[1]["grad"][end])}
    built = presets.build(_contradicted("vanishing", "plain-56, no BN", grad=flat))
    lesson = built["vanishing"].lesson
    assert "The gradient of plain-56 without batch norm vanishes" not in lesson
    assert (
        f"At step {end} the gradient of plain-56 without batch norm is vanishing for seeds 0 "
        f"and 2, healthy for seed 1 (its blocks 1.0-"
    ) in lesson


def test_stale_figures_are_not_used():
    measured = copy.deepcopy(MEASURED)
    measured["presets"]["vanishing"]["fingerprint"][0]["train"]["lr"] = 0.1
    del measured["presets"]["degradation"]["seeds"]["2"]
    built = presets.build(measured)
    assert built["vanishing"].lesson == built["degradation"].lesson == presets.UNMEASURED
    assert built["paper-figure"].lesson == presets.PRESETS["paper-figure"].lesson


def test_figures_are_what_the_app_judges_in_a_finished_run():
    net, train = (
        NetConfig(depth=8, width=4, residual=False),
        TrainConfig(steps=30, batch_size=8, eval_every=15),
    )
    job = Job([(net, train)])
    job.train()
    run = job.runs[0]
    fig = presets.figures(run)
    window = error_window(run, 30)
    assert fig["train_error"] == pytest.approx(window.mean, rel=1e-3)
    assert fig["window"] == [11, 30] and fig["val_step"] == 30
    assert fig["val_error"] == pytest.approx(run.records[-1]["val_error"], rel=1e-3)
    rms = rms_matrix(run, "block_grad_norms")
    assert list(fig["grad"]) == ["1", "30"]
    assert fig["grad"]["30"] == pytest.approx(rms.at(30), rel=1e-3)
    assert fig["act"]["1"] == pytest.approx(list(run.records[0]["act_std"].values()), rel=1e-3)


def test_specs_fit_the_dataset_and_keep_the_training_config():
    preset = presets.PRESETS["degradation"]
    specs = preset.specs(3, 15, "shapes", "bf16")
    assert [n.label for n, _ in specs] == ["plain-20", "ResNet-20", "plain-56", "ResNet-56"]
    assert all(n.in_channels == 3 and n.num_classes == 15 for n, _ in specs)
    assert {(t.dataset, t.precision, t.steps) for _, t in specs} == {("shapes", "bf16", 180)}
