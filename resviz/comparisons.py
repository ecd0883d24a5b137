"""Claims that compare runs: training and validation errors, depth, and layer responses.

Every builder reads its numbers out of runs and returns `resviz.claims.Claim`s, judged by the
rules there: `degradation_claim` (a deeper plain network trains worse than a shallower one
trained alike), `diagnosis_claims` (each such pair among runs, with what the deeper network's
gradient does), `fit_claims` (it fails to fit, it does not overfit), `response_claims` (the
paper's Fig. 7) and `ending` (what a finished job shows). `error_window` and `validation_at` are
the errors they quote.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .claims import (
    KIND_WORDS,
    RULES,
    Claim,
    Kind,
    Rules,
    claim,
    gradient_claim,
    holds,
    percent,
    say,
)
from .runs import Run


@dataclass(frozen=True)
class ErrorWindow:
    mean: float
    stderr: float  # of the mean; infinite from a single batch
    first: int
    last: int


def error_window(run: Run, step: int, rules: Rules = RULES) -> ErrorWindow | None:
    """Mean training-batch error over the last `rules.window` steps up to `step`."""
    recs = [
        r
        for r in run.records
        if step - rules.window < r["step"] <= step and r.get("train_error") is not None
    ]
    if not recs:
        return None
    errors = [r["train_error"] for r in recs]
    stderr = statistics.stdev(errors) / math.sqrt(len(errors)) if len(errors) > 1 else math.inf
    return ErrorWindow(statistics.fmean(errors), stderr, recs[0]["step"], recs[-1]["step"])


def validation_at(run: Run, step: int) -> tuple[int, float] | None:
    """The last evaluation at or before `step`: (its step, validation error)."""
    evals = [
        (r["step"], r["val_error"])
        for r in run.records
        if r["step"] <= step and r.get("val_error") is not None
    ]
    return evals[-1] if evals else None


_ALIKE = (
    "dataset",
    "steps",
    "batch_size",
    "lr",
    "momentum",
    "weight_decay",
    "schedule",
    "warmup_steps",
    "augment",
    "seed",
    "precision",
)


def alike(a: Run, b: Run) -> bool:
    """Trained the same way, networks differing at most in depth and in being residual."""
    same_net = replace(a.net, depth=b.net.depth, residual=b.net.residual) == b.net
    return same_net and all(getattr(a.train, f) == getattr(b.train, f) for f in _ALIKE)


def _depth_pairs(runs: Sequence[Run]) -> list[tuple[Run, Run]]:
    """(deepest, shallowest) plain runs of each group trained alike, deeper first."""
    pairs, seen = [], set()
    plain = [r for r in runs if not r.net.residual]
    for r in plain:
        group = [o for o in plain if alike(r, o)]
        key = tuple(sorted(id(o) for o in group))
        deep, shallow = max(group, key=lambda o: o.net.depth), min(group, key=lambda o: o.net.depth)
        if key not in seen and deep.net.depth > shallow.net.depth:
            seen.add(key)
            pairs.append((deep, shallow))
    return pairs


def _bn(run: Run) -> str:
    return "with batch norm" if run.net.batch_norm else "without batch norm"


def degradation_claim(deep: Run, shallow: Run, step: int) -> Claim | None:
    """Training error of two plain runs trained alike, the deeper first, up to `step`."""
    d, s = error_window(deep, step), error_window(shallow, step)
    if d is None or s is None:
        return None
    noise = math.hypot(d.stderr, s.stderr)
    steps = f"steps {d.first}-{d.last}" if d.first < d.last else f"step {d.last}"
    numbers = dict(deep=d.mean, shallow=s.mean, noise=noise)
    said = (
        f"**{deep.label}** trains worse than **{shallow.label}** ({_bn(deep)}): training "
        f"error {percent(d.mean)} against {percent(s.mean)} (mean of {steps})"
    )
    return claim(
        Kind.DEGRADATION,
        said + ", so the deeper network fits its own training data worse.",
        numbers,
        runs=(deep.label, shallow.label),
        step=step,
        instead=(
            f"At step {step} **{deep.label}**'s training error ({percent(d.mean)}, mean of "
            f"{steps}) is not clearly above **{shallow.label}**'s ({percent(s.mean)}): these "
            f"runs show no degradation here."
        ),
    )


def diagnosis_claims(runs: Sequence[Run], step: int) -> list[Claim]:
    """Degradation, each with what the deeper run's gradient does at that step: a degraded
    network whose gradient does not vanish fails by optimisation, not by vanishing gradients."""
    out = []
    for deep, shallow in _depth_pairs(runs):
        degraded, grad = degradation_claim(deep, shallow, step), gradient_claim(deep, step)
        if degraded is None or grad is None or not holds(degraded):
            out += [degraded] if degraded else []
        else:
            out.append(replace(degraded, also=(grad,), sentence=degraded.sentence + _cause(grad)))
    return out


def _cause(grad: Claim) -> str:
    """What the deeper run's gradient says about why it degraded."""
    if grad.kind == Kind.VANISHING:
        return (
            f" Its gradient also vanishes at step {grad.step}, so here degradation cannot be "
            "told apart from vanishing gradients."
        )
    return (
        f" That is the paper's *degradation* problem: its gradient does not vanish at step "
        f"{grad.step} ({KIND_WORDS[grad.kind]}), so it is an optimisation difficulty, not "
        "vanishing gradients (He et al. 2016, Sec. 4.1)."
    )


def overfitting_claim(deep: Run, shallow: Run, step: int) -> Claim | None:
    """'It fails to fit, it does not overfit': degradation, and no extra generalisation gap."""
    degraded = degradation_claim(deep, shallow, step)
    dv, sv = validation_at(deep, step), validation_at(shallow, step)
    if degraded is None or dv is None or sv is None:
        return None
    d_train, s_train = degraded["deep"], degraded["shallow"]
    numbers = dict(deep_train=d_train, deep_val=dv[1], shallow_train=s_train, shallow_val=sv[1])
    gaps = (
        f"validation {percent(dv[1])} against training {percent(d_train)}; {shallow.label}: "
        f"{percent(sv[1])} against {percent(s_train)}, validation at step {dv[0]}"
    )
    return claim(
        Kind.NOT_OVERFITTING,
        f"**{deep.label}**'s *training* error is {percent(d_train)} against {shallow.label}'s "
        f"{percent(s_train)}: it fails to fit, it does not overfit ({gaps}). A deeper plain "
        f"network does worse on the very data it trains on.",
        numbers,
        runs=(deep.label, shallow.label),
        step=step,
        also=(degraded,),
        instead=degraded.instead
        if not holds(degraded)
        else (
            f"**{deep.label}** trains worse than {shallow.label}, and part of its deficit is "
            f"overfitting: its validation error is further above its training error ({gaps})."
        ),
    )


def last_step(run: Run) -> int | None:
    """The last step with a training error (a diverged run's last record has none)."""
    return max((r["step"] for r in run.records if r.get("train_error") is not None), default=None)


def fit_claims(runs: Sequence[Run]) -> list[Claim]:
    """For each deeper plain network trained like a shallower one: fit or overfit, at their last
    common step."""
    pairs = [(d, s, min(last_step(d) or 0, last_step(s) or 0)) for d, s in _depth_pairs(runs)]
    return [c for d, s, step in pairs if step and (c := overfitting_claim(d, s, step))]


def ending(runs: Sequence[Run]) -> list[str]:
    """What finished runs show: degradation or not, fit or overfit; else each run's errors."""
    return say(fit_claims(runs)) or [_errors(run) for run in runs if last_step(run)]


def _errors(run: Run) -> str:
    step = last_step(run)
    w, v = error_window(run, step), validation_at(run, step)
    steps = f"steps {w.first}-{w.last}" if w.first < w.last else f"step {w.last}"
    val = f", validation error {percent(v[1])} at step {v[0]}" if v else ""
    return f"**{run.label}**: training error {percent(w.mean)} (mean of {steps}){val}."


# Responses (Fig. 7) ---------------------------------------------------------------------------

PICK_A_PAIR = (
    "The paper's Fig. 7 compares a plain and a residual network of one depth, with "
    "batch norm, trained alike: pick such a pair to compare their responses."
)


def _responses(run: Run, step: int) -> dict[str, float]:
    rec = next((r for r in run.records if r["step"] == step and r.get("act_std")), None)
    return {k: v for k, v in rec["act_std"].items() if v is not None} if rec else {}


def response_claims(runs: Sequence[Run], step: int) -> list[Claim]:
    """Plain and residual runs with batch norm, of one depth, trained alike: median std of their
    3x3 layers' responses (the paper's Fig. 7 measures networks with batch norm), and the layer
    where they differ most."""
    out = []
    for p in (r for r in runs if not r.net.residual and r.net.batch_norm):
        for q in (r for r in runs if r.net.residual and r.net.depth == p.net.depth and alike(p, r)):
            ps, qs = _responses(p, step), _responses(q, step)
            both = [k for k in ps if k in qs]
            if not both:
                continue
            plain, res = statistics.median(ps.values()), statistics.median(qs.values())
            most = max(both, key=lambda k: abs(ps[k] - qs[k]))
            said = (
                f"At step {step} the median std of **{q.label}**'s layer responses is "
                f"{res:.2f}, **{p.label}**'s {plain:.2f}"
            )
            apart = f" They differ most at {most}: {qs[most]:.2f} against {ps[most]:.2f}."
            out.append(
                claim(
                    Kind.WEAKER_RESPONSES,
                    said + ": the residual functions respond more weakly, "
                    "as in the paper's Fig. 7, so each block only nudges its input." + apart,
                    {"plain": plain, "residual": res},
                    runs=(q.label, p.label),
                    step=step,
                    instead=said + f" ({res / plain:.0%} of it): not the "
                    f"{RULES.response_margin:.0%} or more weaker that would show the "
                    f"paper's Fig. 7 finding (residual functions respond more "
                    f"weakly)." + apart,
                )
            )
    return out


def say_responses(runs: Sequence[Run], step: int) -> list[str]:
    """What Fig. 7's caption says for these runs: each pair's claim, or which runs to pick."""
    return say(response_claims(runs, step)) or [PICK_A_PAIR]
