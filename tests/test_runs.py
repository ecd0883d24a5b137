"""Run files: JSON round trip, strictness, and a name that cannot leave its folder."""
import json

import pytest

from resviz.config import NetConfig, TrainConfig
from resviz.runs import Run, RunFileError, dumps, list_runs, load, loads, save


def _run(**kw):
    records = [{"step": 1, "train_loss": 2.3, "train_error": 0.9, "val_error": None,
                "grad_norms": {"stem.conv": 0.5}}, {"step": 2, "train_loss": float("nan")}]
    return Run(net=NetConfig(depth=8), train=TrainConfig(steps=2), records=records,
               status="done", **kw)


def test_round_trip_keeps_configs_and_records(tmp_path):
    path = save(_run(name="my run"), tmp_path)
    back = load(path)
    assert back.net == NetConfig(depth=8) and back.train == TrainConfig(steps=2)
    assert back.records[0]["grad_norms"] == {"stem.conv": 0.5}
    assert back.records[1]["train_loss"] is None  # NaN stored as null: strict JSON
    json.loads(path.read_text())  # parses as strict JSON
    assert list_runs(tmp_path) == [path]


def test_a_name_with_dots_and_slashes_stays_in_the_folder(tmp_path):
    path = save(_run(), tmp_path / "runs", "../../etc/passwd")
    assert path.parent == tmp_path / "runs"


@pytest.mark.parametrize("text, words", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    (json.dumps({"schema": 99}), "schema version 99"),
    (json.dumps({"schema": 1, "net": {"depth": 21}, "train": {}, "records": []}), r"6n\+2"),
    (json.dumps({"schema": 1, "net": {}, "train": {}}), "incomplete"),
    (json.dumps({"schema": 1, "net": {}, "train": {}, "records": [1]}), "malformed"),
])
def test_malformed_files_are_rejected_with_a_sentence(text, words):
    with pytest.raises(RunFileError, match=words):
        loads(text)


def test_nan_and_huge_values_in_a_file_load_safely():
    d = json.loads(dumps(_run()))
    text = json.dumps(d, separators=(",", ":")).replace('"train_loss":2.3', '"train_loss":NaN') + " "
    assert loads(text.replace("\"train_error\":0.9", "\"train_error\":1e308")).records[0]["train_loss"] is None
