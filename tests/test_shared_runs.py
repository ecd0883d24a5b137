"""Shared runs: a run asked for twice is trained once; a finished one is served from the store; a
job nobody follows stops; one ticket per session; the queue's estimates come from measured
step times."""

import ast
import time
from pathlib import Path

import pytest

from resviz import cache, training_job
from resviz.cache import SharedRuns, run_key
from resviz.config import NetConfig, TrainConfig
from resviz.jobs import JobManager
from resviz.pace import PRIOR_STEPS, Cost, Eta, Measured, Pace, Plan, Slot, Speed, schedule
from resviz.train import Trainer
from resviz.training_job import Job
from tests.helpers import ended

PLAIN, RES = NetConfig(depth=8, width=4, residual=False), NetConfig(depth=8, width=4)
SHORT = TrainConfig(steps=30, batch_size=16, eval_every=10)
LONG = TrainConfig(steps=100_000, batch_size=16)


@pytest.fixture
def trained(monkeypatch):
    """The labels of every network a job builds a Trainer for, in order."""
    made = []

    class Counting(Trainer):
        def __init__(self, net_cfg, cfg, *args, **kwargs):
            made.append(net_cfg.label)
            super().__init__(net_cfg, cfg, *args, **kwargs)

    monkeypatch.setattr(training_job, "Trainer", Counting)
    return made


def _steps(snap):
    return [[(r["step"], r["train_loss"]) for r in run.records] for run in snap.runs]


@pytest.mark.slow
def test_a_run_asked_for_while_it_trains_is_followed_and_then_served_finished(tmp_path, trained):
    manager = JobManager(slots=2, store=SharedRuns(tmp_path))
    first = manager.submit([(PLAIN, SHORT), (RES, SHORT)], owner="a" * 32)
    second = manager.submit([(PLAIN, SHORT), (RES, SHORT)], owner="b" * 32)
    assert first.jobs() == second.jobs() and second.snapshot().followers == 2
    a, b = ended(first), ended(second)
    assert trained == ["plain-8", "ResNet-8"]  # trained once for both sessions
    assert a.state == b.state == "done" and _steps(a) == _steps(b)
    assert not a.recorded and not b.recorded
    later = manager.submit([(RES, SHORT), (PLAIN, SHORT)], owner="c" * 32)
    snap = later.snapshot()
    assert not later.active and snap.recorded and snap.state == "done"  # at once, no queue
    assert _steps(snap) == _steps(a)[::-1] and trained == ["plain-8", "ResNet-8"]
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".json", ".pt", ".pt"]


@pytest.mark.slow
def test_only_the_runs_not_yet_trained_are_trained(tmp_path, trained):
    manager = JobManager(slots=2, store=SharedRuns(tmp_path))
    ended(manager.submit([(PLAIN, SHORT), (RES, SHORT)]))
    deeper = NetConfig(depth=14, width=4, residual=False)
    mixed = manager.submit([(deeper, SHORT), (PLAIN, SHORT), (RES, SHORT)])
    snap = ended(mixed)
    assert trained == ["plain-8", "ResNet-8", "plain-14"]
    assert [r.net.label for r in snap.runs] == ["plain-14", "plain-8", "ResNet-8"]
    assert [r.status for r in snap.runs] == ["done"] * 3 and not snap.recorded


@pytest.mark.slow
def test_a_changed_engine_or_seed_is_trained_again(tmp_path, trained, monkeypatch):
    manager = JobManager(store=SharedRuns(tmp_path))
    ended(manager.submit([(RES, SHORT)]))
    ended(manager.submit([(RES, TrainConfig(steps=30, batch_size=16, eval_every=10, seed=1))]))
    assert trained == ["ResNet-8"] * 2
    monkeypatch.setattr(cache, "engine_version", lambda: "a changed engine")
    snap = ended(manager.submit([(RES, SHORT)]))
    assert trained == ["ResNet-8"] * 3 and not snap.recorded


def test_the_key_covers_what_decides_the_numbers():
    key = run_key(RES, SHORT, "cpu:x86_64:AVX2", 1)
    assert key != run_key(PLAIN, SHORT, "cpu:x86_64:AVX2", 1)
    assert key != run_key(RES, SHORT, "cpu:x86_64:AVX512", 1)
    assert key != run_key(RES, SHORT, "cpu:x86_64:AVX2", 2)  # threads sum in another order
    for change in ({"seed": 1}, {"precision": "bf16"}, {"dataset": "shapes"}, {"lr": 0.05}):
        changed = TrainConfig(**{**SHORT.to_dict(), **change})
        assert key != run_key(RES, changed, "cpu:x86_64:AVX2", 1)
    # "auto" and "cpu" train on the same device: the device kind decides, not its spelling.
    assert key == run_key(
        RES, TrainConfig(**{**SHORT.to_dict(), "device": "cpu"}), "cpu:x86_64:AVX2", 1
    )


def test_the_engine_version_covers_every_module_training_imports():
    # Every resviz module that resviz.train reaches, except those choosing the device and the
    # thread count (which the key holds itself), is hashed into the engine's version.
    root = Path(cache.__file__).parent
    seen, todo = set(), ["train"]
    while todo:
        name = todo.pop()
        seen.add(name)
        tree = ast.parse((root / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found = [node.module] if node.module else [a.name for a in node.names]
                todo += [m for m in found if m not in seen and m not in ("runtime", "pace")]
    assert seen == set(cache.NUMERIC_MODULES)


def test_a_job_stops_when_nobody_follows_it_and_keeps_what_it_trained(tmp_path):
    manager = JobManager(store=SharedRuns(tmp_path))
    first = manager.submit([(RES, LONG)], owner="a" * 32)
    second = manager.submit([(RES, LONG)], owner="b" * 32)
    (job,) = first.jobs()
    while len(job.runs[0].records) < 3:
        time.sleep(0.02)
    first.stop()  # the other session still follows: the job goes on
    left = first.snapshot()
    assert left.state == "stopped" and left.runs[0].status == "stopped"
    at = len(left.runs[0].records)
    while len(job.runs[0].records) < at + 3:
        time.sleep(0.02)
    assert job.state == "running" and len(first.snapshot().runs[0].records) == at
    second.stop()  # nobody follows it now
    snap = ended(second, timeout=10)
    assert snap.state == "stopped" and len(snap.runs[0].records) > at
    assert list(tmp_path.iterdir()) == []  # a stopped run is kept by its sessions, not served


def test_a_session_has_one_ticket_whatever_it_asks_or_however_many_tabs(tmp_path):
    manager = JobManager(store=SharedRuns(tmp_path))
    owner = "c" * 32
    ticket = manager.submit([(RES, LONG)], owner=owner)
    assert manager.submit([(PLAIN, SHORT)], owner=owner) is ticket
    assert manager.ticket(owner) is ticket
    ticket.follow("tab 1"), ticket.follow("tab 2")
    ticket.unfollow("tab 1")
    assert ticket.active and ticket.jobs()[0].state in ("queued", "running")
    ticket.unfollow("tab 2")  # the session's last tab closed
    assert ended(ticket, timeout=10).state == "stopped"
    assert manager.submit([(PLAIN, SHORT)], owner=owner) is not ticket  # ended: a new one


def test_a_waiting_jobs_eta_comes_from_the_running_jobs_measured_step_times():
    manager = JobManager(slots=1)
    running = Job(
        [(RES, TrainConfig(steps=100, eval_every=10))],
        plan=Plan((Cost(step_s=0.1, eval_s=1.0, steps=100, every=10),), ((0,),), 1),
    )
    running.runs[0].records = [{"step": s} for s in range(1, 13)]
    running._warm = [2]
    # Then 10 steps in 4 s (0.4 s a step, 4x the prediction) and the pass at step 10 in 2 s (2x).
    running._spent = [[4.0, 6.0]]
    waiting = Job(
        [(PLAIN, TrainConfig(steps=200, eval_every=50))],
        plan=Plan((Cost(step_s=0.05, eval_s=0.5, steps=200, every=50),), ((0,),), 1),
    )
    manager._running.append(running)
    manager._queue.append(waiting)
    # Nothing has finished on this server yet (as predicted): the 10 steps weigh against that.
    w = 10 / (PRIOR_STEPS + 10)
    train, passes = 1 + (4 - 1) * w, 1 + (2 - 1) * w
    left = 88 * 0.1 * train + 9 * 1.0 * passes  # 88 steps, and the passes at steps 20-100
    etas = manager.etas()
    assert etas[running] == Eta(0.0, pytest.approx(left))
    assert etas[waiting] == Eta(
        pytest.approx(left), pytest.approx(left + 200 * 0.05 * train + 4 * 0.5 * passes)
    )


def test_a_jobs_first_steps_move_the_estimate_little_and_its_later_ones_decide_it():
    pace = Pace()
    pace.observe(Measured(1.0, 1.0, 100))  # the jobs before ran as predicted
    assert pace.blended(None) == Speed(1.0, 1.0)  # nothing measured yet
    # Its first 3 steps ran 4x slower (a class's pages loading): the estimate moves, not 4x.
    early = pace.blended(Measured(4.0, None, 3))
    assert 1.0 < early.train < 1.5 and early.evaluation == 1.0  # no pass made yet
    assert pace.blended(Measured(4.0, 4.0, 1000)).train > 3.9  # a thousand steps: it is slow


def test_steps_and_passes_keep_their_own_speeds():
    # A first job of 10 steps with a pass at every one, its passes faster than predicted and its
    # steps slower: a job of 100 steps with a pass every 10 is estimated at each one's speed.
    pace = Pace()
    pace.observe(Measured(train=1.2, evaluation=0.8, steps=8))
    long = Cost(step_s=0.1, eval_s=1.0, steps=100, every=10)
    assert long.left(0, pace.speed) == pytest.approx(100 * 0.1 * 1.2 + 10 * 1.0 * 0.8)
    assert long.left(95, pace.speed) == pytest.approx(5 * 0.1 * 1.2 + 1 * 1.0 * 0.8)
    # A run of 25 steps with a pass every 10 makes its last at step 25.
    assert [Cost(0.1, 1.0, 25, 10).evaluations(d) for d in (9, 10, 24, 25)] == [0, 1, 2, 3]


def test_the_queue_is_first_come_first_served():
    # Two slots, busy for 10 s and 30 s: a job needing both waits for 30 s, and the one-slot job
    # behind it does not overtake it although a slot is free at 10 s.
    etas = schedule(2, [Slot(1, 10.0), Slot(1, 30.0)], [(2, 5.0), (1, 5.0)])
    assert etas == [Eta(30.0, 35.0), Eta(35.0, 40.0)]
    assert schedule(2, [], [(1, 5.0), (1, 7.0), (1, 1.0)]) == [
        Eta(0.0, 5.0),
        Eta(0.0, 7.0),
        Eta(5.0, 6.0),
    ]
