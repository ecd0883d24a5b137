"""Sweeps and the app's jobs on Ray, with a local Ray instance (ray.init on this machine, two
workers): the same numbers as in-process; a worker that dies has its run marked, the rest finish,
and a rerun trains only what is left. Skipped where Ray is not installed
(requirements-cluster.txt)."""

import os
import signal
import threading
from dataclasses import replace

import pytest

from resviz import cluster, sweep, training_job
from resviz.config import ARCHS, TrainConfig
from resviz.jobs import JobManager
from resviz.runs import load
from resviz.ui import state
from tests.helpers import ended

ray = pytest.importorskip("ray")
# A local Ray node takes tens of seconds to start; on a busy 2-core machine a whole test took
# up to 9 minutes, past the suite's 600 s per test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

ENTRIES = sweep.plan((8, 14), ARCHS, TrainConfig(steps=12, batch_size=16, eval_every=6), width=4)


@pytest.fixture(scope="module")
def local_ray():
    # A busy 2-core machine starts Ray's node slowly: more than the default 30 s was seen.
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "180")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _clockless(records):
    """Records less what the clock decides."""
    return [{k: v for k, v in r.items() if k not in ("elapsed", "images_per_s")} for r in records]


def _numbers(path):
    """A run file's status and records, less what the clock decides."""
    run = load(path)
    return run.status, _clockless(run.records)


def test_a_ray_sweep_writes_the_files_the_in_process_sweep_writes(tmp_path, local_ray):
    here, there = tmp_path / "here", tmp_path / "ray"
    for entry in ENTRIES:
        sweep.run_one(entry, here)
    outcomes = cluster.run_sweep(ENTRIES, there, "local", workers=2)
    assert outcomes == {e.filename: "done" for e in ENTRIES}
    names = sorted(p.name for p in here.iterdir())
    assert names == sorted(p.name for p in there.iterdir()) and len(names) == 4
    for name in names:
        assert _numbers(there / name) == _numbers(here / name)


def test_a_dead_worker_is_marked_the_rest_finish_and_a_rerun_resumes(
    tmp_path, local_ray, monkeypatch
):
    real, killed = cluster.records, []
    lock = threading.Lock()

    def dying(ray_module, actor):  # the first actor to stream dies after its third record
        for i, rec in enumerate(real(ray_module, actor)):
            yield rec
            with lock:
                if i == 2 and not killed:
                    killed.append(actor)
                    os.kill(ray_module.get(actor.pid.remote()), signal.SIGKILL)

    monkeypatch.setattr(cluster, "records", dying)
    long = sweep.plan((8, 14), ARCHS, TrainConfig(steps=60, batch_size=16, eval_every=20), width=4)
    outcomes = cluster.run_sweep(long, tmp_path, "local", workers=2)
    (dead,) = [name for name, outcome in outcomes.items() if outcome == "failed"]
    assert sorted(outcomes.values()) == ["done", "done", "done", "failed"]
    run = load(tmp_path / f"{dead}.json")
    assert run.status == "failed" and 3 <= len(run.records) < 60
    assert "run the sweep again" in run.message
    monkeypatch.setattr(cluster, "records", real)
    left = [e for e in long if not sweep.finished(tmp_path / f"{e.filename}.json")]
    assert [e.filename for e in left] == [dead]
    assert cluster.run_sweep(left, tmp_path, "local") == {dead: "done"}
    assert all(load(tmp_path / f"{e.filename}.json").status == "done" for e in long)


# --- the app's jobs on Ray (RESVIZ_RAY_ADDRESS) -----------------------------------------------

PAIR = [(e.net, e.train) for e in ENTRIES[:2]]  # plain-8 and ResNet-8, 12 steps


def test_an_app_job_on_ray_gives_the_numbers_of_the_same_job_in_process(local_ray):
    ray_cluster = cluster.cluster("local")
    assert ray_cluster.slots == 2 and not ray_cluster.gpus
    there = ended(JobManager(cluster=ray_cluster).submit(PAIR), 600)
    here = ended(JobManager(slots=2).submit(PAIR), 600)
    assert [r.status for r in there.runs] == ["done", "done"]
    for remote, local in zip(there.runs, here.runs):
        assert remote.env["threads"] == 1 and remote.env["torch"] == local.env["torch"]
        assert _clockless(remote.records) == _clockless(local.records)


def test_a_lost_ray_worker_fails_its_run_the_other_finishes_and_a_rerun_trains_it(
    local_ray, monkeypatch
):
    real, killed = cluster.records, []

    def dying(ray_module, actor):  # the first actor to stream dies after its third record
        for i, rec in enumerate(real(ray_module, actor)):
            yield rec
            if i == 2 and not killed:
                killed.append(actor)
                os.kill(ray_module.get(actor.pid.remote()), signal.SIGKILL)

    monkeypatch.setattr(cluster, "records", dying)
    manager = JobManager(cluster=cluster.cluster("local"))
    long = [(net, replace(train, steps=60)) for net, train in PAIR]
    snap = ended(manager.submit(long), 600)
    failed = [r for r in snap.runs if r.status == "failed"]
    assert [r.status for r in snap.runs].count("done") == 1 and len(failed) == 1
    assert failed[0].message.startswith("the Ray worker training it stopped")
    assert 3 <= len(failed[0].records) < 60
    monkeypatch.setattr(cluster, "records", real)
    again = ended(manager.submit(long), 600)  # the finished run is served; the failed one trains
    assert [r.status for r in again.runs] == ["done", "done"]


def test_with_resviz_ray_address_the_app_trains_on_the_cluster(
    local_ray, monkeypatch, open_page, train_custom
):
    monkeypatch.setenv("RESVIZ_RAY_ADDRESS", "local")
    made = []
    monkeypatch.setattr(training_job, "RayRun", _spy(made))
    state.runtime.clear()
    state.manager.clear()
    try:
        at = train_custom(open_page("pages/train.py"), steps=12)
        captions = [c.value for c in at.sidebar.caption]
        assert any("Running on **Ray cluster at local: 2 CPUs**" in c for c in captions)
        (run,) = at.session_state["work"].job.snapshot().runs
        assert run.status == "done" and len(run.records) == 12 and len(made) == 1
    finally:
        state.runtime.clear()
        state.manager.clear()


def _spy(made: list):
    class Spy(cluster.RayRun):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    return Spy
