"""Guided questions on recorded runs: asked only when the runs can answer, answered by claims
whose rule holds (or by what the claim says instead), naming what the numbers show."""

import pytest

from resviz.claims import Kind, holds
from resviz.comparisons import alike, error_window, last_step, validation_at
from resviz.experiments import groups, sweep_runs
from resviz.gradients import probe_steps
from resviz.questions import on_experiments, on_gradient_flow, on_train
from resviz.runs import save
from tests import claims_grid
from tests.helpers import run_of


@pytest.fixture(scope="module")
def grid():
    return claims_grid.runs()


def pick(grid, *labels, seed=0, lr=0.05):
    by_label = {r.label: r for r in grid if r.train.seed == seed and r.train.lr == lr}
    return [by_label[label] for label in labels]


def answered_by_its_claim(q) -> bool:
    """The answer is the claim's sentence exactly when its rule holds, else what it says instead."""
    return q.answer == [q.claim.sentence if holds(q.claim) else q.claim.instead]


def test_the_train_page_asks_which_plain_network_ends_higher_and_why(grid):
    plain20, plain56 = pick(grid, "plain-20", "plain-56")
    higher, overfit = on_train([plain56, plain20])
    assert "**plain-20** or **plain-56**" in higher.text
    step = last_step(plain56)
    deep, shallow = error_window(plain56, step).mean, error_window(plain20, step).mean
    assert deep > shallow and holds(higher.claim) and higher.claim.kind == Kind.DEGRADATION
    assert higher.answer[0].startswith("**plain-56**: training error")
    # Degradation holds, so it asks whether that is overfitting, answered by the fit claim
    # on the same training errors and each run's last validation error.
    assert overfit.claim.kind == Kind.NOT_OVERFITTING and answered_by_its_claim(overfit)
    assert overfit.claim["deep_train"] == deep and overfit.claim["shallow_train"] == shallow
    assert overfit.claim["deep_val"] == validation_at(plain56, step)[1]


def test_a_question_needs_the_runs_it_asks_about(grid):
    plain20, plain56, resnet56 = pick(grid, "plain-20", "plain-56", "ResNet-56")
    assert on_train([plain20]) == []
    assert on_train([plain20, resnet56]) == []  # two kinds, no depth to compare
    other_seed = pick(grid, "plain-56", seed=1)[0]
    assert on_train([plain20, other_seed]) == []  # not trained alike
    assert all("ResNet" not in q.text for q in on_train([plain20, plain56]))
    assert on_gradient_flow([], 1, []) == []
    flat = [run_of(20, False, [0.3] * 40, {40: 0.3}), run_of(56, False, [0.3] * 40, {40: 0.3})]
    (same,) = on_train(flat)  # no degradation: no question about its cause
    assert same.answer[0].startswith("Neither clearly: training error 30% for plain-56")


def test_every_train_answer_over_the_grid_is_its_claim_and_names_the_higher_run(grid):
    asked = 0
    for deep in grid:
        for shallow in grid:
            if deep.net.depth <= shallow.net.depth or not alike(deep, shallow):
                continue
            if deep.net.residual != shallow.net.residual or not last_step(deep):
                continue
            for q in on_train([deep, shallow]):
                asked += 1
                assert answered_by_its_claim(q), q.text
                if holds(q.claim) and q.claim.kind in (Kind.DEGRADATION, Kind.DEEPER_WINS):
                    step = min(last_step(deep), last_step(shallow))
                    means = {r.label: error_window(r, step).mean for r in (deep, shallow)}
                    assert q.answer[0].startswith(f"**{max(means, key=means.get)}**")
    assert asked > 50


def test_gradient_flow_asks_about_initialisation_then_the_end_and_fig7(grid):
    runs = pick(grid, "plain-20", "plain-56", "ResNet-20", "ResNet-56")
    steps = probe_steps(runs)
    start, end, responses = on_gradient_flow(runs, steps[-1], steps)
    # With batch norm, the deep plain network's gradient explodes at initialisation (Yang et
    # al. 2019): the most extreme profile of the four, so the one asked about.
    assert "step 1" in start.text and "**plain-56**" in start.text
    assert start.claim.kind == Kind.EXPLODING and start.claim.step == 1
    assert end.claim.step == steps[-1] and "**plain-56**" in end.text
    assert "**plain-56** or **ResNet-56**" in responses.text  # the deepest pair
    assert responses.claim.kind == Kind.WEAKER_RESPONSES
    assert all(answered_by_its_claim(q) for q in (start, end, responses))
    # Without a plain and a ResNet of one depth with batch norm, no Fig. 7 question.
    assert len(on_gradient_flow(runs[:2], steps[-1], steps)) == 2


def test_experiments_ask_line_by_line_whether_the_deeper_network_ends_higher(grid):
    bn = [r for r in grid if r.net.batch_norm]
    plain, resnet = on_experiments(groups(sweep_runs(bn)), {"mnist-5k": 1000})
    assert "left panel" in plain.text and "**plain-56**" in plain.text
    assert "right panel" in resnet.text and "**ResNet-56**" in resnet.text
    # Over seeds 0-2 of the recorded grid: deeper plain worse, deeper ResNet better, each
    # beyond the noise of three seeds.
    assert plain.claim.kind == Kind.DEGRADATION and holds(plain.claim)
    assert resnet.claim.kind == Kind.DEEPER_WINS and holds(resnet.claim)
    assert plain.answer[0].startswith("**plain-56** ends higher than **plain-8**")
    one_depth = [r for r in bn if r.net.depth == 20]
    assert on_experiments(groups(sweep_runs(one_depth)), {"mnist-5k": 1000}) == []


def _asked(at) -> dict[str, list[str]]:
    """Each question a page shows, with the answer in the expander under it."""
    questions = [m.value for m in at.markdown if m.value[:3] in {f"**{n}" for n in range(1, 4)}]
    answers = [[m.value for m in e.markdown] for e in at.expander if e.label == "Show the answer"]
    return dict(zip(questions, answers))


def test_the_pages_ask_about_the_learner_s_runs_and_fold_the_answers(open_page, grid):
    runs = pick(grid, "plain-20", "plain-56", "ResNet-20", "ResNet-56")
    at = open_page("pages/train.py")
    for run in runs:
        run.created = "2026-01-01T10:00:00"
        save(run, at.session_state["work"].folder, run.label)
    at.run()
    expected = {f"**{n}.** {q.text}": q.answer for n, q in enumerate(on_train(runs[::-1]), 1)}
    assert _asked(at) == expected and len(expected) == 3
    at.switch_page("pages/gradient_flow.py")
    at.run()
    steps = probe_steps(runs)
    want = on_gradient_flow(runs, steps[-1], steps)
    assert _asked(at) == {f"**{n}.** {q.text}": q.answer for n, q in enumerate(want, 1)}
