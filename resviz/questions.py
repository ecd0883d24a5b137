"""Guided questions: what a learner can answer by looking at their own runs, each answered by
checked claims about those runs (`resviz.claims`), so an answer is never typed.

A `Question` has its `text` (markdown) and the `claim` its answer rests on; `answer` is what
the claims' rule lets a page say (the claim's sentence where it holds, what it says instead
where not). Each page's builder (`on_train`, `on_gradient_flow`, `on_experiments`) asks only
what its runs can answer: no two depths of one kind trained alike, no question about depth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .claims import RULES, Claim, Kind, claim, gradient_claim, holds, percent, say, spread
from .comparisons import (
    alike,
    degradation_claim,
    error_window,
    last_step,
    overfitting_claim,
    response_claims,
)
from .depth_changes import Change, changes
from .experiments import Group
from .runs import Run
from .schema import PROBES


@dataclass(frozen=True)
class Question:
    text: str
    claim: Claim

    @property
    def answer(self) -> list[str]:
        return say([self.claim])


def _ask(text: str, answer: Claim | None) -> list[Question]:
    """The question, when the claim it rests on could be made and says something."""
    return [Question(text, answer)] if answer is not None and say([answer]) else []


# Train: errors against depth -------------------------------------------------------------------


def depth_pair(runs: Sequence[Run], residual: bool) -> tuple[Run, Run] | None:
    """The deepest and the shallowest run of one kind trained alike (the newest such group)."""
    kind = [r for r in runs if r.net.residual == residual and last_step(r)]
    for run in kind:
        group = [o for o in kind if alike(run, o)]
        deep = max(group, key=lambda o: o.net.depth)
        shallow = min(group, key=lambda o: o.net.depth)
        if deep.net.depth > shallow.net.depth:
            return deep, shallow
    return None


def higher_error_claim(deep: Run, shallow: Run, step: int) -> Claim | None:
    """Which of two runs trained alike ends with the higher training error, beyond noise (the
    deeper: a degradation claim; the shallower: a deeper-wins claim)."""
    base, w = degradation_claim(deep, shallow, step), error_window(deep, step)
    if base is None or w is None:
        return None
    d, s = base["deep"], base["shallow"]
    (hi, higher), (lo, lower) = sorted(((d, deep), (s, shallow)), key=lambda e: -e[0])
    steps = f"mean of steps {w.first}-{w.last}"
    return claim(
        Kind.DEGRADATION if d > s else Kind.DEEPER_WINS,
        f"**{higher.label}**: training error {percent(hi)} against {percent(lo)} for "
        f"{lower.label} ({steps}), a gap beyond the noise of these batches.",
        dict(deep=d, shallow=s, noise=base["noise"]),
        runs=(deep.label, shallow.label),
        step=step,
        instead=f"Neither clearly: training error {percent(d)} for {deep.label} against "
        f"{percent(s)} for {shallow.label} ({steps}), within the noise of these batches.",
    )


def on_train(runs: Sequence[Run]) -> list[Question]:
    """About the runs a learner compares: which ends higher, plain and ResNet; is it overfitting."""
    out = []
    for residual in (False, True):
        pair = depth_pair(runs, residual)
        if pair is None:
            continue
        deep, shallow = pair
        step = min(last_step(deep) or 0, last_step(shallow) or 0)  # both trained: depth_pair
        out += _ask(
            f"Which network ends with the higher training error, **{shallow.label}** or "
            f"**{deep.label}**?",
            higher_error_claim(deep, shallow, step),
        )
        degraded = degradation_claim(deep, shallow, step)
        if not residual and degraded is not None and holds(degraded):
            out += _ask(
                f"**{deep.label}** ends with the higher training error. Is that because it "
                f"overfits (fits its training images, fails on new ones), or because it "
                f"cannot fit its training images? Compare its validation error with its "
                f"training error, and {shallow.label}'s.",
                overfitting_claim(deep, shallow, step),
            )
    return out


# Gradient flow: the rule on the learner's own profiles ------------------------------------------


def on_gradient_flow(runs: Sequence[Run], step: int, steps: Sequence[int]) -> list[Question]:
    """At the first and the last of the probed `steps`, for the run whose gradient is furthest
    from healthy at the first; Fig. 7's responses at `step`, for the deepest plain and ResNet
    pair that has them."""
    first = [(r, c) for r in runs if (c := gradient_claim(r, steps[0]))] if steps else []
    out = []
    if first:
        run, start = max(first, key=lambda rc: spread(rc[1]))
        where = "Move the step slider to step" if len(steps) > 1 else "At step"
        out += _ask(
            f"{where} {steps[0]}, the network as initialised. Under "
            f"**{PROBES['block_grad_norms']}**, does **{run.label}**'s gradient vanish towards "
            f"the input, grow towards it, or stay within {RULES.band:.0f}x across its blocks?",
            start,
        )
        if len(steps) > 1:
            out += _ask(
                f"And at step {steps[-1]}, the last one probed: what does **{run.label}**'s "
                f"gradient do after training?",
                gradient_claim(run, steps[-1]),
            )
    deepest_first = sorted(runs, key=lambda r: -r.net.depth)
    if pairs := response_claims(deepest_first, step):
        residual, plain = pairs[0].runs
        out += _ask(
            f"Under **{PROBES['act_std']}**, at step {step}: whose layers respond more "
            f"weakly, **{plain}** or **{residual}**?",
            pairs[0],
        )
    return out


# Experiments: depth, line by line ---------------------------------------------------------------


def _moved(c: Change) -> Claim:
    deep, shallow = c.group.label(c.deep), c.group.label(c.shallow)
    ends = "higher" if c.after > c.before else "lower"
    return c.claim(
        f"**{deep}** ends {ends} than **{shallow}**: {{said}} (beyond noise, {{noise}}).",
        "Neither clearly: {said} (within noise, {noise}).",
    )


def on_experiments(found: Sequence[Group], val_images: Mapping[str, int]) -> list[Question]:
    """For the first plain and the first ResNet line with two depths: does the deeper network
    end with a higher or a lower validation error?"""
    out = []
    for residual in (False, True):
        line = [
            c
            for c in changes(list(found), val_images)
            if c.measure == 1 and c.group.residual == residual and c.noise is not None
        ][:1]
        for c in line:
            deep, shallow = c.group.label(c.deep), c.group.label(c.shallow)
            panel = "right" if residual else "left"
            out += _ask(
                f"Fig. 6, {panel} panel (bold lines): does **{deep}** end with a higher or "
                f"a lower validation error than **{shallow}**?",
                _moved(c),
            )
    return out
