"""The memory budget: saved tensors counted exactly, the estimate against measured peak memory,
refusal before a job starts, and the sentence a learner sees.

    python -m tests.test_budget    # prints the estimate beside the measured peak for 5 jobs
"""

import json
import os
import re
import subprocess
import sys
import threading

import pytest
import torch
import torch.nn.functional as F

from resviz import budget
from resviz.budget import OverBudget
from resviz.config import NetConfig, TrainConfig
from resviz.jobs import JobManager
from resviz.models import build
from resviz.presets import PRESETS
from resviz.runtime import fast_precision
from tests.helpers import ROOT, one_network, over_budget, train_button

GB = 10**9
SENTENCE = re.compile(
    r"ResNet-110 at batch 512 needs about (\d+\.\d) GB to train; this server "
    r"allows 1\.2 GB per run\. Lower the batch size, the width or the depth\."
)


def test_saved_tensors_on_meta_match_a_real_forward_pass():
    # Oracle: the same count on real CPU tensors (distinct storages, parameters left out).
    cfg, batch = NetConfig(depth=8, width=4, residual=True), 8
    torch.manual_seed(0)
    net = build(cfg)
    params = {p.untyped_storage().data_ptr() for p in net.parameters()}
    saved = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params:
            saved[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        F.cross_entropy(net(torch.randn(batch, 1, 28, 28)), torch.zeros(batch, dtype=torch.long))
    n_params, meta_saved, largest = budget._forward_bytes(cfg, batch, 28)
    assert n_params == sum(p.numel() for p in net.parameters())
    # Equal up to a few per-channel statistics (640 of 930,756 bytes here) that meta kernels size
    # differently from the CPU ones.
    assert meta_saved == pytest.approx(sum(saved.values()), rel=1e-3)
    assert largest == batch * 4 * 28 * 28 * 4  # (B, 4, 28, 28) fp32: the first stage


def test_the_estimate_grows_with_batch_and_depth():
    def total(depth, batch):
        return budget.estimate(
            [(NetConfig(depth=depth, width=8), TrainConfig(batch_size=batch))]
        ).total

    assert total(20, 64) < total(20, 256) < total(56, 256) < total(110, 256)
    # Activations scale with the batch: four times the batch, about four times the saved bytes.
    a64, a256 = (
        budget.estimate([(NetConfig(depth=56, width=8), TrainConfig(batch_size=b))]).activations
        for b in (64, 256)
    )
    assert a256 / a64 == pytest.approx(4, rel=0.01)


@pytest.mark.parametrize(
    "env, jobs, mb",
    [
        ({}, 1, 1200),  # Community Cloud: 2,700 MB less the app's 1,500
        ({"RESVIZ_MEMORY_MB": "4700"}, 2, 1600),  # two jobs at once share what is left
        ({"RESVIZ_MEMORY_MB": "lots"}, 1, 1200),  # garbage: the default
        ({"RESVIZ_MEMORY_MB": "1000"}, 1, 0),  # less than the app itself: nothing trains
    ],
)
def test_the_budget_comes_from_the_environment(env, jobs, mb):
    assert budget.per_slot_bytes(jobs, env) == mb * 10**6


@pytest.mark.parametrize("dataset", ["mnist-5k", "shapes", "cifar10"])
@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_fits_community_clouds_budget(preset, dataset):
    specs = PRESETS[preset].specs(*((3, 10) if dataset != "mnist-5k" else (1, 10)), dataset)
    assert budget.check(specs, budget.per_slot_bytes(1, {})).total < 1 * GB


def test_a_job_over_budget_gets_one_sentence_with_the_estimate():
    specs = [(NetConfig(depth=110, width=16), TrainConfig(batch_size=512))]
    with pytest.raises(OverBudget) as err:
        budget.check(specs, int(1.2 * GB))
    match = SENTENCE.fullmatch(str(err.value))
    assert match, str(err.value)
    assert float(match[1]) == pytest.approx(budget.estimate(specs).total / GB, abs=0.05)


def test_a_job_of_several_networks_names_the_largest():
    specs = [(NetConfig(depth=d, width=16), TrainConfig(batch_size=512)) for d in (20, 110)]
    with pytest.raises(
        OverBudget,
        match=r"^These 2 networks \(the largest is ResNet-110\) at "
        r"batch 512 need about \d+\.\d GB to train; this "
        r"server allows 500 MB per run\.",
    ):
        budget.check(specs, 500 * 10**6)


def test_the_manager_refuses_before_anything_is_queued_or_started():
    manager = JobManager(slots=1, memory_budget=100 * 10**6)
    threads = set(threading.enumerate())
    with pytest.raises(OverBudget):
        manager.submit([(NetConfig(depth=110, width=16), TrainConfig(batch_size=512))])
    assert manager.etas() == {}  # nothing queued or running
    assert set(threading.enumerate()) == threads


@pytest.mark.slow
def test_the_train_page_refuses_a_job_too_large_and_keeps_the_history(open_page, train_custom):
    at = train_custom(open_page("pages/train.py"), steps=10, depths=(8,))
    work = at.session_state["work"]
    finished = work.job
    assert len(work.history()) == 1
    # The custom form's largest: ResNet-110, 64 channels, batch 512 (far above any budget).
    train_button(one_network(at, depth=110, width=64, batch=512)).click()
    at.run()
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and over_budget("ResNet-110", 512).fullmatch(errors[0]), errors
    assert at.session_state["work"].job is finished  # nothing started, nothing replaced
    assert len(at.session_state["work"].history()) == 1
    assert any("ResNet-8" in o for o in at.multiselect(key="train_compare").options)


# --- the estimate against measurement -----------------------------------------------------------

# Presets train in the precision the app picks here: emulated bf16 (a CPU without native bf16)
# is not what a learner's job runs, and its peak differs.
APP_PRECISION = fast_precision(torch.device("cpu"))

CASES = [  # (networks, training, threads): fp32 and bf16, one network, a preset-like four on two
    ([dict(depth=20, width=16)], dict(steps=4, batch_size=256, eval_every=4, precision="fp32"), 1),
    ([dict(depth=56, width=16)], dict(steps=3, batch_size=256, eval_every=3, precision="fp32"), 1),
    ([dict(depth=110, width=16)], dict(steps=2, batch_size=128, eval_every=2, precision="bf16"), 1),
    (
        [dict(depth=d, width=8, residual=r) for d in (20, 56) for r in (False, True)],
        dict(steps=40, batch_size=64, eval_every=40, precision=APP_PRECISION),
        2,
    ),
    (
        [dict(family="imagenet", depth=34, width=32)],
        dict(steps=3, batch_size=128, eval_every=3, precision="fp32"),
        1,
    ),
]


def _child(spec: dict) -> int:
    """In a fresh process: bytes of peak RSS growth while one job trains (VmHWM - VmRSS before)."""
    import gc

    from resviz import data as datasets
    from resviz.train import Trainer
    from resviz.training_job import Job

    def kb(field):
        line = next(ln for ln in open("/proc/self/status") if ln.startswith(field))
        return int(line.split()[1]) * 1024

    torch.set_num_threads(2 if spec["workers"] == 1 else 1)  # two threads either way
    nets = [NetConfig(**n) for n in spec["nets"]]
    train = TrainConfig(**spec["train"])
    datasets.load(train.dataset)
    warm = TrainConfig(steps=2, batch_size=8, eval_every=1, precision=train.precision)
    for _ in Trainer(NetConfig(depth=8, width=2), warm).run():  # libraries and kernels loaded
        pass
    gc.collect()
    before = kb("VmRSS:")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to now
    Job([(n, train) for n in nets]).train(workers=spec["workers"])
    return kb("VmHWM:") - before


def measure(nets: list[dict], train: dict, workers: int) -> tuple[int, int]:
    """(estimated, measured) peak bytes of a job."""
    specs = [(NetConfig(**n), TrainConfig(**train)) for n in nets]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.test_budget",
            "--child",
            json.dumps({"nets": nets, "train": train, "workers": workers}),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"),
    )
    return budget.estimate(specs, workers).total, int(out.stdout.split()[-1])


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
@pytest.mark.parametrize("case", [0, 3], ids=["ResNet-20", "four networks on two threads"])
def test_the_estimate_covers_the_measured_peak(case):
    estimated, measured = measure(*CASES[case])
    assert measured <= estimated <= 1.5 * measured, (estimated, measured)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(_child(json.loads(sys.argv[2])))
    else:
        print(f"{'job':70} {'estimate':>9} {'measured':>9} {'ratio':>6}")
        for nets, train, workers in CASES:
            est, got = measure(nets, train, workers)
            what = budget._what([(NetConfig(**n), TrainConfig(**train)) for n in nets])
            what += f", {train['precision']}, {workers} thread{'s' if workers > 1 else ''}"
            print(f"{what:70} {est / 1e6:7,.0f} MB {got / 1e6:6,.0f} MB {est / got:6.2f}")
