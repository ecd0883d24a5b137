"""A session's work: uploaded run files are validated and kept inside the session's folder."""
import json
import time

from resviz.config import NetConfig, TrainConfig
from resviz.jobs import JobManager
from resviz.models import build
from resviz.runs import Run, dumps, load_weights
from resviz.ui.state import SessionWork


def test_a_good_upload_joins_the_history_and_a_bad_one_gets_a_sentence(tmp_path):
    work = SessionWork(folder=tmp_path / "s")
    run = Run(net=NetConfig(depth=8), train=TrainConfig(steps=1), status="done",
              records=[{"step": 1, "train_error": 0.5}])
    assert work.add_upload("../../evil.json", dumps(run).encode()) is None
    assert [p.parent for p in (tmp_path / "s").iterdir()] == [tmp_path / "s"]
    assert work.history()[0].records == run.records
    problem = work.add_upload("x.json", b"{oops")
    assert problem == "x.json: this file is not valid JSON, so it is not a ResViz run file."
    assert work.add_upload("y.json", json.dumps({"schema": 7}).encode()).startswith("y.json: this run file has schema version 7")
    assert len(work.history()) == 1


def test_a_finished_job_is_saved_once_with_its_weights(tmp_path):
    work = SessionWork(folder=tmp_path / "s")
    work.job = JobManager().submit([(NetConfig(depth=8, width=4), TrainConfig(steps=3))])
    while work.job.active:
        time.sleep(0.05)
    assert work.collect() and not work.collect()
    (run, path), = work.trained()
    assert run.status == "done" and len(run.records) == 3
    net = build(run.net)
    net.load_state_dict(load_weights(path))  # read back with weights_only=True
