"""A session's work: uploaded run files are validated and kept inside the session's folder,
within the session's quota; each file is parsed once; a disk that refuses loses no run."""

import errno
import gc
import json
import os
import time
import weakref

import pytest
from streamlit.testing.v1 import AppTest

from resviz import shelf, uploads
from resviz.config import NetConfig, TrainConfig
from resviz.jobs import JobManager
from resviz.models import build, weight_layers
from resviz.runs import MAX_FILE_BYTES, Run, dumps, load_weights, loads, save
from resviz.session import SessionWork
from resviz.shelf import BATCH, FILE_RECORDS, SESSION
from resviz.ui.query import literal
from resviz.ui.state import manager
from tests.helpers import ROOT, TIMEOUT


def test_a_good_upload_joins_the_history_and_a_bad_one_gets_a_sentence(tmp_path):
    work = SessionWork(manager(), tmp_path / "s")
    run = Run(
        net=NetConfig(depth=8),
        train=TrainConfig(steps=1),
        status="done",
        records=[{"step": 1, "train_error": 0.5}],
    )
    assert work.add_upload("../../evil.json", dumps(run).encode()) is None
    assert [p.parent for p in (tmp_path / "s").iterdir()] == [tmp_path / "s"]
    assert work.history()[0].records == run.records
    problem = work.add_upload("x.json", b"{oops")
    assert problem == "x.json: this file is not valid JSON, so it is not a ResViz run file."
    assert work.add_upload("y.json", json.dumps({"schema": 7}).encode()).startswith(
        "y.json: this run file has schema version 7"
    )
    assert len(work.history()) == 1


def test_a_finished_job_is_saved_once_with_its_weights(tmp_path):
    work = SessionWork(manager(), tmp_path / "s")
    work.job = JobManager().submit(
        [(NetConfig(depth=8, width=4), TrainConfig(steps=3))], on_finish=work._save
    )
    while work.job.active:
        time.sleep(0.05)
    work._save(work.job)  # a second call (another tab's) adds nothing
    ((run, path),) = work.trained()
    assert run.status == "done" and len(run.records) == 3
    net = build(run.net)
    net.load_state_dict(load_weights(path))  # read back with weights_only=True


# --- quotas, the parse cache, files that cannot be read, a disk that refuses -------------------


def _records_file(n: int, name: str = "") -> bytes:
    run = Run(
        net=NetConfig(depth=8),
        train=TrainConfig(steps=max(n, 1)),
        status="done",
        name=name,
        records=[{"step": s, "train_error": 0.5} for s in range(1, n + 1)],
    )
    return dumps(run).encode()


def test_an_upload_past_the_sessions_quota_is_refused_with_the_quota(tmp_path):
    work = SessionWork(manager(), tmp_path / "s")
    for i in range(3):  # 3 x 20,000 records: the session's 60,000
        assert work.add_upload(f"big{i}.json", _records_file(FILE_RECORDS)) is None
    problem = work.add_upload("one.json", _records_file(1))
    files, size, _ = work.shelf.used
    assert problem == (
        f"one.json: this session already holds 3 run files ({size / 2**20:.1f} MB, "
        f"60,000 records) and keeps at most 40 run files, 40 MB and 60,000 "
        f"records, so this file was not added."
    )
    assert len(work.history()) == 3


def test_a_probed_run_file_past_the_image_limit_is_taken_up_to_the_run_file_limit(tmp_path):
    """Run files have their own limit: a long probed run is larger than any image may be."""
    net = NetConfig(depth=56)
    probe = {name: 0.012345 for name, _ in weight_layers(build(net))}
    run = Run(
        net=net,
        train=TrainConfig(steps=4_000),
        status="done",
        records=[{"step": s, "train_error": 0.5, "grad_norms": probe} for s in range(1, 4_001)],
    )
    content = dumps(run).encode()
    assert uploads.MAX_BYTES < len(content) <= MAX_FILE_BYTES
    work = SessionWork(manager(), tmp_path / "s")
    assert work.add_upload("long.json", content) is None
    assert len(work.history()[0].records) == 4_000


def test_a_file_of_too_many_records_is_refused_before_its_records_are_checked(tmp_path):
    work = SessionWork(manager(), tmp_path / "s")
    assert work.add_upload("x.json", _records_file(FILE_RECORDS + 1)) == (
        "x.json: this run file has 20,001 records; at most 20,000 can be read here."
    )


def test_older_runs_past_the_quota_are_left_out_with_a_note(tmp_path):
    for i in range(SESSION.files + 2):  # written by jobs, which never lose a run to the quota
        save(
            Run(
                net=NetConfig(depth=8),
                train=TrainConfig(steps=1),
                status="done",
                records=[{"step": 1}],
                name=f"r{i}",
            ),
            tmp_path / "s",
            f"r{i}",
        )
        os.utime(tmp_path / "s" / f"r{i}.json", (i, i))  # r0 oldest
    work = SessionWork(manager(), tmp_path / "s")
    assert [r.name for r in work.history()] == [f"r{i}" for i in range(41, 1, -1)]
    assert work.notes == [
        "2 older run files are not shown: a session shows at most 40 run "
        "files, 40 MB and 60,000 records."
    ]


@pytest.mark.slow
def test_a_broken_file_on_disk_is_skipped_with_a_note_and_every_page_draws(
    open_page, tmp_path, monkeypatch
):
    """The brick of the hardening issue, as an older ResViz saved it: step null."""
    monkeypatch.setenv("RESVIZ_RUNS", str(tmp_path))
    folder = tmp_path / "0123456789abcdef"
    good = save(
        Run(
            net=NetConfig(depth=8),
            train=TrainConfig(steps=1),
            status="done",
            records=[{"step": 1, "train_error": 0.5, "block_grad_norms": {"stage1.block1": 1.0}}],
        ),
        folder,
        "good",
    )
    brick = json.loads(good.read_text())
    brick["records"][0]["step"] = None
    (folder / "brick.json").write_text(json.dumps(brick))
    note = (
        "brick.json was skipped: this run file is invalid (record 1's step must be a whole "
        "number, not null)."
    )
    assert SessionWork(manager(), folder).history()[0].records[0]["step"] == 1
    for page in (
        "pages/train.py",
        "pages/gradient_flow.py",
        "pages/experiments.py",
        "pages/inside.py",
    ):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
        at.query_params["session"] = folder.name
        at.run()
        at.switch_page(page)
        at.run()
        assert not at.exception, page
        assert at.session_state["work"].notes == [note]
        if page == "pages/train.py":  # its History says so, and shows the good run
            assert literal(note) in [w.value for w in at.warning]
            assert len(at.multiselect(key="train_compare").options) == 1


def test_a_file_is_parsed_once_for_every_view_and_every_tab(tmp_path, monkeypatch):
    calls = []
    real = shelf.loads
    monkeypatch.setattr(shelf, "loads", lambda *a: calls.append(1) or real(*a))
    content = _records_file(5, name="shared")
    teacher, student = (
        SessionWork(manager(), tmp_path / "s"),
        SessionWork(manager(), tmp_path / "s"),
    )
    assert teacher.add_upload("a.json", content) is None
    for work in (teacher, teacher, student):  # two views, then another tab on the address
        assert [r.name for r in work.history()] == ["shared"]
    other = SessionWork(manager(), tmp_path / "t")  # another session, the same file
    assert other.read_batch([("copy.json", content)])[0][0] is teacher.history()[0]
    assert len(calls) == 1


def test_a_closed_session_lets_go_of_its_runs(tmp_path):
    work = SessionWork(manager(), tmp_path / "s")
    assert work.add_upload("a.json", _records_file(5, name="gone")) is None
    ref = weakref.ref(work.history()[0])
    work.close()
    gc.collect()
    assert ref() is None


def test_one_upload_reads_at_most_its_batch(tmp_path):
    work = SessionWork(manager(), tmp_path / "s")
    files = [(f"{i}.json", _records_file(2, name=str(i))) for i in range(BATCH.files + 2)]
    runs_read, problems = work.read_batch(files)
    assert [r.name for r in runs_read] == [str(i) for i in range(BATCH.files)]
    assert problems == [
        "2 of the 18 files were not read, from 16.json on: one upload reads at "
        "most 16 run files, 10 MB and 30,000 records."
    ]
    assert work.read_batch([("a.json", b"{")])[1] == [
        "a.json: this file is not valid JSON, so it is not a ResViz run file."
    ]


def test_runs_a_full_disk_refused_stay_to_download_and_are_saved_later(tmp_path, monkeypatch):
    from resviz import session

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path))

    monkeypatch.setattr(session, "save", full)
    work = SessionWork(manager(), tmp_path / "s")
    work.job = JobManager().submit(
        [(NetConfig(depth=8, width=4), TrainConfig(steps=3))], on_finish=work._save
    )
    while work.job.active:
        time.sleep(0.05)
    assert work.job.snapshot().message == ""  # the job ended well; its runs wait in memory
    assert work.notes == [
        "Your finished runs could not be saved on the server (the disk is "
        "full). They stay in this tab, below, to compare and download, and "
        "are saved as soon as the server can."
    ]
    (run,) = work.history()
    assert len(run.records) == 3 and loads(dumps(run)) == run  # the download reads back
    assert str(tmp_path) not in work.notes[0]  # no server path
    monkeypatch.undo()
    work.history()  # the next page that reads the runs tries again
    assert work.notes == [] and [p.suffix for p in sorted((tmp_path / "s").iterdir())] == [
        ".json",
        ".pt",
    ]


def test_sixteen_files_of_half_a_million_records_cost_a_count_each(tmp_path, monkeypatch):
    """The hardening issue's Experiments upload: 16 run files of 4.9 MB, 445,000 tiny records
    each. Each is refused from a count of its records, never parsed, and the batch stops at its
    bytes."""
    monkeypatch.setattr(json, "loads", None)  # nothing may be parsed
    head = _records_file(0).decode().replace('"steps":1,', '"steps":500000,')
    tiny = ",".join(['{"step":1}'] * 445_000)  # the old check let steps repeat
    content = head.replace('"records":[]', f'"records":[{tiny}]').encode()
    assert 4_800_000 < len(content) < 5 * 2**20  # 4.9 MB, under the upload limit
    runs_read, problems = SessionWork(manager(), tmp_path / "s").read_batch(
        [(f"{i}.json", content) for i in range(16)]
    )
    assert runs_read == [] and problems == [
        "0.json: this run file has 445,000 records; at most 20,000 can be read here.",
        "1.json: this run file has 445,000 records; at most 20,000 can be read here.",
        "14 of the 16 files were not read, from 2.json on: one upload reads at most 16 run "
        "files, 10 MB and 30,000 records.",
    ]


def test_an_upload_the_disk_refuses_gets_a_sentence_without_a_path(tmp_path, monkeypatch):
    from resviz import session

    def read_only(*_a, **_k):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path))

    monkeypatch.setattr(session, "save", read_only)
    assert SessionWork(manager(), tmp_path / "s").add_upload("a.json", _records_file(2)) == (
        "a.json: the file could not be saved on the server (the disk is read-only)."
    )
