"""The Gradient flow page: empty state, then the profiles of a run trained on the Train page."""

import math

import pytest

from resviz import claims, comparisons
from resviz.claims import Kind
from resviz.config import NetConfig
from resviz.gradients import Matrix, probe_steps, rms_matrix
from resviz.models import build
from resviz.plots.gradients import heatmap
from resviz.runs import save
from tests import claims_grid
from tests.helpers import figures, plotly_array


def test_without_runs_it_points_to_the_presets(open_page):
    at = open_page("pages/gradient_flow.py")
    assert "Vanishing gradients" in at.info[0].value and "explodes" in at.info[0].value
    assert not at.get("plotly_chart")


def test_a_56_layer_heatmap_names_its_layers_and_its_axis():
    layers = [n for n, p in build(NetConfig(depth=56, width=4)).named_parameters() if p.dim() > 1]
    values = [[10.0 ** -(i % 5), 1.0] for i in range(len(layers))]
    fig = heatmap(Matrix(layers, [1, 2], values), "plain-56: weight gradient").to_plotly_json()
    yaxis = fig["layout"]["yaxis"]
    assert yaxis["title"]["text"] == "layer (input side at the top)"
    named = list(yaxis["tickvals"])
    assert named[0] == layers[0] and set(named) <= set(layers)  # the input side first
    assert 20 <= len(named) <= 30 < len(layers)  # every other one: readable, 9 px a row


@pytest.mark.slow
def test_a_trained_run_shows_its_gradient_profiles_and_heatmap(open_page, train_custom):
    at = train_custom(open_page("pages/train.py"), bn=False)
    at.switch_page("pages/gradient_flow.py")
    at.run()
    assert not at.exception
    figs = list(figures(at).values())
    block = figs[0]["data"][0]
    assert block["name"] == "ResNet-8, no BN"
    assert block["customdata"] == ["stage1.block1", "stage2.block1", "stage3.block1"]
    assert figs[0]["layout"]["yaxis"]["type"] == "log"
    assert any("ResNet-8, no BN** at step 20" in m.value for m in at.markdown)
    heat = figs[-1]["data"][0]
    assert heat["type"] == "heatmap"
    raw = heat["customdata"][0][-1]
    assert heat["z"][0][-1] == pytest.approx(math.log10(raw))  # log colour, raw on hover


def _degradation_runs(folder) -> list:
    """Seed 0 of the recorded grid with batch norm, as the Degradation preset trains them."""
    runs = [
        r
        for r in claims_grid.runs()
        if r.train.seed == 0 and r.net.batch_norm and r.net.depth in (20, 56)
    ]
    for i, run in enumerate(runs):
        run.created = f"2026-01-01T00:00:0{i}"
        save(run, folder, run.label)
    return runs


def test_each_sentence_is_its_run_s_claim_at_the_judged_step(open_page):
    at = open_page("pages/gradient_flow.py")
    runs = _degradation_runs(at.session_state["work"].folder)
    at.run()
    step = at.select_slider(key="grad_step").value
    assert step == probe_steps(runs)[-1]
    shown = [m.value for m in at.markdown]
    for run in runs:
        for key in ("block_grad_norms", "grad_norms"):
            assert claims.gradient_claim(run, step, key).sentence in shown
    said = claims.say(comparisons.diagnosis_claims(runs, step))
    assert said and all(line in shown for line in said)
    assert sorted(c.value for c in at.caption if "Fig. 7" in c.value) == sorted(
        comparisons.say_responses(runs, step)
    )
    fig = figures(at)["grad_profile_block_grad_norms"]
    for trace in fig["data"]:
        run = next(r for r in runs if r.label == trace["name"])
        assert plotly_array(trace["y"]) == pytest.approx(
            rms_matrix(run, "block_grad_norms").at(step), rel=1e-6
        )


def test_the_step_where_a_gradient_is_furthest_from_healthy_is_one_click_away(open_page):
    at = open_page("pages/gradient_flow.py")
    runs = _degradation_runs(at.session_state["work"].folder)
    at.run()
    plain56 = next(r for r in runs if r.label == "plain-56")
    far = claims.strongest(plain56)
    assert far.kind == Kind.EXPLODING and far.step == 1  # as initialised
    text = next(m.value for m in at.markdown if m.value.startswith("plain-56's gradient is"))
    assert (
        f"furthest from healthy at step 1: exploding, {claims.factor(claims.spread(far))}x" in text
    )
    at.button(key="grad_jump_plain-56_1").click().run()
    assert at.select_slider(key="grad_step").value == 1
    assert far.sentence in [m.value for m in at.markdown]
