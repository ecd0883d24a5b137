"""The Experiments page's science and figures: Fig. 6 panels, final errors, the paper's numbers."""
import pytest

from resviz.config import NetConfig, TrainConfig
from resviz.paper import CIFAR10, IMAGENET, published
from resviz.plots.experiments import error_vs_depth, figure6, final_errors
from resviz.runs import Run


def run_of(depth: int, residual: bool, train: list[float], val: dict[int, float]) -> Run:
    records = [{"step": s, "train_error": e, "val_error": val.get(s)}
               for s, e in enumerate(train, start=1)]
    return Run(net=NetConfig(depth=depth, residual=residual), train=TrainConfig(steps=len(train)),
               records=records, status="done")


def test_the_paper_numbers_are_the_published_ones_with_their_datasets():
    assert [(p.label, p.percent) for p in CIFAR10] == [
        ("ResNet-20", 8.75), ("ResNet-32", 7.51), ("ResNet-44", 7.17), ("ResNet-56", 6.97),
        ("ResNet-110", 6.43)]
    assert {p.label: p.percent for p in IMAGENET} == {
        "plain-18": 27.94, "plain-34": 28.54, "ResNet-18": 27.88, "ResNet-34": 25.03}
    assert all("CIFAR-10" in p.measure for p in CIFAR10)
    assert all("ImageNet" in p.measure for p in IMAGENET)
    assert published(True, 56).error == pytest.approx(0.0697)
    assert published(False, 56) is None  # Table 6 gives plain nets only as curves


def test_final_errors_average_the_last_tenth_of_training_and_take_the_last_validation():
    run = run_of(20, True, [0.5] * 90 + [0.1] * 5 + [0.3] * 5, {50: 0.4, 100: 0.2})
    train, val = final_errors(run)
    assert train == pytest.approx(0.2)  # steps 91..100
    assert val == 0.2


def test_figure6_puts_plain_left_residual_right_one_colour_per_depth():
    runs = [run_of(d, r, [0.2] * 40, {20: 0.3, 40: 0.25}) for d in (20, 56) for r in (False, True)]
    fig = figure6(runs).to_dict()
    axes = {t["name"]: t["xaxis"] for t in fig["data"]}
    assert axes["plain-56 validation"] == "x" and axes["ResNet-56 validation"] == "x2"
    colours = {t["name"]: t["line"]["color"] for t in fig["data"]}
    assert colours["plain-56 train"] == colours["ResNet-56 validation"] != colours["plain-20 train"]
    widths = {t["name"]: t["line"]["width"] for t in fig["data"]}
    assert widths["ResNet-20 train"] < widths["ResNet-20 validation"]  # thin train, bold val
    val = next(t for t in fig["data"] if t["name"] == "plain-20 validation")
    assert list(val["x"]) == [20, 40] and list(val["y"]) == [30, 25]


def test_error_vs_depth_plots_each_kind_in_depth_order():
    runs = [run_of(56, False, [0.5] * 10, {10: 0.6}), run_of(20, False, [0.1] * 10, {10: 0.12})]
    fig = error_vs_depth(runs).to_dict()
    plain_val = next(t for t in fig["data"] if t["name"] == "plain validation")
    assert list(plain_val["x"]) == [20, 56]
    assert list(plain_val["y"]) == pytest.approx([12, 60])
