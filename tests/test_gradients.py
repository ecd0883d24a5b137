"""Probe matrices out of run records, and the words the app uses for them."""
import pytest

from resviz.config import NetConfig, TrainConfig
from resviz.gradients import explain, matrix, probe_steps, shrink_ratio, verdict
from resviz.runs import Run


def _run(first: float, last: float, bn: bool = True, residual: bool = False) -> Run:
    recs = [{"step": 1, "block_grad_norms": None},
            {"step": 10, "block_grad_norms": {"stage1.block1": first, "stage3.block3": last}}]
    return Run(net=NetConfig(depth=20, batch_norm=bn, residual=residual),
               train=TrainConfig(), records=recs, status="done")


def test_matrix_is_layers_by_probed_steps():
    m = matrix(_run(1e-4, 1e-2), "block_grad_norms")
    assert m.layers == ["stage1.block1", "stage3.block3"] and m.steps == [10]
    assert m.at(10) == [1e-4, 1e-2]
    assert probe_steps([_run(1, 1), _run(2, 2)]) == [10]


@pytest.mark.parametrize("first, last, words", [
    (1e-4, 1e-2, "vanishing: 100x smaller"), (1.0, 2.0, "healthy"), (50.0, 1.0, "growing: 50x"),
])
def test_verdicts_follow_the_measured_ratio(first, last, words):
    assert words in verdict(shrink_ratio(_run(first, last), 10))


def test_explanation_names_both_problems_only_when_they_apply():
    no_bn = explain([_run(1e-4, 1e-2, bn=False)], 10)
    assert "vanishing" in no_bn[0] and "really vanishes" in no_bn[1]
    assert not any("degradation" in line for line in no_bn)
    with_bn = explain([_run(1.0, 1.0, bn=True)], 10)
    assert any("degradation problem" in line for line in with_bn)
