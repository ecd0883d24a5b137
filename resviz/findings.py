"""Sentences about a preset's runs, made from the figures measured for several seeds: each
`Finding` says its claim (`resviz.claims`) only where the claim holds for every seed, with the
range over the seeds, and otherwise says what the figures show instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .claims import RULES, Claim, Kind, claim, factor, holds, percent, profile_claim, spread

SEEDS = (0, 1, 2)  # the seeds every preset is measured for (`python -m scripts.presets`)


@dataclass(frozen=True)
class Finding:
    """One sentence about a preset's runs with a claim for each seed's figures: the sentence is
    said when every seed's claim holds, `instead` (what the figures do show) otherwise. A
    sentence without claims only quotes figures (`figures`, one mapping a seed)."""

    sentence: str
    instead: str = ""
    claims: tuple[Claim, ...] = ()
    figures: tuple[tuple[tuple[str, float], ...], ...] = ()

    @property
    def holds(self) -> bool:
        return all(holds(c) for c in self.claims)

    @property
    def text(self) -> str:
        return self.sentence if self.holds else self.instead

    def evidence(self) -> list[str]:
        """Each seed's numbers, with its claim's kind and whether its rule holds."""
        if not self.claims:
            return [_numbers(f) for f in self.figures]
        return [
            f"{c.kind} {'holds' if holds(c) else 'does not hold'}: {_numbers(c.numbers)}"
            for c in self.claims
        ]


def _numbers(pairs: tuple[tuple[str, float], ...]) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in pairs)


def _span(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """'58-71%' from the seeds' figures, or one figure where they all read alike."""
    lo, hi = fmt(min(values)), fmt(max(values))
    if lo == hi:
        return lo
    return f"{lo.removesuffix('%') if hi.endswith('%') else lo}-{hi}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _all_same(values: Sequence[float]) -> bool:
    return len(set(values)) == 1


_GRADIENT = {  # verb, then how its blocks compare per element: "{lead} {ratio}x {compared}"
    Kind.VANISHING: ("vanishes", "its smallest block gets", "less than its largest"),
    Kind.EXPLODING: ("explodes", "its largest block gets", "more than its smallest"),
    Kind.RESIDUAL_GROWTH: (
        "grows towards the input as its skip paths add up",
        "its largest block gets",
        "more than its smallest",
    ),
    Kind.HEALTHY: ("is healthy", "its blocks stay within", "of each other"),
}


def _when(step: int) -> str:
    return "as initialised" if step == 1 else f"at step {step}"


def seed_words(seeds: Sequence[int]) -> str:
    listed = [str(s) for s in seeds]
    return (
        f"seed {listed[0]}"
        if len(listed) == 1
        else f"seeds {', '.join(listed[:-1])} and {listed[-1]}"
    )


def _verdicts(name: str, judged: Sequence[Claim], step: int) -> str:
    """'At step 180 the gradient of plain-56 is vanishing for seeds 0 and 1, healthy for seed 2
    (its blocks 6.8-17x apart'."""
    kinds: dict[Kind, list[int]] = {}
    for seed, c in zip(SEEDS, judged):
        kinds.setdefault(c.kind, []).append(seed)
    said = ", ".join(f"{k} for {seed_words(ss)}" for k, ss in kinds.items())
    apart = _span([spread(c) for c in judged], factor)
    return f"{_cap(_when(step))} the gradient of {name} is {said} (its blocks {apart}x apart"


def gradient_finding(
    name: str, label: str, seeds: Sequence[dict], steps: Sequence[int], residual: bool, expect: Kind
) -> Finding:
    """'The gradient of {name} vanishes: per element its smallest block gets 14-17x less than its
    largest as initialised, 1,400-9,200x at step 180', judged by the gradient rule on each
    seed's profile (RMS of dL/dx per element, every block) at each of `steps`: the last step's
    claim needs the others' (`also`)."""
    judged = {
        step: [profile_claim(label, f["grad"][str(step)], residual, step) for f in seeds]
        for step in steps
    }
    expected = {
        step: [claim(expect, c.sentence, dict(c.numbers), runs=c.runs, step=step) for c in cs]
        for step, cs in judged.items()
    }
    *before, last = steps
    claims = tuple(
        replace(c, also=tuple(expected[s][i] for s in before)) for i, c in enumerate(expected[last])
    )
    lo, hi = ([c[k] for c in claims] for k in ("smallest_at", "largest_at"))
    named = (lo, hi) if expect == Kind.VANISHING else (hi, lo)  # in the sentence's order
    where = (
        f" (block {named[0][0]:.0f} against block {named[1][0]:.0f})"
        if _all_same(lo) and _all_same(hi)
        else ""
    )
    verb, lead, compared = _GRADIENT[expect]
    ratios = [f"{_span([spread(c) for c in expected[s]], factor)}x {_when(s)}" for s in steps]
    ratios[0] = ratios[0].replace("x ", f"x {compared} ", 1)
    said = f"The gradient of {name} {verb}: per element {lead} {', '.join(ratios)}{where}."
    rule = f"; the rule calls {RULES.band:.0f}x or less healthy)."
    return Finding(said, "). ".join(_verdicts(name, judged[s], s) for s in steps) + rule, claims)


def _compare(kind: Kind, deep: dict, shallow: dict) -> Claim:
    noise = math.hypot(deep["train_noise"], shallow["train_noise"])
    numbers = {"deep": deep["train_error"], "shallow": shallow["train_error"], "noise": noise}
    return claim(kind, "", numbers, runs=(deep["label"], shallow["label"]), step=deep["step"])


def _errors(figs: Sequence[dict], key: str = "train_error") -> str:
    return _span([f[key] for f in figs], percent)


def depth_finding(kind: Kind, deep: Sequence[dict], shallow: Sequence[dict]) -> Finding:
    """A deeper network trains worse (degradation) or better (deeper wins) than a shallower one
    trained alike, on every seed: training error over the last batches, beyond their noise."""
    claims = tuple(_compare(kind, d, s) for d, s in zip(deep, shallow))
    d, s = _cap(deep[0]["label"]), shallow[0]["label"]
    errors = f"training error {_errors(deep)} against {_errors(shallow)}"
    if kind == Kind.DEGRADATION:
        return Finding(
            f"{d} trains worse than {s}: {errors}.",
            f"{d}'s training error is not clearly above {s}'s for every seed: {errors}.",
            claims,
        )
    return Finding(
        f"{d} trains better than {s}: {errors}.",
        f"{d} does not clearly beat {s} for every seed: {errors}.",
        claims,
    )


def fit_finding(deep: Sequence[dict], shallow: Sequence[dict]) -> Finding:
    """The deeper network fails to fit rather than overfits: its validation error is no further
    above its training error than the shallower one's, give or take the rule's margin."""
    claims = tuple(
        claim(
            Kind.NOT_OVERFITTING,
            "",
            dict(
                deep_train=d["train_error"],
                deep_val=d["val_error"],
                shallow_train=s["train_error"],
                shallow_val=s["val_error"],
            ),
            runs=(d["label"], s["label"]),
            step=d["step"],
            also=(_compare(Kind.DEGRADATION, d, s),),
        )
        for d, s in zip(deep, shallow)
    )
    d, s = deep[0]["label"], shallow[0]["label"]
    vals = f"{_errors(deep, 'val_error')} against {_errors(shallow, 'val_error')}"
    degraded = all(holds(c.also[0]) for c in claims)
    return Finding(
        f"{_cap(d)} fails to fit, it does not overfit: validation error {vals}, no further above "
        f"its training error than {s}'s (within {RULES.overfit_gap * 100:.0f} points).",
        f"Part of {d}'s deficit is overfitting for some seed: validation error {vals}."
        if degraded
        else "",
        claims,
    )


def error_figures(*named: tuple[str, Sequence[dict]]) -> Finding:
    """'ResNet-56 ends at a training error of 5.2-10%, ResNet-20 at 6.7-17%'."""
    said = ", ".join(
        f"{who} {'ends at a training error of ' if i == 0 else 'at '}{_errors(figs)}"
        for i, (who, figs) in enumerate(named)
    )
    return Finding(
        said + ".",
        figures=tuple(
            tuple((f"{who} train_error", figs[i]["train_error"]) for who, figs in named)
            for i in range(len(SEEDS))
        ),
    )


def spread_figures(name: str, step: int, *named: tuple[str, Sequence[dict]]) -> Finding:
    """How far apart each network's largest and smallest blocks' gradients are at `step`."""
    spreads = [
        (who, [spread(profile_claim(f["label"], f["grad"][str(step)], False, step)) for f in figs])
        for who, figs in named
    ]
    said = ", ".join(f"{_span(r, factor)}x {who}" for who, r in spreads)
    return Finding(
        f"{_cap(_when(step))} {name}'s largest and smallest block gradients differ {said}.",
        figures=tuple(
            tuple((f"{who} spread", r[i]) for who, r in spreads) for i in range(len(SEEDS))
        ),
    )


def response_figures(name: str, figs: Sequence[dict]) -> Finding:
    """The spread of the first and the last 3x3 layer's responses, as initialised: how much of
    the image's signal reaches the classifier."""
    first, last = ([f["act"]["1"][i] for f in figs] for i in (0, -1))
    fmt = "{:.2g}".format
    return Finding(
        f"As initialised, the responses of {name} have a std of {_span(first, fmt)} "
        f"at its first 3x3 layer and {_span(last, fmt)} at its last.",
        figures=tuple((("first", a), ("last", b)) for a, b in zip(first, last)),
    )
