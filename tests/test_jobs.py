"""Background jobs: configurations side by side, the global cap and its queue, stop, failure."""

import threading
import time

import pytest
import torch

import resviz.pace
from resviz.config import NetConfig, TrainConfig
from resviz.jobs import JobManager
from resviz.models import build
from resviz.pace import LANES, Plan, balanced, cost, shape
from resviz.presets import PRESETS
from resviz.train import Trainer
from resviz.training_job import WARM_STEPS, Job

NET = NetConfig(depth=8, width=4)
QUICK = TrainConfig(steps=6, batch_size=16, eval_every=6)  # one evaluation: a pass over the split
LONG = TrainConfig(steps=10_000, batch_size=16)


def _wait(job, states=("done", "stopped", "failed"), timeout=60):
    end = time.monotonic() + timeout
    while job.snapshot().state not in states:
        assert time.monotonic() < end, f"job stuck in {job.snapshot().state}"
        time.sleep(0.02)
    return job.snapshot()


def test_a_job_trains_its_configurations_in_lockstep():
    finished = []
    manager = JobManager(on_finish=finished.append)
    plain = NetConfig(depth=8, width=4, residual=False)
    job = manager.submit([(plain, QUICK), (NET, QUICK)])
    snap = _wait(job)
    assert snap.state == "done" and finished == [job]
    assert [r.status for r in snap.runs] == ["done", "done"]
    assert [len(r.records) for r in snap.runs] == [6, 6]
    assert snap.runs[0].env["torch"] and snap.runs[0].env["threads"] == 1


def test_the_degradation_preset_splits_into_two_threads_of_equal_work():
    specs = PRESETS["degradation"].specs()
    assert [n.label for n, _ in specs] == ["plain-20", "ResNet-20", "plain-56", "ResNet-56"]
    costs = [cost(n, t, 28).per_step for n, t in specs]
    groups = balanced(costs, 2)
    assert [sorted(specs[i][0].depth for i in g) for g in groups] == [[20, 56], [20, 56]]
    assert sorted(balanced(costs, 8)) == [[0], [1], [2], [3]]
    assert balanced(costs[:1], 2) == [[0]]


def test_a_layers_channels_are_costed_in_whole_blocks_as_the_cpu_computes_them():
    seven, eight = (shape(NetConfig(depth=20, width=w), 28) for w in (7, 8))
    assert LANES == 8  # 7, 14, 28 channels cost what 8, 16, 32 do
    assert seven.blocked_activations == eight.blocked_activations
    assert eight.blocked_macs - seven.blocked_macs == (32 - 28) * 10  # but the classifier's inputs
    assert seven.macs < 0.75 * seven.blocked_macs  # what the arithmetic alone would cost


def test_a_job_measures_its_steps_and_its_passes_apart():
    net, cfg = NetConfig(depth=8, width=4), TrainConfig(steps=12, batch_size=32, eval_every=4)
    predicted = cost(net, cfg, 28)
    job = Job([(net, cfg)], plan=Plan((predicted,), ((0,),), 1))
    job.train()
    measured = job.measured()
    after_warm_up = job.runs[0].records[WARM_STEPS:]  # steps 3-12, passes at 4, 8 and 12
    steps_s = sum(32 / r["images_per_s"] for r in after_warm_up)  # as the trainer timed them
    assert measured.steps == 10
    assert measured.train == pytest.approx(steps_s / (10 * predicted.step_s))
    assert measured.evaluation is not None and measured.evaluation > 0


def test_side_by_side_training_gives_the_same_numbers_as_one_thread():
    specs = [(NetConfig(depth=d, width=4, residual=r), QUICK) for d in (8, 14) for r in (0, 1)]
    records = []
    for workers in (1, 2):
        job = Job(specs)
        job.train(workers=workers)
        records.append([[(rec["step"], rec["train_loss"]) for rec in r.records] for r in job.runs])
        assert [r.status for r in job.runs] == ["done"] * 4
    assert records[0] == records[1]


def test_two_one_network_jobs_share_two_slots_and_a_four_network_job_waits():
    manager = JobManager(slots=2)
    first, second = (manager.submit([(NetConfig(depth=8, width=w), LONG)]) for w in (4, 5))
    big = manager.submit([(NetConfig(depth=8, width=6), QUICK)] * 4)
    _wait(first, ("running",)), _wait(second, ("running",))
    time.sleep(0.3)
    assert big.snapshot().state == "queued" and big.snapshot().position == 1
    first.stop(), second.stop()
    assert _wait(big).state == "done"


def test_on_a_gpu_a_job_takes_one_slot_whatever_its_networks():
    # The slot logic of a GPU, run on the CPU (no GPU here): its networks step in one thread,
    # so two four-network jobs train at once on two slots and a third waits.
    manager = JobManager(slots=2, device_type="cuda")
    first, second = (manager.submit([(NetConfig(depth=8, width=w), LONG)] * 4) for w in (4, 5))
    third = manager.submit([(NET, QUICK)])
    _wait(first, ("running",)), _wait(second, ("running",))
    time.sleep(0.3)
    assert third.snapshot().state == "queued" and third.snapshot().position == 1
    assert [len(j.plan.groups) for j in first.jobs()] == [1]
    first.stop(), second.stop()
    assert _wait(third).state == "done"


def test_the_cap_queues_extra_jobs_with_their_position():
    manager = JobManager(slots=1)
    first = manager.submit([(NET, LONG)])
    _wait(first, states=("running",))
    second = manager.submit([(NET, QUICK)])
    time.sleep(0.2)
    assert second.snapshot().state == "queued" and second.snapshot().position == 1
    first.stop()
    assert _wait(first).state == "stopped"
    assert _wait(second).state == "done"


def test_stop_ends_a_running_job_within_a_second():
    manager = JobManager()
    job = manager.submit(
        [
            (NetConfig(depth=8, width=w), TrainConfig(steps=100_000, batch_size=16))
            for w in (4, 5, 6, 7)
        ]
    )
    _wait(job, states=("running",))
    while not job.snapshot().runs[0].records:
        time.sleep(0.02)
    t0 = time.monotonic()
    job.stop()
    snap = _wait(job)
    assert time.monotonic() - t0 < 1.0
    assert snap.state == "stopped" and {r.status for r in snap.runs} == {"stopped"}


def test_a_queued_job_can_be_stopped_before_it_starts():
    manager = JobManager(slots=1)
    first = manager.submit([(NET, LONG)])
    second = manager.submit([(NET, QUICK)])
    second.stop()
    snap = _wait(second)
    assert snap.state == "stopped" and [r.status for r in snap.runs] == ["stopped"]
    assert len(manager.etas()) == 1  # only the first job: the stopped one left the queue
    first.stop()
    _wait(first)


def test_a_stop_as_a_queued_job_leaves_the_queue_ends_it_stopped_and_frees_its_slot(
    monkeypatch,
):
    manager = JobManager(slots=1)
    first = manager.submit([(NET, LONG)])
    _wait(first, states=("running",))
    second = manager.submit([(NET, QUICK)])
    start = Job.begin

    def stopped_as_it_starts(job):  # the Stop click lands after the queue let the job go
        job.stop()
        start(job)

    monkeypatch.setattr(Job, "begin", stopped_as_it_starts)
    first.stop()
    snap = _wait(second)
    assert snap.state == "stopped" and {r.status for r in snap.runs} == {"stopped"}
    monkeypatch.undo()
    assert manager.etas() == {}  # neither queued nor holding the slot
    assert _wait(manager.submit([(NET, QUICK)])).state == "done"


def test_an_error_in_the_worker_marks_the_job_failed_and_others_go_on():
    manager = JobManager(slots=2)
    bad = manager.submit([(NetConfig(depth=8, in_channels=3), QUICK)])  # digits are 1-channel
    good = manager.submit([(NET, QUICK)])
    snap = _wait(bad)
    assert snap.state == "failed" and "1-channel" in snap.message
    assert _wait(good).state == "done"
    assert threading.active_count() < 20


def test_a_finished_job_keeps_the_final_weights_of_each_network():
    job = JobManager().submit([(NET, QUICK)])
    _wait(job)
    net = Trainer(NET, QUICK).net
    net.load_state_dict(job.weights[0])  # same architecture, all keys present
    assert not torch.equal(
        job.weights[0]["stem.conv.weight"], Trainer(NET, QUICK).net.state_dict()["stem.conv.weight"]
    )  # trained


def test_a_class_asking_at_once_builds_each_network_once_to_count_it(monkeypatch):
    builds = []

    def slow_build(cfg):
        builds.append(cfg)
        time.sleep(0.05)  # long enough for every session to ask before the first count ends
        return build(cfg)

    monkeypatch.setattr(resviz.pace, "build", slow_build)
    net = NetConfig(depth=14, width=3)  # counted by no other test
    counts = []
    sessions = [
        threading.Thread(target=lambda: counts.append(resviz.pace.step_macs(net, 32, 28)))
        for _ in range(8)
    ]
    for s in sessions:
        s.start()
    for s in sessions:
        s.join()
    assert builds == [net] and len(set(counts)) == 1 and counts[0] > 0
