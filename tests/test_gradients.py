"""Probe matrices out of run records, as recorded and per element."""

import math

import pytest

from resviz.config import NetConfig, TrainConfig
from resviz.gradients import element_counts, matrix, probe_steps, rms_matrix
from resviz.runs import Run


def _run(first: float, last: float, dataset: str = "mnist-5k") -> Run:
    recs = [
        {"step": 1, "block_grad_norms": None},
        {"step": 10, "block_grad_norms": {"stage1.block1": first, "stage3.block3": last}},
    ]
    return Run(
        net=NetConfig(depth=20, width=8),
        train=TrainConfig(dataset=dataset, batch_size=4),
        records=recs,
        status="done",
    )


def test_matrix_is_layers_by_probed_steps():
    m = matrix(_run(1e-4, 1e-2), "block_grad_norms")
    assert m.layers == ["stage1.block1", "stage3.block3"] and m.steps == [10]
    assert m.at(10) == [1e-4, 1e-2]
    assert probe_steps([_run(1, 1), _run(2, 2)]) == [10]


def test_per_element_divides_each_norm_by_its_batch_s_element_count():
    # 28x28 digits at width 8: stage 1 takes 8x28x28 values an image, stage 3's blocks 32x7x7.
    assert (
        element_counts(NetConfig(depth=20, width=8), 28)["block_grad_norms"]["stage3.block3"]
        == 32 * 7 * 7
    )
    m = rms_matrix(_run(2.0, 2.0), "block_grad_norms")
    assert m.at(10) == pytest.approx(
        [2 / math.sqrt(4 * 8 * 28 * 28), 2 / math.sqrt(4 * 32 * 7 * 7)]
    )


def test_a_dataset_unknown_here_has_no_per_element_matrix():
    assert rms_matrix(_run(1.0, 1.0, dataset="imagenet-22k"), "block_grad_norms") is None
