"""Run files: JSON round trip, the schema's sentences, atomic writes, a name that stays inside."""

import errno
import json
import os
import subprocess
import sys
import time

import pytest
import torch

from resviz.config import NetConfig, TrainConfig
from resviz.data import DATASETS
from resviz.runs import (
    Run,
    RunFileError,
    check_writable,
    dumps,
    list_runs,
    load,
    loads,
    save,
    save_weights,
    write_problem,
)
from tests.helpers import ROOT


def _run(**kw):
    records = [
        {
            "step": 1,
            "train_loss": 2.3,
            "train_error": 0.9,
            "val_error": None,
            "grad_norms": {"stem.conv": 0.5},
        },
        {"step": 2, "train_loss": float("nan")},
    ]
    return Run(
        net=NetConfig(depth=8), train=TrainConfig(steps=2), records=records, status="done", **kw
    )


def _file(**changes) -> str:
    # A fixed creation time: the text names a parametrized test, and every pytest-xdist worker
    # must collect the same names.
    d = json.loads(dumps(_run(created="2026-11-29T12:00:00")))
    d.update(changes)
    return json.dumps(d)


def test_round_trip_keeps_configs_and_records(tmp_path):
    path = save(_run(name="my run"), tmp_path)
    back = load(path)
    assert back.net == NetConfig(depth=8) and back.train == TrainConfig(steps=2)
    assert back.records[0]["grad_norms"] == {"stem.conv": 0.5}
    assert back.records[1]["train_loss"] is None  # NaN stored as null: strict JSON
    json.loads(path.read_text())  # parses as strict JSON
    assert list_runs(tmp_path) == [path]
    assert path.stat().st_mode & 0o777 == 0o644  # readable by others, as a plain write was


def test_a_name_with_dots_and_slashes_stays_in_the_folder(tmp_path):
    path = save(_run(), tmp_path / "runs", "../../etc/passwd")
    assert path.parent == tmp_path / "runs"


@pytest.mark.parametrize(
    "text, sentence",
    [
        ("{not json", "this file is not valid JSON, so it is not a ResViz run file"),
        ("[1, 2]", "this is not a ResViz run file (expected a JSON object)"),
        (
            json.dumps({"schema": 99}),
            "this run file has schema version 99; this ResViz reads version 1",
        ),
        (
            json.dumps({"schema": True}),
            "this run file has no schema version (this ResViz reads version 1)",
        ),
        ("[" * 100_000 + "]" * 100_000, "this file is nested too deeply to be a ResViz run file"),
        (
            '{"schema": 1, "x": ' + "9" * 5000 + "}",
            "this file is not valid JSON, so it is not a ResViz run file",
        ),
        (
            json.dumps({"schema": 1, "net": {"depth": 21}, "train": {}, "records": []}),
            "this run file is incomplete or invalid (depth must be 6n+2 "
            "(8, 14, 20, 32, 44, 56, 110 ...), not 21)",
        ),
        (
            json.dumps({"schema": 1, "net": {}, "train": {}}),
            "this run file is incomplete (it has no 'records' field)",
        ),
        (
            json.dumps({"schema": 1, "net": {}, "train": {}, "records": [1]}),
            "this run file is invalid (record 1 must be a JSON object, not 1)",
        ),
        (
            _file(records=[{"step": 1}, {"step": 1}]),
            "this run file is invalid (record 2's step 1 "
            "does not come after the step before it (1))",
        ),
        (
            _file(records=[{"step": 3}]),
            "this run file is invalid (its last record is step 3, past the run's 2 steps)",
        ),
        (
            _file(records=[{"step": 1, "val_error": 1.5}]),
            "this run file is invalid (record 1's val_error must be at most 1.0, not 1.5)",
        ),
        (
            _file(records=[{"step": 1, "act_std": {"<a href=x>": 1}}]),
            "this run file is invalid (a name in record 1's act_std holds characters that are not "
            "allowed, not '<a href=x>')",
        ),
        (
            _file(records=[{"step": 1, "grad_norms": {"stage9.block1.conv1": 0.5}}]),
            "this run file is invalid (record 1's grad_norms names a layer "
            "'stage9.block1.conv1' that ResNet-8 does not have)",
        ),
        (
            _file(records=[{"step": 1, "colour": "red"}]),
            "this run file is invalid (record 1 has an unknown field 'colour')",
        ),
        (
            _file(name="a\n# heading"),
            "this run file is invalid (name may hold only letters, digits, "
            "spaces and - _ . , ( ) + = ' / # % ? ; (no web address), not "
            "'a\\n# heading')",
        ),
        (
            _file(name="[x](http://e.x)"),
            "this run file is invalid (name may hold only letters, "
            "digits, spaces and - _ . , ( ) + = ' / # % ? ; (no web "
            "address), not '[x](http://e.x)')",
        ),
        (
            _file(name="x" * 101),
            "this run file is invalid (name is longer than 100 characters, not "
            "'xxxxxxxxxxxxxxxxxxxxxxxxxxxx…)",
        ),
        (
            _file(train={"dataset": "imagenet-22k"}),
            "this run file's dataset 'imagenet-22k' is not "
            f"one ResViz knows ({', '.join(DATASETS)})",
        ),
        (
            _file(env={str(i): i for i in range(33)}),
            "this run file is invalid (env has more than 32 entries)",
        ),
    ],
)
def test_malformed_files_are_rejected_with_one_sentence(text, sentence):
    with pytest.raises(RunFileError) as err:
        loads(text)
    assert str(err.value) == sentence


def test_records_are_counted_before_they_are_checked():
    text = _file(records=[{"step": i} for i in range(1, 4)], train={"steps": 3})
    assert len(loads(text, max_records=3).records) == 3
    with pytest.raises(
        RunFileError,
        match=r"^this run file has 3 records; at most 2 can be "
        r"read here$",
    ):
        loads(text, max_records=2)


def test_nan_and_huge_values_in_a_file_load_safely():
    d = json.loads(dumps(_run()))
    text = json.dumps(d, separators=(",", ":")).replace('"train_loss":2.3', '"train_loss":NaN')
    back = loads(text.replace('"train_loss":null', '"train_loss":1e308'))
    assert back.records[0]["train_loss"] is None and back.records[1]["train_loss"] == 1e308


def test_a_run_that_would_not_read_back_is_not_written(tmp_path):
    bad = Run(net=NetConfig(depth=8), train=TrainConfig(steps=2), records=[{"step": 0}])
    with pytest.raises(RunFileError, match="record 1's step must be at least 1, not 0"):
        save(bad, tmp_path, "bad")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_concurrent_saves_of_one_name_never_leave_a_broken_file(tmp_path):
    # Two processes write one name; a reader must only ever see a whole file. Plain
    # subprocesses: multiprocessing's spawn re-runs the main module, which after an AppTest in
    # this process is app.py (it failed there, and the reader then waited forever).
    source, out = save(_run(), tmp_path, "source"), tmp_path / "out"
    script = (
        "import sys; from pathlib import Path; from resviz.runs import load, save\n"
        "for _ in range(60): save(load(Path(sys.argv[1])), sys.argv[2], 'same')"
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", script, str(source), str(out)], cwd=ROOT)
        for _ in range(2)
    ]
    deadline = time.monotonic() + 120  # two processes start and write 60 small files each
    while any(w.poll() is None for w in writers) and time.monotonic() < deadline:
        if (out / "same.json").exists():
            assert load(out / "same.json").records[0]["step"] == 1
    for w in writers:
        w.kill()
        assert w.wait() == 0, f"a writer ended with {w.returncode}"
    assert load(out / "same.json").records[0]["step"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["same.json"]  # no temporary left


def test_a_full_disk_keeps_the_old_weights_and_leaves_no_partial_file(tmp_path, monkeypatch):
    path = save(_run(), tmp_path, "r")
    save_weights({"w": torch.ones(3)}, path)

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError) as err:
        save_weights({"w": torch.zeros(3)}, path)
    assert write_problem(err.value) == "the disk is full"
    assert torch.load(path.with_suffix(".pt"), weights_only=True)["w"].tolist() == [1, 1, 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.pt"]


def test_an_output_folder_is_checked_before_any_work(tmp_path):
    check_writable(tmp_path / "new" / "folder")  # created
    assert list((tmp_path / "new" / "folder").iterdir()) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError) as err:
        check_writable(tmp_path / "file" / "sub")
    assert write_problem(err.value) == "part of the path is a file, not a folder"
    with pytest.raises(OSError) as err:
        check_writable(tmp_path / "file")
    assert write_problem(err.value) == "a file stands where the folder should be"
    if os.geteuid() != 0:  # root may write anywhere
        (tmp_path / "ro").mkdir(mode=0o500)
        with pytest.raises(OSError) as err:
            check_writable(tmp_path / "ro")
        assert write_problem(err.value) == "writing there is not allowed"
