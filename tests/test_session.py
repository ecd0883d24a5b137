"""A session's work: uploaded run files are validated and kept inside the session's folder."""
import json

from resviz.config import NetConfig, TrainConfig
from resviz.runs import Run, dumps
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
