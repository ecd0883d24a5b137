"""`python -m resviz`: what a user at a terminal sees."""

import json
import subprocess
import sys

import pytest
import torchvision

from resviz.__main__ import main
from resviz.claims import gradient_claim, holds
from resviz.runs import load
from tests.helpers import one_line_exit


@pytest.mark.parametrize(
    "args, words",
    [
        (["--depth", "21"], "depth must be 6n+2"),
        (["--width", "0"], "width must be between 1 and 512"),
        (["--dataset", "imagenet"], "unknown dataset 'imagenet'; choose one of: mnist-5k, shapes"),
        (["--lr", "-0.1"], "learning rate must be above 0"),
        (["--arch", "dense"], "invalid choice: 'dense'"),
        (["--device", "mps"], "device 'mps' was asked for, but Apple's MPS is not available here"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, words, tmp_path, capsys):
    one_line_exit(["train", "--out", str(tmp_path / "r.json"), *args], words, capsys)


def test_python_m_resviz_runs_the_same_command_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "resviz", "train", "--out", str(tmp_path / "r.json"), "--depth=21"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "depth must be 6n+2" in proc.stderr


def test_train_takes_the_learning_rate_schedule_and_warm_up(tmp_path):
    out = tmp_path / "r.json"
    argv = "train --depth 8 --width 4 --steps 4 --schedule step --warmup-steps 2".split()
    assert main([*argv, "--out", str(out)]) == 0
    train = json.loads(out.read_text())["train"]
    assert (train["schedule"], train["warmup_steps"]) == ("step", 2)


def test_a_bug_is_not_turned_into_a_one_line_message(monkeypatch):
    import resviz.__main__ as cli

    def broken(*_args, **_kwargs):
        raise ValueError("a bug in the engine")

    monkeypatch.setattr(cli, "summarize", broken)
    with pytest.raises(ValueError, match="a bug in the engine"):
        main(["summary", "--depth", "20"])


def test_train_writes_a_run_file_with_the_records_curves_need(tmp_path, capsys):
    out = tmp_path / "plain8.json"
    argv = "train --arch plain --depth 8 --width 4 --steps 4 --eval-every 2 --probe-every 2".split()
    assert main([*argv, "--out", str(out)]) == 0
    run = json.loads(out.read_text())
    assert run["net"]["residual"] is False and run["status"] == "done"
    rec = run["records"]
    assert [r["step"] for r in rec] == [1, 2, 3, 4]
    assert [r["val_error"] is None for r in rec] == [True, False, True, False]
    assert set(rec[1]["grad_norms"]) >= {"stem.conv", "fc"}
    printed = capsys.readouterr().out
    assert "plain-8: validation error" in printed
    for step in (1, 4):  # as initialised and at the end, each by the claims' gradient rule
        verdict = gradient_claim(load(out), step)
        assert holds(verdict) and verdict.sentence.replace("**", "") in printed


def test_summary_json_totals_match_the_paper(capsys):
    assert main(["summary", "--depth", "56", "--dataset", "shapes", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert round(table["totals"]["params"] / 1e6, 2) == 0.85  # ResNet-56, 3 channels, 10 classes


def test_summary_prints_the_pages_layer_table_as_text(capsys):
    assert main(["summary", "--depth", "8"]) == 0
    header, stem, *_ = capsys.readouterr().out.splitlines()
    assert header.split() == ["layer", "type", "output", "parameters", "multiply-adds"]
    # 16 kernels of 3x3 on one grey 28x28 channel, padding 1: 16 x 9 weights, 28 x 28 x 144 MACs
    assert stem.split() == ["stem.conv", "Conv2d", "3x3", "16×28×28", "144", "112,896"]


def test_summary_says_which_resnet18_it_prints_and_paper_prints_torchvisions(capsys):
    assert main(["summary", "--family", "imagenet", "--depth", "18"]) == 0
    small = capsys.readouterr().out.splitlines()
    assert small[-2].startswith(
        "ResNet-18 (ImageNet-style, 3x3 small-image stem without max "
        "pooling, 28x28 grey images, 10 classes, width 64, batch norm, "
        "option-A zero-padding shortcuts): "
    )
    assert "--paper" in small[-1]
    assert main(["summary", "--family", "imagenet", "--depth", "18", "--paper"]) == 0
    paper = capsys.readouterr().out.splitlines()
    oracle = sum(p.numel() for p in torchvision.models.resnet18().parameters())
    assert oracle == 11_689_512
    assert paper[-2].startswith(
        "ResNet-18 (ImageNet-style, 7x7 stem and max pooling, 224x224 "
        "colour images, 1000 classes, width 64, batch norm, option-B "
        f"projection shortcuts): {oracle:,} parameters, "
    )
    assert "(1.81 x 10^9)" in paper[-2]  # multiply-adds of one 224 px image
    assert paper[-1] == "The paper, Table 1: 1.8 x 10^9 FLOPs (multiply-adds)."


def test_summary_paper_cifar_network_has_table_6s_parameters(capsys):
    assert main(["summary", "--depth", "110", "--paper", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["input"] == [3, 32, 32] and table["net"]["width"] == 16
    assert round(table["totals"]["params"] / 1e6, 1) == 1.7  # Table 6: 1.7M


def test_datasets_lists_what_works_offline(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RESVIZ_DATA", str(tmp_path))
    assert main(["datasets"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["mnist-5k"].endswith("offline") and lines["cifar10"].endswith("needs download")
