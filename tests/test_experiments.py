"""The Experiments page's science and figures: Fig. 6 panels, final errors, the paper's numbers."""
import pytest

from resviz.config import NetConfig, TrainConfig
from resviz.features import from_state
from resviz.paper import CIFAR10, IMAGENET, published
from resviz.plots.experiments import error_vs_depth, figure6
from resviz.runs import Run, dumps, list_runs, load, load_weights
from resviz.sweep import final_errors
from resviz.train import evaluate
from resviz.ui.state import dataset
from resviz.ui.experiments_view import PAPER_COLUMN, REFERENCE, depth_trend, sweep_runs
from tests.figures import figures, plotly_array


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


def test_the_depth_trend_gives_each_kinds_shallowest_and_deepest_final_error():
    runs = [run_of(56, False, [0.3] * 10, {10: 0.35}), run_of(20, False, [0.05] * 10, {}),
            run_of(32, False, [0.9] * 10, {}), run_of(20, True, [0.04] * 10, {})]
    # No validation error at 20 layers: only the training error is compared; one ResNet: no trend
    assert depth_trend(runs) == ("**In these runs**, plain 20 → 56 layers: training error "
                                 "5.00% → 30.00%.")
    runs[1] = run_of(20, False, [0.05] * 10, {10: 0.061})
    assert depth_trend(runs).endswith("training error 5.00% → 30.00%, validation error "
                                      "6.1% → 35.0%.")
    assert depth_trend(runs[3:]) == ""


def test_the_page_shows_the_reference_sweep_beside_the_paper(open_page):
    at = open_page("pages/experiments.py")
    figs = figures(at)
    shipped = {load(p).label for p in list_runs(REFERENCE / "mnist-5k")}
    assert shipped >= {"plain-20", "ResNet-20", "plain-56", "ResNet-56"}
    assert {t["name"] for t in figs["fig6"]["data"]} == \
        {f"{label} {part}" for label in shipped for part in ("train", "validation")}
    table = at.dataframe[0].value
    row = table[table["network"] == "ResNet-56"].iloc[0]
    assert row[PAPER_COLUMN] == "6.97%"
    plain = table[table["network"] == "plain-56"].iloc[0]
    assert plain[PAPER_COLUMN] == "curve only"
    assert 0 <= row["validation, MNIST-5k"] < 50  # in percent
    trend = next(m.value for m in at.markdown if m.value.startswith("**In these runs**"))
    assert trend == depth_trend(sweep_runs([load(p) for p in list_runs(REFERENCE / "mnist-5k")]))
    assert "plain 20 → 56 layers: training error 0.68% → 14.75%" in trend  # the manifest's
    contours = [t for t in figs["ls_contour"]["data"] if t["type"] == "contour"]
    assert len(contours) == 2 and contours[0]["zmin"] == contours[1]["zmin"]  # one colour scale
    at.radio(key="ls_view").set_value("Surface")
    at.run()
    surfaces = [t for t in figures(at)["ls_surface"]["data"] if t["type"] == "surface"]
    assert len(surfaces) == 2
    assert "ls_contour" not in figures(at)  # one view at a time


def test_uploaded_sweep_files_are_drawn_and_a_bad_one_gets_a_sentence(open_page):
    at = open_page("pages/experiments.py")
    at.radio(key="exp_source").set_value("Upload run files")
    at.run()
    runs = [run_of(d, r, [0.3] * 20, {20: 0.25}) for d in (20, 32) for r in (False, True)]
    at.file_uploader(key="exp_upload").set_value(
        [(f"{r.label}.json", dumps(r).encode(), "application/json") for r in runs]
        + [("broken.json", b"{not json", "application/json")])
    at.run()
    assert at.error[0].value == ("broken.json: this file is not valid JSON, so it is not a "
                                 "ResViz run file.")
    names = {t["name"] for t in figures(at)["fig6"]["data"]}
    assert names == {f"{r.label} {p}" for r in runs for p in ("train", "validation")}
    assert not any("panel stays empty" in c.value for c in at.caption)
    at.file_uploader(key="exp_upload").set_value(  # one plain run alone
        [(f"{runs[0].label}.json", dumps(runs[0]).encode(), "application/json")])
    at.run()
    assert any(c.value == "Only plain runs here: the right panel stays empty."
               for c in at.caption)


def test_shattering_is_measured_once_on_request(open_page):
    at = open_page("pages/experiments.py")
    at.button(key="shatter_go").click()
    at.run()
    assert not at.exception
    curves = {t["name"]: t for t in figures(at)["shattering"]["data"]}
    plain, resnet = curves["plain"], curves["ResNet"]
    assert list(plain["x"])[-1] == 56
    assert list(resnet["y"])[-1] > 0.5 > list(plain["y"])[-1]  # skips keep neighbours correlated


def test_your_own_networks_landscape_passes_through_their_trained_loss(open_page, train_custom):
    at = train_custom(open_page("pages/train.py"), depths=(8, 8))
    at.switch_page("pages/experiments.py")
    at.run()
    at.slider(key="ls_resolution").set_value(5)
    at.button(key="ls_go").click()
    at.run()
    assert not at.exception
    lines = [t for t in figures(at)["ls_own"]["data"] if t.get("xaxis", "x") == "x"]
    assert {t["name"] for t in lines} == {"ResNet-8", "plain-8"}
    work = at.session_state["work"]
    for run, path in work.trained():
        net = from_state(run.net, load_weights(path))
        data = dataset(run.train.dataset)
        loss, _ = evaluate(net, data.x_train[:250], data.y_train[:250])
        line = next(t for t in lines if t["name"] == run.label)
        assert list(line["x"])[2] == 0
        assert plotly_array(line["y"])[2] == pytest.approx(loss, rel=1e-5)
    at.radio(key="ls_view").set_value("Surface")  # another control: the result stays drawn
    at.run()
    assert "ls_own" in figures(at)
