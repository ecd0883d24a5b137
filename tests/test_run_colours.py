"""One run, one colour, on every page; the History compares the runs its tags name."""

import json

import pytest

from resviz.runs import save
from tests import claims_grid


def _keep(at, runs: list, created: str) -> list:
    """Runs put in the session's history as one job finished at `created`."""
    for run in runs:
        run.created = created
        save(run, at.session_state["work"].folder, f"{created}-{run.label}")
    return runs


def _grid(depths: tuple, residual: bool | None = None) -> list:
    return [
        r
        for r in claims_grid.runs()
        if r.train.seed == 0
        and r.net.batch_norm
        and r.net.depth in depths
        and residual in (None, r.net.residual)
    ]


def _chart(at, key: str) -> dict:
    """The figure of the chart with this key (none drawn: no traces)."""
    found = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith(key)]
    return found[0] if found else {"data": []}


def _compared(at) -> tuple[list[str], set[str]]:
    """The History's tags (run labels) and the runs its chart draws."""
    tags = [v.split(" · ")[1] for v in at.multiselect(key="train_compare").value]
    chart = _chart(at, "train_history_errors")
    return tags, {t["name"].rsplit(" ", 1)[0] for t in chart["data"]}


def test_the_history_compares_the_runs_its_tags_name_after_a_new_job(open_page):
    at = open_page("pages/train.py")
    _keep(at, _grid((8, 20, 56), residual=False), "2026-01-01T10:00:00")
    at.run()
    tags, drawn = _compared(at)
    assert sorted(tags) == ["plain-20", "plain-56", "plain-8"] and set(tags) == drawn
    picker = at.multiselect(key="train_compare")
    picker.set_value(picker.value[-1:])
    at.run()
    (only,) = at.multiselect(key="train_compare").value
    at.run()  # a rerun keeps the pick
    assert at.multiselect(key="train_compare").value == [only]
    _keep(at, _grid((20, 56), residual=True), "2026-01-01T11:00:00")
    at.run()
    tags, drawn = _compared(at)
    # The new job's runs first (newest four), each tag one the chart draws.
    assert tags[:2] == ["ResNet-20", "ResNet-56"] or tags[:2] == ["ResNet-56", "ResNet-20"]
    assert len(tags) == 4 and set(tags) == drawn


def _line_colours(fig: dict) -> dict[str, str]:
    return {t["name"]: t["line"]["color"] for t in fig["data"] if t.get("line", {}).get("color")}


@pytest.mark.slow
def test_a_run_has_the_same_colour_on_train_gradient_flow_and_experiments(open_page):
    at = open_page("pages/train.py")
    _keep(at, _grid((20, 56)), "2026-01-01T10:00:00")
    at.run()
    train = _line_colours(_chart(at, "train_history_errors"))
    at.switch_page("pages/gradient_flow.py")
    at.run()
    grads = _line_colours(_chart(at, "grad_profile_block_grad_norms"))
    at.switch_page("pages/experiments.py")
    at.run()
    at.radio(key="exp_source").set_value("This session's runs")
    at.run()
    assert not at.exception
    fig6 = _line_colours(_chart(at, "exp_fig6"))
    for label in ("plain-20", "plain-56", "ResNet-20", "ResNet-56"):
        assert train[f"{label} validation"] == grads[label] == fig6[f"{label} validation"], label
    assert len({grads[n] for n in grads}) == 4
