"""Bad configurations, datasets that cannot be downloaded, faults while training, and safety:
the second half of docs/BAD_INPUT.md, each row's exact sentence or behaviour."""

import re
import time
from pathlib import Path

import pytest
import streamlit as st

from resviz import data as datasets
from resviz.config import ConfigError, NetConfig, TrainConfig
from resviz.jobs import JobManager
from resviz.session import SessionWork
from resviz.ui.state import manager
from tests.helpers import ROOT, RUN, TIMEOUT, ended

# --- configurations -----------------------------------------------------------------------------

CONFIGS = {  # row -> (how it is built, the exact sentence)
    "depth not 6n+2": (
        lambda: NetConfig(depth=21),
        "depth must be 6n+2 (8, 14, 20, 32, 44, 56, 110 ...), not 21",
    ),
    "ImageNet depth": (
        lambda: NetConfig(family="imagenet", depth=50),
        "ImageNet-style depth must be 18 or 34, not 50",
    ),
    "width 0": (lambda: NetConfig(width=0), "width must be between 1 and 512 channels, not 0"),
    "negative learning rate": (
        lambda: TrainConfig(lr=-0.1),
        "learning rate must be above 0 and at most 10, not -0.1",
    ),
    "huge learning rate": (
        lambda: TrainConfig(lr=1e308),
        "learning rate must be above 0 and at most 10, not 1e+308",
    ),
    "NaN learning rate": (
        lambda: TrainConfig(lr=float("nan")),
        "learning rate must be above 0 and at most 10, not nan",
    ),
    "batch size 0": (
        lambda: TrainConfig(batch_size=0),
        "batch size must be between 1 and 4096, not 0",
    ),
}


@pytest.mark.parametrize("row", CONFIGS)
def test_a_bad_configuration_gets_its_sentence(row):
    build, sentence = CONFIGS[row]
    with pytest.raises(ConfigError) as err:
        build()
    assert str(err.value) == sentence


# --- datasets that cannot be downloaded ---------------------------------------------------------


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No CIFAR-10 files on disk and no network: torchvision's download raises."""
    import torchvision.datasets as tvd

    def no_network(*_a, **_k):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setenv("RESVIZ_DATA", str(tmp_path))
    monkeypatch.setattr(tvd.CIFAR10, "download", no_network)
    datasets._torchvision_split.cache_clear()
    yield tmp_path
    datasets._torchvision_split.cache_clear()


def _cifar_unavailable(root: Path) -> str:
    return (
        f"CIFAR-10 could not be downloaded to {root} (no internet connection?); the offline "
        f"datasets mnist-5k and shapes work without one."
    )


def test_a_dataset_that_cannot_be_downloaded_gets_its_sentence(offline):
    with pytest.raises(datasets.DatasetUnavailable) as err:
        datasets.load("cifar10")
    assert str(err.value) == _cifar_unavailable(offline)


@pytest.mark.slow
def test_in_the_app_the_offline_digits_are_used_instead(offline, open_page):
    at = open_page("pages/residual_block.py", dataset="cifar10")
    assert [w.value for w in at.warning] == [
        f"{_cifar_unavailable(offline)} The digits of MNIST-5k are used here instead."
    ]
    assert at.session_state["dataset"] == "cifar10"  # the learner's choice is kept


def test_training_on_it_fails_that_job_with_the_sentence_and_the_next_runs(offline):
    manager = JobManager(slots=1)
    bad = manager.submit(
        [(NetConfig(depth=8, width=4, in_channels=3), TrainConfig(dataset="cifar10", steps=3))]
    )
    good = manager.submit([(NetConfig(depth=8, width=4), TrainConfig(steps=3))])
    assert ended(bad).message == f"training failed: {_cifar_unavailable(offline)}"
    assert ended(good).state == "done"


# --- faults -------------------------------------------------------------------------------------


def test_an_exception_in_the_worker_fails_that_job_and_later_jobs_run(monkeypatch):
    from resviz.train import Trainer

    real = Trainer.run

    def broken(self, stop=None):
        if self.net_cfg.depth == 14:
            raise RuntimeError("out of memory while allocating 3.1 GB")
        yield from real(self, stop)

    monkeypatch.setattr(Trainer, "run", broken)
    manager = JobManager(slots=1)
    bad = manager.submit([(NetConfig(depth=14, width=4), TrainConfig(steps=3))])
    later = manager.submit([(NetConfig(depth=8, width=4), TrainConfig(steps=3))])
    snap = ended(bad)
    assert snap.state == "failed"
    assert snap.message == "training failed: out of memory while allocating 3.1 GB"
    assert [r.status for r in snap.runs] == ["failed"]
    assert ended(later).state == "done"


def test_a_diverging_run_is_marked_diverged_with_its_curve_so_far(tmp_path):
    work = SessionWork(manager(), tmp_path / "s")
    work.job = JobManager().submit(
        [
            (
                NetConfig(depth=20, width=8, batch_norm=False),
                TrainConfig(steps=200, lr=10, eval_every=50),
            )
        ],
        on_finish=work._save,
    )
    snap = ended(work.job)
    (run,) = snap.runs
    assert snap.state == "done" and run.status == "diverged"
    step = run.records[-1]["step"]
    assert 1 <= step < 200 and run.records[-1]["diverged"]
    assert run.message == (
        f"the loss became infinite or NaN at step {step}: the run diverged "
        f"(try a smaller learning rate)"
    )
    assert [r["step"] for r in run.records] == list(range(1, step + 1))  # the curve up to there
    (saved,) = work.history()
    assert saved.status == "diverged" and len(saved.records) == step


def test_a_closed_tab_stops_its_job_and_keeps_its_runs(tmp_path):
    from resviz.ui import state

    work = SessionWork(manager(), tmp_path / "s")
    work.job = JobManager().submit(
        [(NetConfig(depth=8, width=4), TrainConfig(steps=100_000, batch_size=16))],
        on_finish=work._save,
    )
    while not work.job.snapshot().runs[0].records:
        time.sleep(0.05)
    state._close_all([work])  # what the session-scoped cache's on_release calls
    snap = ended(work.job, timeout=10)
    assert snap.state == "stopped"
    (run,) = work.history()  # saved by the worker: no page is left to do it
    assert run.status == "stopped" and len(run.records) >= 1


def test_releasing_the_session_s_resources_closes_its_work(open_page, monkeypatch):
    """Streamlit releases a session's resources when its tab closes; releasing them all (the
    public st.cache_resource.clear) does the same."""

    closed = []
    monkeypatch.setattr(SessionWork, "close", lambda self: closed.append(self))
    at = open_page("pages/home.py")
    st.cache_resource.clear()
    assert at.session_state["work"] in closed


@pytest.mark.slow
def test_after_a_restart_the_session_address_brings_the_runs_back(
    tmp_path, monkeypatch, open_page, train_custom
):
    monkeypatch.setenv("RESVIZ_RUNS", str(tmp_path))
    first = train_custom(open_page("pages/train.py"), steps=10, depths=(8,))
    sid = first.session_state["work"].id
    assert first.query_params["session"] == [sid] or first.query_params["session"] == sid
    from streamlit.testing.v1 import AppTest

    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)  # a new session
    again.query_params["session"] = sid
    again.run()
    again.switch_page("pages/train.py")
    again.run()
    assert again.session_state["work"].folder == tmp_path / sid
    assert [o.split(" · ")[1:] for o in again.multiselect(key="train_compare").options] == [
        ["ResNet-8", "done"]
    ]
    fresh = open_page("pages/train.py")  # no id in its address: its own, empty history
    assert fresh.session_state["work"].id != sid and fresh.session_state["work"].history() == []


# --- safety -------------------------------------------------------------------------------------


def _sources():
    return [p for d in ("resviz", "pages", "scripts") for p in (ROOT / d).rglob("*.py")] + [
        ROOT / "app.py"
    ]


def test_nothing_is_unpickled_except_weights_only_state_dicts():
    loads = []
    for path in _sources():
        text = path.read_text()
        # Imports and calls, not the word: a docstring may say a file is read "without pickle".
        assert not re.search(
            r"\b(import|from) (pickle|dill|joblib)\b|\b(pickle|dill|joblib)\.\w|"
            r"np\.load\(.*allow_pickle=True",
            text,
        ), path
        loads += [(path, call) for call in re.findall(r"torch\.load\([^)]*\)", text)]
    assert loads and all("weights_only=True" in call for _, call in loads), loads


def test_server_settings_keep_xsrf_on_and_cap_uploads_at_the_largest_readers_limit():
    import tomllib

    from resviz import runs, uploads

    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["enableXsrfProtection"] is True
    assert server.get("enableCORS", True) is True  # Streamlit's default; turning it off is unsafe
    assert server["maxUploadSize"] * 2**20 == max(runs.MAX_FILE_BYTES, uploads.MAX_BYTES)
    assert uploads.MAX_PIXELS <= 16_000_000 and uploads.MAX_SIDE <= 512


@pytest.mark.parametrize(
    "name", ["../../x", "/etc/passwd", "..", "a/../../b", "\\..\\..\\c", "x\0y", "." * 300]
)
def test_no_run_name_leaves_the_runs_folder(tmp_path, name):
    from resviz.runs import save

    path = save(RUN, tmp_path / "runs", name)
    assert path.parent == tmp_path / "runs" and path.resolve().is_relative_to(tmp_path / "runs")


# --- writes: checked before the work, atomic, and no finished run lost -------------------------


def _no_training(monkeypatch):
    import resviz.__main__ as cli

    def refuse(*_a, **_k):
        raise AssertionError("training started before --out was checked")

    monkeypatch.setattr(cli, "train", refuse)
    return cli


@pytest.mark.parametrize(
    "out, why",
    [
        (
            "{tmp}/file/run.json",
            "cannot write the run file {tmp}/file/run.json (a file stands where "
            "the folder should be)",
        ),
        ("{tmp}/", "--out {tmp}/ is a folder; give the run file's name, such as {tmp}/run.json"),
    ],
)
def test_train_checks_its_output_before_it_trains(tmp_path, monkeypatch, capsys, out, why):
    cli = _no_training(monkeypatch)
    (tmp_path / "file").write_text("x")
    out = out.format(tmp=tmp_path)
    assert cli.main(["train", "--depth", "8", "--steps", "100000", "--out", out]) == 2
    assert capsys.readouterr().err == f"resviz: {why.format(tmp=tmp_path)}\n"


def test_a_run_the_disk_refuses_at_the_end_goes_to_standard_output(tmp_path, monkeypatch, capsys):
    import errno

    import resviz.__main__ as cli
    from resviz.runs import loads

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cli, "save", full)
    assert (
        cli.main([*"train --depth 8 --width 4 --steps 2 --out".split(), str(tmp_path / "r.json")])
        == 1
    )
    out, err = capsys.readouterr()
    assert err.endswith(
        f"resviz: could not write {tmp_path / 'r.json'} (the disk is full); the "
        f"run file follows on standard output\n"
    )
    assert [r["step"] for r in loads(out).records] == [1, 2]  # the whole run, readable


@pytest.fixture
def fake_server(monkeypatch):
    """fake_server() -> the sessions whose uploads a fake Streamlit server was then asked to
    remove (at once: no reconnect window); a session called "back" has reconnected."""
    from resviz.ui import state

    def install() -> list[str]:
        removed: list[str] = []

        class Server:
            def is_active_session(self, sid):
                return sid == "back"

            class uploaded_file_mgr:  # noqa: N801 - Streamlit's attribute name
                @staticmethod
                def remove_session_files(sid):
                    removed.append(sid)

        monkeypatch.setattr(state.streamlit_runtime, "exists", lambda: True)
        monkeypatch.setattr(state.streamlit_runtime, "get_instance", Server)
        monkeypatch.setattr(state.st, "get_option", lambda name: 0)
        monkeypatch.setattr(state, "RECONNECT_MARGIN_S", 0.05)
        return removed

    return install


def _settled(removed: list[str]) -> list[str]:
    end = time.monotonic() + 10
    while not removed and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(0.2)
    return removed


def test_a_closed_tabs_uploads_leave_memory_once_it_cannot_reconnect(fake_server):
    """Streamlit never shuts down a session whose tab closed, so its uploaded files stayed in
    memory for good; the session-scoped release removes them after the reconnect window."""
    from resviz.ui import state

    removed = fake_server()
    state._drop_uploads("gone")
    state._drop_uploads("back")
    assert _settled(removed) == ["gone"]


def test_releasing_the_session_s_resources_drops_its_uploads(open_page, fake_server):
    open_page("pages/home.py")
    removed = fake_server()
    st.cache_resource.clear()
    assert len(_settled(removed)) == 1  # the one open session's files
