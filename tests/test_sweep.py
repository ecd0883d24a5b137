"""`python -m resviz sweep`: resumable, splittable depth sweeps, and thinned run files."""

import json

import pytest

from resviz import sweep
from resviz.__main__ import main
from resviz.config import ARCHS, NetConfig, TrainConfig
from resviz.runs import Run, load
from resviz.train import Trainer, train
from tests.helpers import one_line_exit

TINY = [
    "--depths",
    "8",
    "14",
    "--width",
    "4",
    "--steps",
    "3",
    "--batch-size",
    "16",
    "--eval-every",
    "2",
]
LABELS = ["plain-8", "residual-8", "plain-14", "residual-14"]


def run_sweep(folder, *extra) -> int:
    return main(["sweep", "--out", str(folder), *TINY, *extra])


def contents(folder) -> dict[str, str]:
    return {p.name: p.read_text() for p in folder.glob("*.json")}


def losses(folder) -> dict[str, list]:
    return {p.name: [r["train_loss"] for r in load(p).records] for p in folder.glob("*.json")}


@pytest.fixture
def trained(monkeypatch):
    """The labels of the configurations that actually train, in order."""
    calls = []

    def counting(net, cfg, data=None, stop=None):
        calls.append(f"{'residual' if net.residual else 'plain'}-{net.depth}")
        return train(net, cfg, data, stop)

    monkeypatch.setattr(sweep, "train", counting)
    return calls


@pytest.fixture(scope="module")
def records():
    """A real run's records: 12 steps, probed every 2, evaluated every 5 (and at the end)."""
    cfg = TrainConfig(steps=12, batch_size=16, eval_every=5, probe_every=2)
    return list(train(NetConfig(depth=8, width=4), cfg))


@pytest.mark.slow
def test_a_sweep_writes_one_file_per_configuration_named_from_it(tmp_path, trained, capsys):
    assert run_sweep(tmp_path) == 0
    assert trained == LABELS
    names = sorted(contents(tmp_path))
    assert [n.rsplit("-", 1)[0] for n in names] == sorted(LABELS)
    assert all(load(tmp_path / n).status == "done" for n in names)
    out = capsys.readouterr().out
    assert "[4/4] residual-14 seed 0: wrote" in out and "validation error" in out


@pytest.mark.slow
def test_a_rerun_skips_finished_runs_and_leaves_their_files_alone(tmp_path, trained, capsys):
    assert run_sweep(tmp_path) == 0
    before = contents(tmp_path)
    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.json")}
    trained.clear()
    assert run_sweep(tmp_path) == 0
    assert trained == []
    assert contents(tmp_path) == before
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.json")} == mtimes
    assert capsys.readouterr().out.count("finished earlier, skipped") == 4


@pytest.mark.slow
def test_partial_and_unfinished_files_are_redone(tmp_path, trained):
    assert run_sweep(tmp_path) == 0
    half, running = (tmp_path / n for n in sorted(contents(tmp_path))[:2])
    half.write_text(half.read_text()[: len(half.read_text()) // 2])
    run = json.loads(running.read_text())
    running.write_text(json.dumps({**run, "status": "running", "records": run["records"][:1]}))
    trained.clear()
    assert run_sweep(tmp_path) == 0
    assert sorted(trained) == sorted(p.name.rsplit("-", 1)[0] for p in (half, running))
    assert load(half).status == load(running).status == "done"
    assert len(load(running).records) == 3


@pytest.mark.slow
def test_an_interrupted_sweep_leaves_no_file_for_the_run_it_stopped_and_resumes(
    tmp_path, monkeypatch, capsys
):
    def interrupted(net, cfg, data=None, stop=None):
        if net.depth == 14:
            yield next(train(net, cfg, data, stop))
            raise KeyboardInterrupt
        yield from train(net, cfg, data, stop)

    monkeypatch.setattr(sweep, "train", interrupted)
    assert run_sweep(tmp_path) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    assert sorted(n.rsplit("-", 1)[0] for n in contents(tmp_path)) == ["plain-8", "residual-8"]
    monkeypatch.setattr(sweep, "train", train)
    assert run_sweep(tmp_path) == 0
    assert len(contents(tmp_path)) == 4


@pytest.mark.slow
def test_list_and_only_split_a_sweep_across_machines(tmp_path, capsys):
    assert main(["sweep", *TINY, "--list"]) == 0
    labels = capsys.readouterr().out.split()
    assert labels == LABELS
    one, two, whole = tmp_path / "one", tmp_path / "two", tmp_path / "whole"
    assert run_sweep(one, "--only", *labels[::2]) == 0
    assert run_sweep(two, "--only", *labels[1::2]) == 0
    assert run_sweep(whole) == 0
    assert not set(contents(one)) & set(contents(two))
    assert set(contents(one)) | set(contents(two)) == set(contents(whole))
    assert losses(one) | losses(two) == losses(whole)  # the same runs, not only the same names


@pytest.mark.slow
def test_seeds_train_every_configuration_once_per_seed_seed_by_seed(tmp_path, trained, capsys):
    assert run_sweep(tmp_path, "--seeds", "0", "1") == 0
    assert trained == LABELS * 2
    names = sorted(contents(tmp_path))
    assert sorted(n.rsplit("-", 1)[0] for n in names) == sorted(LABELS * 2)
    assert sorted(load(tmp_path / n).train.seed for n in names) == [0] * 4 + [1] * 4
    one_seed = tmp_path / "one-seed"
    assert run_sweep(one_seed, "--seed", "0") == 0  # seed 0 of the two is that very run
    assert losses(one_seed).items() <= losses(tmp_path).items()
    assert len(set(map(tuple, losses(tmp_path).values()))) == 8  # each seed its own run
    out = capsys.readouterr().out
    assert "[8/8] residual-14 seed 1: wrote" in out


def test_a_rerun_with_seeds_resumes_and_prints_mean_and_spread(tmp_path, trained, capsys):
    assert run_sweep(tmp_path, "--seeds", "0", "1", "--only", "plain-8") == 0
    trained.clear()
    capsys.readouterr()
    assert run_sweep(tmp_path, "--seeds", "0", "1", "--only", "plain-8") == 0
    assert trained == []
    out = capsys.readouterr().out
    assert out.count("finished earlier, skipped") == 2
    runs = [load(p) for p in sorted(tmp_path.glob("*.json"))]
    train_errs, val_errs = zip(*(sweep.final_errors(r) for r in runs))
    cells = ["{:.2%} ± {:.2%}".format(*sweep.mean_spread(list(e))) for e in (train_errs, val_errs)]
    rows = [line.split() for line in out.splitlines() if line.startswith("plain-8 ")]
    assert rows[-1] == ["plain-8", "2", *cells[0].split(), *cells[1].split()]  # under each seed's


def test_mean_spread_is_the_mean_and_sample_standard_deviation():
    assert sweep.mean_spread([0.1, 0.2, 0.3]) == pytest.approx((0.2, 0.1))
    assert sweep.mean_spread([0.25]) == (0.25, 0.0)


def test_list_names_each_configuration_once_whatever_the_seeds(capsys):
    assert main(["sweep", *TINY, "--seeds", "0", "1", "2", "--list"]) == 0
    assert capsys.readouterr().out.split() == LABELS


def test_every_configuration_shares_the_seed_and_data_order():
    cfg = TrainConfig(steps=3, batch_size=16)
    entries = sweep.plan([8, 14], ARCHS, cfg, width=4)
    assert {e.train for e in entries} == {cfg}
    first = [next(Trainer(e.net, e.train)._batches()).tolist() for e in entries]
    assert all(batch == first[0] for batch in first)


def test_file_names_change_with_the_training_but_not_the_device():
    cfg = TrainConfig(steps=3)
    name = sweep.plan([8], ["plain"], cfg)[0].filename
    assert name.startswith("plain-8-")
    assert sweep.plan([8], ["plain"], TrainConfig(steps=3, device="cpu"))[0].filename == name
    assert sweep.plan([8], ["plain"], TrainConfig(steps=4))[0].filename != name
    assert sweep.plan([8], ["plain"], cfg, batch_norm=False)[0].filename != name


def test_thin_keeps_the_first_last_and_evaluated_records_and_a_few_probes(records):
    kept = sweep.thin(records, keep_every=4, probe_every=8)
    assert [r["step"] for r in kept] == [1, 4, 5, 8, 10, 12]
    assert [r["step"] for r in kept if r["grad_norms"]] == [1, 8, 12]
    assert [r["val_error"] is not None for r in kept] == [False, False, True, False, True, True]
    assert set(kept[1]) == set(records[0])  # unprobed records keep the trainer's keys, as None
    assert len(json.dumps(kept)) < len(json.dumps(records)) / 2


def test_thin_with_the_runs_own_intervals_changes_nothing(records):
    assert sweep.thin(records, keep_every=1, probe_every=2) == records


def test_final_errors_average_the_last_tenth_of_training():
    recs = [
        {"step": s, "train_error": 0.5 if s < 91 else 0.1, "val_error": None} for s in range(1, 101)
    ]
    recs[-1]["val_error"] = 0.2
    run = Run(net=NetConfig(depth=8), train=TrainConfig(steps=100), records=recs)
    assert sweep.final_errors(run) == pytest.approx((0.1, 0.2))


@pytest.mark.parametrize(
    "args, words",
    [
        (["--depths", "20", "21"], "depth must be 6n+2"),
        (["--only", "plain-99"], "this sweep has no configuration 'plain-99'; it has: plain-20"),
        (["--keep-every", "0"], "keep-every must be at least 1"),
        (["--arch", "dense"], "invalid choice: 'dense'"),
        (["--steps", "0"], "steps must be between 1 and 1,000,000"),
    ],
)
def test_bad_sweep_arguments_exit_2_with_one_line(args, words, tmp_path, capsys):
    one_line_exit(["sweep", "--out", str(tmp_path), *args], words, capsys)
    assert not list(tmp_path.iterdir())


def test_an_out_path_that_is_a_file_stops_the_sweep_before_it_trains(tmp_path, trained, capsys):
    out = tmp_path / "runs.json"
    out.write_text("{}")
    assert run_sweep(out) == 2
    assert trained == []
    err = capsys.readouterr().err
    assert err == f"resviz: --out must be a folder for the run files, but {out} is a file\n"
    assert out.read_text() == "{}"


def test_a_sweep_without_a_folder_says_so(capsys):
    assert main(["sweep", *TINY]) == 2
    assert "the sweep needs --out" in capsys.readouterr().err
