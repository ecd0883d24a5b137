"""Claims: the gradient rule against autograd, each kind's rule, and no false claim on a grid of
real runs (tests/claims_grid.py recorded them)."""

import functools
import math
import re
import statistics

import pytest
import torch
import torch.nn.functional as F

from resviz import claims, comparisons
from resviz.claims import Claim, Kind, claim, holds, say
from resviz.config import NetConfig, TrainConfig
from resviz.gradients import element_counts, probe_steps, rms_matrix
from resviz.models import blocks, build, weight_layers
from resviz.probes import Probe, weight_grad_norms
from resviz.runs import Run
from tests import claims_grid


def _probed_run(cfg: NetConfig, batch: int = 6, size: int = 28) -> tuple[Run, dict, dict]:
    """One probed forward/backward recorded as a run, and autograd's per-element RMS of every
    block input's and weight's gradient for the same loss."""
    torch.manual_seed(0)
    net = build(cfg)
    x = torch.randn(batch, cfg.in_channels, size, size)
    y = torch.randint(0, cfg.num_classes, (batch,))
    inputs = {}
    hooks = [
        b.register_forward_pre_hook(lambda _m, i, n=n: inputs.__setitem__(n, i[0]))
        for n, b in blocks(net)
    ]
    with Probe(net) as probe:
        loss = F.cross_entropy(net(x), y)
        weights = dict(weight_layers(net))
        grads = torch.autograd.grad(
            loss, list(inputs.values()) + [m.weight for m in weights.values()], retain_graph=True
        )
        loss.backward()
    for h in hooks:
        h.remove()
    rms = [g.pow(2).mean().sqrt().item() for g in grads]
    want_x, want_w = dict(zip(inputs, rms)), dict(zip(weights, rms[len(inputs) :]))
    record = {
        "step": 1,
        "block_grad_norms": probe.block_grad_norms(),
        "grad_norms": weight_grad_norms(net),
        "act_std": probe.activation_std(),
    }
    dataset = {28: "mnist-5k", 32: "shapes"}[size]
    run = Run(cfg, TrainConfig(dataset=dataset, batch_size=batch), [record], status="done")
    return run, want_x, want_w


@pytest.mark.parametrize(
    "cfg, size",
    [
        (NetConfig(depth=8, width=4), 28),
        (NetConfig(depth=14, residual=False, batch_norm=False, width=3, shortcut="B"), 28),
        (NetConfig(family="imagenet", depth=18, width=4, in_channels=3), 32),
    ],
)
def test_per_element_rms_matches_autograd(cfg, size):
    run, want_x, want_w = _probed_run(cfg, size=size)
    got_x, got_w = (rms_matrix(run, k) for k in ("block_grad_norms", "grad_norms"))
    assert got_x.layers == list(want_x) and got_w.layers == list(want_w)
    assert got_x.at(1) == pytest.approx(list(want_x.values()), rel=1e-4)
    assert got_w.at(1) == pytest.approx(list(want_w.values()), rel=1e-4)


def test_element_counts_are_the_block_inputs_of_a_real_forward():
    cfg = NetConfig(family="imagenet", depth=18, width=4, in_channels=3, small_input=False)
    net, seen = build(cfg), {}
    for name, block in blocks(net):
        block.register_forward_pre_hook(lambda _m, i, n=name: seen.__setitem__(n, i[0][0].numel()))
    net(torch.zeros(2, 3, 45, 45))  # an odd size: each halving rounds up
    assert element_counts(cfg, 45)["block_grad_norms"] == seen


def _profile(values, residual=False):
    return claims.profile_claim("net", values, residual, step=5)


@pytest.mark.parametrize(
    "values, residual, kind, words",
    [
        ([1.0, 2.0, 5.0], False, Kind.HEALTHY, "stay within 5.0x"),
        ([2.0, 81.0, 1.0], False, Kind.EXPLODING, "81x larger at block 2 than at block 3"),
        ([0.01, 1.0, 2.0], False, Kind.VANISHING, "200x smaller at block 1 than at block 3"),
        ([30.0, 3.0, 1.0], False, Kind.EXPLODING, "30x larger at block 1 than at block 3"),
        ([30.0, 3.0, 1.0], True, Kind.RESIDUAL_GROWTH, "30x larger at block 1 than at block 3"),
        ([0.01, 1.0, 2.0], True, Kind.VANISHING, "vanishing"),
    ],
)
def test_the_gradient_rule_reads_the_whole_profile(values, residual, kind, words):
    c = _profile(values, residual)
    assert c.kind == kind and words in c.sentence and holds(c)
    assert c["largest"] == max(values) and c["smallest"] == min(values)


def test_a_claim_with_another_kind_than_its_numbers_show_does_not_hold():
    c = _profile([1.0, 2.0, 50.0])
    assert c.kind == Kind.VANISHING
    lie = claim(Kind.HEALTHY, "healthy", dict(c.numbers))
    assert not holds(lie) and say([lie]) == []


def test_a_claim_needs_the_numbers_its_rule_reads():
    with pytest.raises(ValueError, match="needs the numbers noise"):
        claim(Kind.DEGRADATION, "x", {"deep": 0.6, "shallow": 0.2})


@pytest.mark.parametrize(
    "deep, shallow, noise, ok",
    [
        (0.62, 0.20, 0.03, True),
        (0.25, 0.20, 0.03, False),
        (0.62, 0.20, math.inf, False),
        (0.204, 0.200, 0.0, False),  # under the half-point floor
    ],
)
def test_degradation_needs_a_gap_beyond_the_noise(deep, shallow, noise, ok):
    c = claim(
        Kind.DEGRADATION,
        "worse",
        dict(deep=deep, shallow=shallow, noise=noise),
        instead="not worse",
    )
    assert holds(c) is ok and say([c]) == ["worse" if ok else "not worse"]
    wins = claim(Kind.DEEPER_WINS, "better", dict(deep=shallow, shallow=deep, noise=noise))
    assert holds(wins) is ok


def test_not_overfitting_needs_its_degradation_too():
    degraded = claim(Kind.DEGRADATION, "", dict(deep=0.6, shallow=0.2, noise=0.01))
    flat = claim(Kind.DEGRADATION, "", dict(deep=0.2, shallow=0.2, noise=0.01))
    numbers = dict(deep_train=0.6, deep_val=0.62, shallow_train=0.2, shallow_val=0.21)
    assert holds(claim(Kind.NOT_OVERFITTING, "", numbers, also=[degraded]))
    assert not holds(claim(Kind.NOT_OVERFITTING, "", numbers, also=[flat]))
    overfit = dict(numbers, deep_val=0.9)  # 30 points above its training error
    assert not holds(claim(Kind.NOT_OVERFITTING, "", overfit, also=[degraded]))


def test_weaker_responses_need_the_margin():
    assert holds(claim(Kind.WEAKER_RESPONSES, "", dict(plain=1.0, residual=0.85)))
    assert not holds(claim(Kind.WEAKER_RESPONSES, "", dict(plain=1.0, residual=0.98)))


def test_the_help_text_quotes_the_thresholds():
    assert "within 10x" in claims.HELP and "last 20 training batches" in claims.HELP
    assert re.search(r"at least 10% below", claims.HELP)


# No false claim on a grid of real runs ---------------------------------------------------------


@pytest.fixture(scope="module")
def grid() -> list[Run]:
    if not claims_grid.PATH.exists():
        pytest.fail("record the grid first: python -m tests.claims_grid")
    return claims_grid.runs()


def _selections(runs: list[Run]) -> list[list[Run]]:
    """What a learner might pick on Gradient flow: one setting's six runs, and a seed's runs
    with and without batch norm at one learning rate (labels stay unique, as claims name runs
    by label)."""
    by_setting, by_lr = {}, {}
    for r in runs:
        by_setting.setdefault((r.train.seed, r.train.lr, r.net.batch_norm), []).append(r)
        by_lr.setdefault((r.train.seed, r.train.lr), []).append(r)
    return list(by_setting.values()) + [s for s in by_lr.values() if len(s) > 6]


@functools.cache
def _sizes(cfg: NetConfig, batch: int) -> dict[str, dict[str, int]]:
    """Elements of each block's input in a real forward of a batch, and of each 3x3 weight."""
    net, inputs = build(cfg), {}
    hooks = [
        b.register_forward_pre_hook(lambda _m, i, n=n: inputs.__setitem__(n, i[0].numel()))
        for n, b in blocks(net)
    ]
    with torch.no_grad():
        net(torch.zeros(batch, cfg.in_channels, 28, 28))
    for h in hooks:
        h.remove()
    weights = {n: m.weight.numel() for n, m in weight_layers(net) if re.search(r"conv[12]$", n)}
    return {"block_grad_norms": inputs, "grad_norms": weights}


def _oracle_rms(run: Run, step: int, key: str) -> dict[str, float]:
    """Per-element RMS from the record and a real forward's tensor sizes."""
    rec = next(r for r in run.records if r["step"] == step)
    sizes = _sizes(run.net, run.train.batch_size)[key]
    return {n: rec[key][n] / math.sqrt(count) for n, count in sizes.items()}


def _factor_in(sentence: str) -> float:
    text = re.search(r"([\d.,]+(?: × 10[⁰¹²³⁴⁵⁶⁷⁸⁹]+)?)x", sentence).group(1)
    if "×" in text:
        mantissa, power = text.split(" × 10")
        digits = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
        return float(mantissa) * 10 ** int(power.translate(digits))
    return float(text.replace(",", ""))


def _check_gradient(c: Claim, run: Run, step: int, key: str) -> None:
    values = list(_oracle_rms(run, step, key).values())
    hi, lo = max(values), min(values)
    assert holds(c) and c.step == step
    assert c["largest"] == pytest.approx(hi, rel=1e-6)
    assert c["smallest"] == pytest.approx(lo, rel=1e-6)
    within = hi <= 10 * lo
    first_small = values.index(lo) < values.index(hi)
    assert (c.kind == Kind.HEALTHY) == within
    if not within:
        assert (c.kind == Kind.VANISHING) == first_small
        assert c.kind != Kind.RESIDUAL_GROWTH or run.net.residual
    assert _factor_in(c.sentence) == pytest.approx(hi / lo, rel=0.05, abs=0.05)
    assert f"**{run.label}** at step {step}" in c.sentence


def _window(run: Run, step: int) -> list[float]:
    return [
        r["train_error"]
        for r in run.records
        if step - 20 < r["step"] <= step and r.get("train_error") is not None
    ]


def _percents(sentence: str) -> list[float]:
    return [float(p) / 100 for p in re.findall(r"([\d.]+)%", sentence)]


def _check_degradation(c: Claim, runs: list[Run], step: int) -> None:
    deep, shallow = (
        next(r for r in runs if r.label == label and not r.net.residual) for label in c.runs
    )
    d, s = _window(deep, step), _window(shallow, step)
    assert c["deep"] == pytest.approx(statistics.fmean(d)) and deep.net.depth > shallow.net.depth
    noise = math.hypot(
        *(statistics.stdev(e) / math.sqrt(len(e)) if len(e) > 1 else math.inf for e in (d, s))
    )
    worse = statistics.fmean(d) - statistics.fmean(s) > max(0.005, 2 * noise)
    assert holds(c) == worse
    shown = say([c])
    if worse:
        said = _percents(shown[0])
        assert said[:2] == pytest.approx([statistics.fmean(d), statistics.fmean(s)], abs=0.006)
        grad = claims.gradient_claim(deep, step)
        if "does not vanish" in shown[0]:
            assert grad.kind != Kind.VANISHING
        if "also vanishes" in shown[0]:
            assert grad.kind == Kind.VANISHING
    else:
        assert shown == [c.instead] and "no degradation" in c.instead


def _pair_responses(runs: list[Run], c: Claim, step: int) -> list[tuple[str, float, float]]:
    """(layer, plain std, residual std) of a response claim's pair at `step`."""
    res, plain = (next(r for r in runs if r.label == label).records for label in c.runs)
    p, q = (next(r for r in recs if r["step"] == step)["act_std"] for recs in (plain, res))
    return [(k, p[k], q[k]) for k in p]


def test_no_false_claim_on_a_grid_of_real_runs(grid):
    checked = {k: 0 for k in ("gradient", "jump", "degradation", "fit", "responses")}
    for runs in _selections(grid):
        for step in probe_steps(runs):
            for run in runs:
                for key in ("block_grad_norms", "grad_norms"):
                    if (c := claims.gradient_claim(run, step, key)) is not None:
                        _check_gradient(c, run, step, key)
                        checked["gradient"] += 1
            for c in comparisons.diagnosis_claims(runs, step):
                _check_degradation(c, runs, step)
                checked["degradation"] += 1
            for c in comparisons.response_claims(runs, step):
                plain, res = (
                    statistics.median(
                        next(r for r in run.records if r["step"] == step)["act_std"].values()
                    )
                    for run in (
                        next(r for r in runs if r.label == c.runs[1]),
                        next(r for r in runs if r.label == c.runs[0]),
                    )
                )
                assert (c["plain"], c["residual"]) == (plain, res)
                assert f"is {res:.2f}, **{c.runs[1]}**'s {plain:.2f}" in say([c])[0]
                layer = re.search(r"differ most at (\S+):", say([c])[0]).group(1)
                gaps = {k: abs(v - q) for k, v, q in _pair_responses(runs, c, step)}
                assert gaps[layer] == max(gaps.values())
                assert holds(c) == (res <= 0.9 * plain)
                checked["responses"] += 1
        for run in runs:
            if (far := claims.strongest(run)) is not None:
                assert holds(far) and far.kind != Kind.HEALTHY
                others = [claims.gradient_claim(run, s) for s in probe_steps([run])]
                assert claims.spread(far) == max(claims.spread(o) for o in others if o)
                checked["jump"] += 1
        for c in comparisons.fit_claims(runs):
            deep, shallow = (
                next(r for r in runs if r.label == label and not r.net.residual) for label in c.runs
            )
            if holds(c):
                gap = (c["deep_val"] - c["deep_train"]) - (c["shallow_val"] - c["shallow_train"])
                assert gap <= 0.05 and holds(c.also[0])
                assert "it fails to fit, it does not overfit" in say([c])[0]
            checked["fit"] += 1
    assert min(checked.values()) > 0, checked


def test_the_grid_meets_every_gradient_verdict(grid):
    kinds = {claims.gradient_claim(r, s).kind for r in grid for s in probe_steps([r])}
    assert kinds == set(claims.GRADIENT_KINDS)
