"""The Experiments page's science and figures: Fig. 6 panels, final errors, the paper's numbers."""

import pytest

from resviz.claims import Kind, holds
from resviz.config import NetConfig
from resviz.depth_changes import changes, depth_trend, until_it_hurts
from resviz.experiments import groups, mixed_note, sweep_runs
from resviz.paper import CIFAR10, IMAGENET, paper_cell, published
from resviz.plots.curves import error_curves
from resviz.plots.experiments import error_vs_depth, figure6
from resviz.plots.styles import kind_colour
from resviz.runs import list_runs, load
from resviz.sweep import final_errors
from resviz.ui.experiments_view import REFERENCE
from tests.helpers import mixed_runs, run_of


def test_the_paper_numbers_are_the_published_ones_with_their_datasets():
    assert [(p.label, p.percent) for p in CIFAR10] == [
        ("ResNet-20", 8.75),
        ("ResNet-32", 7.51),
        ("ResNet-44", 7.17),
        ("ResNet-56", 6.97),
        ("ResNet-110", 6.43),
    ]
    assert {p.label: p.percent for p in IMAGENET} == {
        "plain-18": 27.94,
        "plain-34": 28.54,
        "ResNet-18": 27.88,
        "ResNet-34": 25.03,
    }
    assert all("CIFAR-10" in p.measure for p in CIFAR10)
    assert all("ImageNet" in p.measure for p in IMAGENET)
    assert published(NetConfig(depth=56)).error == pytest.approx(0.0697)
    # Table 6: "For ResNet-110, we run it 5 times and show 'best (mean±std)'": 6.43 (6.61±0.16)
    assert CIFAR10[-1].text == "6.43% (best of 5 runs; mean 6.61 ± 0.16%)"
    assert published(NetConfig(depth=56, residual=False)) is None  # Table 6 lists no plain nets


@pytest.mark.parametrize(
    "net, cell",
    [
        (NetConfig(depth=20, width=16, in_channels=3), "8.75%"),
        (NetConfig(depth=20, width=8), "8.75% (paper: width 16)"),
        (NetConfig(depth=20, width=16, batch_norm=False), "8.75% (paper: with BN)"),
        (NetConfig(depth=110, width=16), "6.43% (best of 5 runs; mean 6.61 ± 0.16%)"),
        (NetConfig(depth=56, residual=False), "curve only (Fig. 6)"),
        (NetConfig(depth=8), "not in the paper"),
    ],
)
def test_the_paper_column_says_how_the_papers_network_differs(net, cell):
    assert paper_cell(net) == cell


def test_final_errors_average_the_last_tenth_of_training_and_take_the_last_validation():
    run = run_of(20, True, [0.5] * 90 + [0.1] * 5 + [0.3] * 5, {50: 0.4, 100: 0.2})
    train, val = final_errors(run)
    assert train == pytest.approx(0.2)  # steps 91..100
    assert val == 0.2


def test_lines_join_only_runs_that_differ_in_depth_alone():
    found = groups(sweep_runs(mixed_runs()))
    assert [(g.name, [p.depth for p in g.points]) for g in found] == [
        ("plain, 180 steps", [20, 56]),
        ("plain, no BN, 180 steps", [56]),
        ("ResNet, 50 steps", [20, 110]),
        ("ResNet, 180 steps", [20, 56]),
    ]
    for trace in error_vs_depth(found).to_dict()["data"]:
        if trace["name"].endswith("validation"):
            settings = {round(y / 100 - x / 1000, 6) for x, y in zip(trace["x"], trace["y"])}
            assert len(settings) == 1, trace["name"]  # every point of a line: one configuration
    assert mixed_note(found) == (
        "These runs differ in more than depth: batch norm (BN: plain-20, plain-56, ResNet-20, "
        "ResNet-110, ResNet-56; no BN: plain-56), and steps (180 steps: plain-20, plain-56, "
        "ResNet-20, ResNet-56; 50 steps: ResNet-20, ResNet-110). A line joins only runs that "
        "differ in depth alone, and nothing is compared across lines."
    )
    trend = depth_trend(found, {"mnist-5k": 1000})
    assert "ResNet, 50 steps, 20 → 110 layers" in trend
    assert "ResNet, 180 steps, 20 → 56 layers" in trend
    assert "ResNet 20 → 110" not in trend and "plain, no BN" not in trend  # one depth: no trend


def test_one_experiment_has_no_note_and_plain_lines_keep_their_kind_name():
    runs = [run_of(d, r, [0.1] * 10, {10: 0.1}) for d in (20, 56) for r in (False, True)]
    found = groups(runs)
    assert [g.name for g in found] == ["plain", "ResNet"] and mixed_note(found) == ""


def test_figure6_colours_kind_by_hue_depth_by_shade_and_dashes_no_bn():
    runs = [run_of(d, r, [0.2] * 40, {20: 0.3, 40: 0.25}) for d in (20, 56) for r in (False, True)]
    runs.append(run_of(56, False, [0.5] * 40, {40: 0.6}, batch_norm=False))
    fig = figure6(groups(runs)).to_dict()
    traces = {t["name"]: t for t in fig["data"]}
    axes = {n: t["xaxis"] for n, t in traces.items()}
    assert axes["plain-56 validation"] == "x" and axes["ResNet-56 validation"] == "x2"
    colour = {n: t["line"]["color"] for n, t in traces.items()}
    dash = {n: t["line"]["dash"] for n, t in traces.items()}
    # Each run in the colour and dash the Train page's curves give it.
    trained = {t["name"]: t["line"] for t in error_curves(runs).to_dict()["data"]}
    for name, line in trained.items():
        assert (colour[name], dash[name]) == (line["color"], line["dash"]), name
    # Plain blue, ResNet orange (Okabe-Ito); the shallower lighter, the deeper darker.
    assert colour["plain-20 validation"] != colour["plain-56 validation"]
    assert (
        brightness(colour["plain-20 validation"])
        > brightness(kind_colour(False))
        > brightness(colour["plain-56 validation"])
    )
    assert (
        brightness(colour["ResNet-20 validation"])
        > brightness(kind_colour(True))
        > brightness(colour["ResNet-56 validation"])
    )
    # Below it, a line a kind in its hue, and each depth's mark in that network's colour.
    below = {t["name"]: t for t in error_vs_depth(groups(runs)).to_dict()["data"]}
    assert below["plain validation"]["line"]["color"] == kind_colour(False)
    assert list(below["plain validation"]["marker"]["color"]) == [
        colour["plain-20 validation"],
        colour["plain-56 validation"],
    ]
    # The BN and no-BN plain-56 share a shade but never a line style.
    assert colour["plain-56, no BN validation"] == colour["plain-56 validation"]
    assert dash["plain-56 validation"] == "solid" and dash["plain-56, no BN validation"] == "dash"
    widths = {n: t["line"]["width"] for n, t in traces.items()}
    assert widths["ResNet-20 train"] < widths["ResNet-20 validation"]  # thin train, bold val
    val = traces["plain-20 validation"]
    assert list(val["x"]) == [20, 40] and list(val["y"]) == [30, 25]


def brightness(hex_colour: str) -> int:
    return sum(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def test_seeds_of_one_configuration_are_a_mean_with_a_band_and_error_bars():
    runs = [
        run_of(20, True, [e] * 10, {5: e, 10: e}, seed=s) for s, e in enumerate((0.02, 0.04, 0.06))
    ]
    runs += [
        run_of(56, True, [e] * 10, {5: e, 10: e}, seed=s) for s, e in enumerate((0.01, 0.02, 0.03))
    ]
    found = groups(sweep_runs(runs))
    assert [len(p.runs) for p in found[0].points] == [3, 3]
    traces = figure6(found).to_dict()["data"]
    mean = next(t for t in traces if t["name"] == "ResNet-20, 3 seeds validation")
    assert list(mean["y"]) == pytest.approx([4, 4])
    upper, lower = (t for t in traces if t["name"] == "ResNet-20, 3 seeds spread")
    assert list(upper["y"]) == pytest.approx([6, 6]) and list(lower["y"]) == pytest.approx([2, 2])
    assert lower["fill"] == "tonexty"
    val = next(
        t for t in error_vs_depth(found).to_dict()["data"] if t["name"] == "ResNet validation"
    )
    assert list(val["y"]) == pytest.approx([4, 2]) and val["error_y"]["visible"]
    assert list(val["error_y"]["array"]) == pytest.approx([2, 1])
    # Two standard errors of the difference of means: 2 * sqrt(2²/3 + 1²/3) = 2.58 points
    assert depth_trend(found, {}).splitlines()[1] == (
        "- ResNet, 20 → 56 layers (mean ± spread of 3 seeds): training error 4.00 ± 2.00% → "
        "2.00 ± 1.00% (within noise, ±2.6 points), validation error 4.0 ± 2.0% → 2.0 ± 1.0% "
        "(within noise, ±2.6 points)."
    )
    assert depth_trend(found, {}).endswith(
        "The standard errors come from the spread between seeds."
    )


def test_the_depth_trend_judges_each_change_against_sampling_noise_with_one_seed():
    runs = [
        run_of(56, False, [0.3] * 10, {10: 0.35}),
        run_of(20, False, [0.05] * 10, {10: 0.06}),
        run_of(20, True, [0.04] * 10, {10: 0.02}),
        run_of(56, True, [0.04] * 10, {10: 0.027}),
    ]
    trend = depth_trend(groups(runs), {"mnist-5k": 1000})
    # Two standard errors of a difference of error rates, sqrt(p(1-p)/n) each. Validation on
    # 1,000 images: 2 * sqrt(.02 * .98 / 1000 + .027 * .973 / 1000) = 1.4 points; training: the
    # last tenth of 10 steps is 1 batch of 64 images, 2 * sqrt(2 * .04 * .96 / 64) = 6.9 points.
    assert trend == (
        "**In these runs**, line by line (a line joins runs that differ in depth alone):\n"
        "- plain, 20 → 56 layers: training error 5.00% → 30.00% (beyond noise, ±12.7 points), "
        "validation error 6.0% → 35.0% (beyond noise, ±3.4 points).\n"
        "- ResNet, 20 → 56 layers: training error 4.00% → 4.00% (within noise, ±6.9 points), "
        "validation error 2.0% → 2.7% (within noise, ±1.4 points).\n\n"
        "Within noise: a change no larger than 2 standard errors of the difference, and at "
        "least 0.5 points. The standard errors come from sampling alone (1,000 validation "
        "images and 64 images of the training batches averaged), which leaves out what another "
        "seed would change."
    )
    assert depth_trend(groups(runs[2:3]), {}) == ""  # one depth: no trend


def _plain_line(errors: dict[int, tuple[float, ...]]) -> list:
    """Plain runs of these depths, a seed per validation error (training as validation)."""
    return groups(
        [
            run_of(d, False, [e] * 10, {10: e}, seed=s)
            for d, per_seed in errors.items()
            for s, e in enumerate(per_seed)
        ]
    )


def test_depth_helps_until_it_hurts_is_said_only_when_both_changes_are_beyond_noise():
    # Seeds' spread 1 point at each depth: 2 standard errors of a difference are 1.6 points.
    found = _plain_line({8: (0.39, 0.40, 0.41), 20: (0.27, 0.28, 0.29), 56: (0.95, 0.96, 0.97)})
    assert until_it_hurts(found, {}) == [
        "**Depth helps until it hurts** (plain): validation error 40.0 ± 1.0% at 8 layers, "
        "28.0 ± 1.0% at 20, 96.0 ± 1.0% at 56 (both changes beyond noise)"
    ]
    # 8 -> 20 helps by 1 point only: within noise, so nothing is said
    assert (
        until_it_hurts(
            _plain_line({8: (0.28, 0.29, 0.30), 20: (0.27, 0.28, 0.29), 56: (0.95, 0.96, 0.97)}), {}
        )
        == []
    )
    # the best at an end (deeper always worse), or two depths: no turning point to name
    assert until_it_hurts(_plain_line({8: (0.2, 0.2), 20: (0.3, 0.3), 56: (0.9, 0.9)}), {}) == []
    assert until_it_hurts(_plain_line({8: (0.4, 0.4), 20: (0.3, 0.3)}), {}) == []


def test_each_depth_sentence_is_a_claim_said_only_when_its_rule_holds():
    runs = mixed_runs() + [load(p) for p in list_runs(REFERENCE / "mnist-5k")]
    said = changes(groups(sweep_runs(runs)), {"mnist-5k": 1000})
    assert len(said) == 10  # 5 lines of two depths or more, training and validation each
    for c in said:
        made = c.claim("", "")
        assert made.kind == (Kind.DEGRADATION if c.after > c.before else Kind.DEEPER_WINS)
        assert dict(made.numbers) == {"deep": c.after, "shallow": c.before, "noise": c.noise.stderr}
        assert ("(beyond noise" in c.text) == holds(made)
        gap = abs(c.after - c.before)
        assert holds(made) == (gap > max(2 * c.noise.stderr, 0.005))
