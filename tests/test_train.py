"""Training: seeded, honest records, divergence as a record, stoppable, schedules."""

import math
import threading
from dataclasses import replace
from typing import get_args

import pytest
from pydantic import TypeAdapter

from resviz.config import ConfigError, NetConfig, TrainConfig
from resviz.pace import step_macs
from resviz.runtime import PARALLEL_MACS, cpu_quota
from resviz.schema import Measurement, Record
from resviz.train import Trainer, lr_at, train

TINY_NET = NetConfig(depth=8, width=4)
TINY = TrainConfig(steps=12, batch_size=32, eval_every=6, probe_every=4)


@pytest.mark.slow
def test_records_carry_what_the_curves_need():
    recs = list(train(TINY_NET, TINY))
    assert [r["step"] for r in recs] == list(range(1, 13))
    assert [r["step"] for r in recs if r["val_error"] is not None] == [6, 12]
    assert [r["step"] for r in recs if r["grad_norms"]] == [1, 4, 8, 12]
    last = recs[-1]
    assert 0 <= last["train_error"] <= 1 and 0 <= last["val_error"] <= 1
    assert set(last["grad_norms"]) >= {"stem.conv", "stage3.block1.conv2", "fc"}
    assert list(last["block_grad_norms"])[0] == "stage1.block1"
    assert last["images_per_s"] > 0 and last["epoch"] == pytest.approx(12 * 32 / 4000)


@pytest.mark.skipif(cpu_quota() < 2, reason="needs two CPUs to share")
def test_processes_side_by_side_keep_to_their_omp_threads(monkeypatch):
    # Two processes that each take the whole CPU quota spin their threads against each other:
    # a sweep split in two with --only ran its ResNet-56 steps 30-40x slower than on one thread
    # each. OMP_NUM_THREADS, set for the sweep, caps the threads a lone large network would take.
    big = NetConfig(depth=56, width=16)
    cfg = TrainConfig(steps=1, batch_size=128)
    assert step_macs(big, cfg.batch_size, 28) >= PARALLEL_MACS
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert Trainer(big, cfg).env["threads"] == cpu_quota()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert Trainer(big, cfg).env["threads"] == 1


def test_same_config_and_seed_give_identical_records():
    def strip(recs: list[dict]) -> list[dict]:  # the timings differ from run to run
        return [{k: v for k, v in r.items() if k not in ("images_per_s", "elapsed")} for r in recs]

    assert strip(train(TINY_NET, TINY)) == strip(train(TINY_NET, TINY))


def test_plain_and_residual_start_from_the_same_weights():
    plain = Trainer(NetConfig(depth=8, width=4, residual=False), TINY).net.state_dict()
    res = Trainer(TINY_NET, TINY).net.state_dict()
    assert plain.keys() == res.keys()
    assert all((plain[k] == res[k]).all() for k in plain)


@pytest.mark.slow
def test_training_learns_the_digits():
    recs = list(train(NetConfig(depth=8, width=8), TrainConfig(steps=120, eval_every=120)))
    assert recs[-1]["val_error"] < 0.3  # chance is 0.9


def test_a_diverging_run_ends_with_a_record_not_an_exception():
    # Without batch norm a learning rate of 10 blows up within a few steps (with BN it does not:
    # the weights' scale no longer matters, so the loss stays finite though nothing is learned).
    recs = list(
        train(
            NetConfig(depth=8, width=4, batch_norm=False),
            TrainConfig(steps=50, lr=10, batch_size=32, schedule="constant"),
        )
    )
    assert recs[-1]["diverged"] is True and recs[-1]["step"] == len(recs)
    assert f"step {len(recs)}" in recs[-1]["message"]
    assert all(math.isfinite(r["train_loss"]) for r in recs[:-1])
    TypeAdapter(list[Record]).validate_python(recs)  # the diverged record is a Record too


def test_every_record_has_the_shape_a_run_file_may_hold():
    recs = TypeAdapter(list[Record]).validate_python(list(train(TINY_NET, TINY)))
    assert {k for r in recs for k in r} == set(Record.__annotations__) - {"diverged", "message"}
    assert set(get_args(Measurement)) <= set(Record.__annotations__)  # each curve's field


def test_stop_from_another_thread_ends_within_one_step():
    stop = threading.Event()
    seen = []
    for rec in train(TINY_NET, TrainConfig(steps=1000, batch_size=32), stop=stop):
        seen.append(rec["step"])
        if rec["step"] == 3:
            threading.Thread(target=stop.set).start()
            threading.Event().wait(0.05)
    assert seen[-1] <= 4


def test_schedules():
    cfg = TrainConfig(steps=100, lr=0.1, warmup_steps=10, schedule="cosine")
    assert lr_at(0, cfg) == pytest.approx(0.01) and lr_at(9, cfg) == pytest.approx(0.1)
    assert lr_at(10, cfg) == pytest.approx(0.1) and lr_at(99, cfg) < 0.001
    step = TrainConfig(steps=100, lr=0.1, schedule="step")
    assert [lr_at(s, step) for s in (0, 49, 50, 75)] == pytest.approx([0.1, 0.1, 0.01, 0.001])


def test_network_must_fit_the_dataset():
    with pytest.raises(ConfigError, match="1-channel"):
        Trainer(NetConfig(depth=8, in_channels=3), TINY)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"lr": -0.1}, "learning rate"),
        ({"lr": 100}, "learning rate"),
        ({"steps": 0}, "steps"),
        ({"batch_size": 0}, "batch size"),
        ({"schedule": "linear"}, "schedule"),
    ],
)
def test_bad_training_configs_say_what_is_allowed(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        TrainConfig(**kwargs)


@pytest.mark.slow
def test_channels_last_and_bf16_keep_the_metrics():
    base = TrainConfig(steps=40, batch_size=32, eval_every=40, channels_last=False)
    runs = {
        name: list(train(NetConfig(depth=8, width=8), replace(base, **kw)))
        for name, kw in (
            ("fp32", {}),
            ("channels_last", {"channels_last": True}),
            ("bf16", {"channels_last": True, "precision": "bf16"}),
        )
    }
    losses = {k: [r["train_loss"] for r in v] for k, v in runs.items()}
    # The same arithmetic in another memory order: equal up to float32 summation order, which
    # SGD then amplifies step by step, so compare the first steps closely and the end loosely.
    assert losses["channels_last"][0] == pytest.approx(losses["fp32"][0], rel=1e-5)
    assert losses["channels_last"][:3] == pytest.approx(losses["fp32"][:3], rel=1e-3)
    # bfloat16 keeps 8 bits of mantissa: the same path within a few percent.
    assert losses["bf16"][:3] == pytest.approx(losses["fp32"][:3], rel=0.02)
    for name in ("channels_last", "bf16"):
        assert abs(runs[name][-1]["val_error"] - runs["fp32"][-1]["val_error"]) < 0.05
