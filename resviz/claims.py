"""Sentences about runs as claims: typed, resting on numbers, shown only when a rule holds.

API. A `Claim` is frozen: its `kind` (a `Kind`: vanishing, exploding, healthy, residual-growth,
degradation, not-overfitting, deeper-wins, weaker-responses), the runs it is about (labels),
the step it judges, the `numbers` it rests on (name -> float, read with `claim["name"]`), its
`sentence`, what to say `instead` when it does not hold, and claims it needs `also`. Make one
with `claim(kind, sentence, numbers, ...)`; `holds(c)` applies the kind's rule (thresholds in
`RULES`, explained to learners by `HELP`) to its numbers; `say(claims)` gives the sentences to
show: a claim's own when it holds, its `instead` (or nothing) when not. Each kind's rule needs
the numbers listed in `NEEDS`. Builders read the numbers out of runs: `gradient_claim` (the
gradient rule at one step), `strongest` (the probed step where a gradient is furthest from
healthy), `degradation_claims`, `overfitting_claims`, `response_claims` (the paper's Fig. 7);
`error_window` and `validation_at` are the training and validation errors they quote.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from .gradients import rms_matrix
from .runs import Run


class Kind(StrEnum):
    VANISHING = "vanishing"
    EXPLODING = "exploding"
    HEALTHY = "healthy"
    RESIDUAL_GROWTH = "residual-growth"
    DEGRADATION = "degradation"
    NOT_OVERFITTING = "not-overfitting"
    DEEPER_WINS = "deeper-wins"
    WEAKER_RESPONSES = "weaker-responses"


GRADIENT_KINDS = (Kind.VANISHING, Kind.EXPLODING, Kind.HEALTHY, Kind.RESIDUAL_GROWTH)


@dataclass(frozen=True)
class Rules:
    """Every threshold a claim is judged by."""
    band: float = 10.0          # a gradient profile within 10x, largest over smallest: healthy
    window: int = 20            # training error: mean over the last 20 training batches
    noise_factor: float = 2.0   # an error difference must exceed 2 standard errors (or spreads)
    min_gap: float = 0.005      # ... and half a percentage point
    overfit_gap: float = 0.05   # validation above training by 5 points more than the other run
    response_margin: float = 0.10  # Fig. 7: residual responses at least 10% weaker


RULES = Rules()

HELP = (
    f"How ResViz judges a run. **Gradients**: each block's ‖dL/dx‖ is divided by the square "
    f"root of its number of elements (a root mean square, so that stages of different sizes "
    f"compare), and each 3x3 layer's ‖dL/dW‖ by that of its number of weights. The largest "
    f"and smallest blocks of the whole profile are compared: within {RULES.band:.0f}x of each "
    f"other the gradient is *healthy*; more than that, it is *vanishing* if the smallest lies "
    f"nearer the input, *exploding* if the largest does, and in a residual network that growth "
    f"towards the input is what its skip paths add up to. Step 1 is the network as "
    f"initialised. **Errors**: a run's training error is the mean over its last "
    f"{RULES.window} training batches; two errors differ when the gap exceeds "
    f"{RULES.noise_factor:.0f} standard errors and {RULES.min_gap:.1%}. A deeper plain network "
    f"with a higher training error than a shallower one, trained alike, shows *degradation*; "
    f"it is *not overfitting* when its validation error is no more than "
    f"{RULES.overfit_gap:.0%} further above its training error than the shallower one's. "
    f"**Responses** (Fig. 7): a residual network's layers respond more weakly when the median "
    f"std is at least {RULES.response_margin:.0%} below the plain network's.")

NEEDS: dict[Kind, tuple[str, ...]] = {
    **{k: ("largest", "largest_at", "smallest", "smallest_at", "residual") for k in GRADIENT_KINDS},
    Kind.DEGRADATION: ("deep", "shallow", "noise"),
    Kind.DEEPER_WINS: ("deep", "shallow", "noise"),
    Kind.NOT_OVERFITTING: ("deep_train", "deep_val", "shallow_train", "shallow_val"),
    Kind.WEAKER_RESPONSES: ("plain", "residual"),
}


@dataclass(frozen=True)
class Claim:
    kind: Kind
    sentence: str
    numbers: tuple[tuple[str, float], ...]
    runs: tuple[str, ...] = ()
    step: int | None = None
    instead: str = ""
    also: tuple[Claim, ...] = ()

    def __getitem__(self, name: str) -> float:
        return dict(self.numbers)[name]


def claim(kind: Kind, sentence: str, numbers: Mapping[str, float], *, runs: Iterable[str] = (),
          step: int | None = None, instead: str = "", also: Iterable[Claim] = ()) -> Claim:
    missing = [n for n in NEEDS[kind] if n not in numbers]
    if missing:
        raise ValueError(f"a {kind} claim needs the numbers {', '.join(missing)}")
    return Claim(Kind(kind), sentence, tuple((k, float(v)) for k, v in numbers.items()),
                 tuple(runs), step, instead, tuple(also))


def classify(largest: float, largest_at: float, smallest: float, smallest_at: float,
             residual: float, rules: Rules = RULES) -> Kind:
    """The gradient rule: largest over smallest block of the whole profile, and which is first."""
    if largest <= rules.band * smallest:
        return Kind.HEALTHY
    if smallest_at < largest_at:
        return Kind.VANISHING
    return Kind.RESIDUAL_GROWTH if residual else Kind.EXPLODING


def _differ(bigger: float, smaller: float, noise: float, rules: Rules) -> bool:
    """bigger - smaller is more than noise: a known, finite noise is needed."""
    if not math.isfinite(noise) or noise < 0:
        return False
    return bigger - smaller > max(rules.min_gap, rules.noise_factor * noise)


def holds(c: Claim, rules: Rules = RULES) -> bool:
    """The claim's kind's rule on its numbers, and every claim it needs `also`."""
    n = dict(c.numbers)
    if c.kind in GRADIENT_KINDS:
        ok = classify(*(n[k] for k in NEEDS[c.kind]), rules=rules) == c.kind
    elif c.kind == Kind.DEGRADATION:
        ok = _differ(n["deep"], n["shallow"], n["noise"], rules)
    elif c.kind == Kind.DEEPER_WINS:
        ok = _differ(n["shallow"], n["deep"], n["noise"], rules)
    elif c.kind == Kind.NOT_OVERFITTING:
        extra = (n["deep_val"] - n["deep_train"]) - (n["shallow_val"] - n["shallow_train"])
        ok = extra <= rules.overfit_gap
    else:
        ok = n["residual"] <= (1 - rules.response_margin) * n["plain"]
    return ok and all(holds(a, rules) for a in c.also)


def say(claims: Iterable[Claim]) -> list[str]:
    """What a page shows: each claim's sentence when it holds, else what it says instead."""
    out = []
    for c in claims:
        text = c.sentence if holds(c) else c.instead
        if text:
            out.append(text)
    return out


# Numbers in sentences -------------------------------------------------------------------------

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def factor(ratio: float) -> str:
    """How many times larger or smaller: 0.01 and 100 both read "100"; 5e10 as 5 × 10¹⁰."""
    if ratio == 0 or not math.isfinite(ratio):
        return "∞"
    ratio = max(ratio, 1 / ratio)
    if ratio >= 1_000_000:
        mantissa, exponent = f"{ratio:.0e}".split("e")
        return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"
    return f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:.1f}"


def percent(error: float) -> str:
    """62% and 5.6%: two significant figures where a whole percent would hide them."""
    return f"{error:.0%}" if error >= 0.095 else f"{error:.1%}"


# Gradients ------------------------------------------------------------------------------------

_SIGNAL = {"block_grad_norms": ("dL/dx per element", "block"),
           "grad_norms": ("dL/dW per parameter", "layer")}
_KIND_WORDS = {Kind.HEALTHY: "healthy", Kind.EXPLODING: "it explodes",
               Kind.RESIDUAL_GROWTH: "it grows as the skip paths add up"}


def profile_claim(label: str, values: Sequence[float], residual: bool, step: int | None,
                  key: str = "block_grad_norms", names: Sequence[str] = ()) -> Claim:
    """The gradient rule's verdict on one profile (input side first), as a claim that holds.

    Places are named "block 3" (counted from the input) unless `names` gives each one's name.
    """
    signal, unit = _SIGNAL[key]
    hi = max(range(len(values)), key=values.__getitem__)
    lo = min(range(len(values)), key=values.__getitem__)
    numbers = dict(largest=values[hi], largest_at=hi + 1, smallest=values[lo],
                   smallest_at=lo + 1, residual=float(residual), layers=len(values))
    kind = classify(*(numbers[k] for k in NEEDS[Kind.HEALTHY]))
    at = (lambda i: names[i]) if names else (lambda i: f"{unit} {i + 1}")
    ratio = factor(values[hi] / values[lo]) if values[lo] else "∞"
    body = {
        Kind.HEALTHY: f"is **healthy**: its {len(values)} {unit}s stay within {ratio}x of "
                      f"each other",
        Kind.VANISHING: f"is **vanishing**: {ratio}x smaller at {at(lo)} than at {at(hi)}",
        Kind.EXPLODING: f"is **exploding**: {ratio}x larger at {at(hi)} than at {at(lo)}",
        Kind.RESIDUAL_GROWTH: f"**grows towards the input as the skip paths add up**: {ratio}x "
                              f"larger at {at(hi)} than at {at(lo)} (each block passes its "
                              f"gradient on unchanged and adds its branch's)",
    }[kind]
    where = f" at step {step}" if step is not None else ""
    return claim(kind, f"**{label}**{where}, {signal} {body}.", numbers, runs=(label,),
                 step=step)


def _judged(layers: list[str], key: str) -> list[int]:
    """Which rows the rule judges: every block input; for dL/dW the 3x3 layers of the blocks
    (the stem, classifier and projections differ in shape and role)."""
    if key == "block_grad_norms":
        return list(range(len(layers)))
    return [i for i, name in enumerate(layers) if name.rsplit(".", 1)[-1] in ("conv1", "conv2")]


def _named_profile(run: Run, step: int, key: str) -> dict[str, float] | None:
    m = rms_matrix(run, key)
    if m is None or step not in m.steps:
        return None
    column = m.at(step)
    named = {m.layers[i]: column[i] for i in _judged(m.layers, key)}
    values = list(named.values())
    return named if values and None not in values and max(values) > 0 else None


def gradient_claim(run: Run, step: int, key: str = "block_grad_norms") -> Claim | None:
    """The gradient rule's verdict on a run at a probed step; dL/dW places named by layer."""
    named = _named_profile(run, step, key)
    if named is None:
        return None
    return profile_claim(run.label, list(named.values()), run.net.residual, step, key,
                         names=list(named) if key == "grad_norms" else ())


def spread(c: Claim) -> float:
    return c["largest"] / c["smallest"] if c["smallest"] else math.inf


def strongest(run: Run, key: str = "block_grad_norms") -> Claim | None:
    """The probed step whose profile is furthest from healthy (largest spread), if any is not
    healthy."""
    steps = rms_matrix(run, key)
    found = [c for s in (steps.steps if steps else []) if (c := gradient_claim(run, s, key))]
    found = [c for c in found if c.kind != Kind.HEALTHY]
    return max(found, key=spread) if found else None


# Errors ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ErrorWindow:
    mean: float
    stderr: float  # of the mean; infinite from a single batch
    first: int
    last: int


def error_window(run: Run, step: int, rules: Rules = RULES) -> ErrorWindow | None:
    """Mean training-batch error over the last `rules.window` steps up to `step`."""
    recs = [r for r in run.records if step - rules.window < r["step"] <= step
            and r.get("train_error") is not None]
    if not recs:
        return None
    errors = [r["train_error"] for r in recs]
    stderr = statistics.stdev(errors) / math.sqrt(len(errors)) if len(errors) > 1 else math.inf
    return ErrorWindow(statistics.fmean(errors), stderr, recs[0]["step"], recs[-1]["step"])


def validation_at(run: Run, step: int) -> tuple[int, float] | None:
    """The last evaluation at or before `step`: (its step, validation error)."""
    evals = [(r["step"], r["val_error"]) for r in run.records
             if r["step"] <= step and r.get("val_error") is not None]
    return evals[-1] if evals else None


_ALIKE = ("dataset", "steps", "batch_size", "lr", "momentum", "weight_decay", "schedule",
          "warmup_steps", "augment", "seed", "precision")


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
    said = (f"**{deep.label}** trains worse than **{shallow.label}** ({_bn(deep)}): training "
            f"error {percent(d.mean)} against {percent(s.mean)} (mean of {steps})")
    return claim(
        Kind.DEGRADATION, said + ". That is the paper's *degradation* problem: the deeper "
        "network fits its own training data worse.", numbers,
        runs=(deep.label, shallow.label), step=step,
        instead=(f"At step {step} **{deep.label}**'s training error ({percent(d.mean)}, mean of "
                 f"{steps}) is not clearly above **{shallow.label}**'s ({percent(s.mean)}): these "
                 f"runs show no degradation here."))


def degradation_claims(runs: Sequence[Run], step: int) -> list[Claim]:
    return [c for deep, shallow in _depth_pairs(runs)
            if (c := degradation_claim(deep, shallow, step))]


def diagnosis_claims(runs: Sequence[Run], step: int) -> list[Claim]:
    """Degradation, each with what the deeper run's gradient does at that step: a degraded
    network whose gradient does not vanish fails by optimisation, not by vanishing gradients."""
    out = []
    for deep, shallow in _depth_pairs(runs):
        degraded, grad = degradation_claim(deep, shallow, step), gradient_claim(deep, step)
        if degraded is None or grad is None or not holds(degraded):
            out += [degraded] if degraded else []
        elif grad.kind == Kind.VANISHING:
            out.append(replace(degraded, also=(grad,), sentence=degraded.sentence + (
                f" Its gradient also vanishes at step {step}, so here the failure cannot be told "
                f"apart from vanishing gradients.")))
        else:
            out.append(replace(degraded, also=(grad,), sentence=degraded.sentence + (
                f" Its gradient does not vanish at step {step} ({_KIND_WORDS[grad.kind]}), so "
                f"this is an optimisation difficulty, not vanishing gradients (He et al. 2016, "
                f"Sec. 4.1).")))
    return out


def overfitting_claim(deep: Run, shallow: Run, step: int) -> Claim | None:
    """'It fails to fit, it does not overfit': degradation, and no extra generalisation gap."""
    degraded = degradation_claim(deep, shallow, step)
    dv, sv = validation_at(deep, step), validation_at(shallow, step)
    if degraded is None or dv is None or sv is None:
        return None
    numbers = dict(deep_train=degraded["deep"], deep_val=dv[1], shallow_train=degraded["shallow"],
                   shallow_val=sv[1])
    return claim(
        Kind.NOT_OVERFITTING,
        f"**{deep.label}**'s *training* error is {percent(degraded['deep'])} "
        f"({percent(degraded['shallow'])} for {shallow.label}): it fails to fit, it does not "
        f"overfit (its validation error, {percent(dv[1])} at step {dv[0]}, is about as far from "
        f"its training error as {shallow.label}'s). Deeper plain networks do worse on the very "
        f"data they train on.", numbers, runs=(deep.label, shallow.label), step=step,
        also=(degraded,))


def overfitting_claims(runs: Sequence[Run], step: int) -> list[Claim]:
    return [c for deep, shallow in _depth_pairs(runs)
            if (c := overfitting_claim(deep, shallow, step))]


# Responses (Fig. 7) ---------------------------------------------------------------------------

def _median_response(run: Run, step: int) -> float | None:
    rec = next((r for r in run.records if r["step"] == step and r.get("act_std")), None)
    values = [v for v in rec["act_std"].values() if v is not None] if rec else []
    return statistics.median(values) if values else None


def response_claims(runs: Sequence[Run], step: int) -> list[Claim]:
    """Plain and residual runs with batch norm, of one depth, trained alike: median std of their
    3x3 layers' responses (the paper's Fig. 7 measures networks with batch norm)."""
    out = []
    for p in (r for r in runs if not r.net.residual and r.net.batch_norm):
        for q in (r for r in runs if r.net.residual and r.net.depth == p.net.depth and alike(p, r)):
            plain, res = _median_response(p, step), _median_response(q, step)
            if plain is None or res is None:
                continue
            numbers = dict(plain=plain, residual=res)
            said = (f"At step {step} the median std of **{q.label}**'s layer responses is "
                    f"{res:.3g}, **{p.label}**'s {plain:.3g}")
            out.append(claim(
                Kind.WEAKER_RESPONSES, said + ": the residual functions respond more weakly, "
                "as in the paper's Fig. 7, so each block only nudges its input.", numbers,
                runs=(q.label, p.label), step=step,
                instead=said + f" ({res / plain:.0%} of it): not the "
                               f"{RULES.response_margin:.0%} or more weaker that would show the "
                               f"paper's Fig. 7 finding (residual functions respond more weakly)."))
    return out
