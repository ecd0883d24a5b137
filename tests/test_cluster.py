"""Sweeps on Ray, with a local Ray instance (ray.init on this machine, two workers): the same run
files as the in-process sweep; a worker that dies has its run marked, the rest finish, and a
rerun trains only what is left. Skipped where Ray is not installed (requirements-cluster.txt)."""

import os
import signal
import threading

import pytest

from resviz import cluster, sweep
from resviz.config import ARCHS, TrainConfig
from resviz.runs import load

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


def _numbers(path):
    """A run file's status and records, less what the clock decides."""
    run = load(path)
    return run.status, [
        {k: v for k, v in r.items() if k not in ("elapsed", "images_per_s")} for r in run.records
    ]


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
