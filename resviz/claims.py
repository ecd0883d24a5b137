"""Sentences about runs as claims: typed, resting on numbers, shown only when a rule holds.

API. A `Claim` is frozen: its `kind` (a `Kind`: vanishing, exploding, healthy, residual-growth,
degradation, not-overfitting, deeper-wins, weaker-responses), the runs it is about (labels),
the step it judges, the `numbers` it rests on (name -> float, read with `claim["name"]`), its
`sentence`, what to say `instead` when it does not hold, and claims it needs `also`. Make one
with `claim(kind, sentence, numbers, ...)`; `holds(c)` applies the kind's rule (thresholds in
`RULES`, explained to learners by `HELP`) to its numbers; `say(claims)` gives the sentences to
show: a claim's own when it holds, its `instead` (or nothing) when not. Each kind's rule needs
the numbers listed in `NEEDS`. The gradient rule lives here: `profile_claim` judges a profile,
`gradient_claim` a run at one probed step, `strongest` finds the step where a run's gradient
is furthest from healthy. Claims comparing runs' errors and responses are built from runs in
`resviz.comparisons`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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

    band: float = 10.0  # a gradient profile within 10x, largest over smallest: healthy
    window: int = 20  # training error: mean over the last 20 training batches
    noise_factor: float = 2.0  # an error difference must exceed 2 standard errors (or spreads)
    min_gap: float = 0.005  # ... and half a percentage point
    overfit_gap: float = 0.05  # validation above training by 5 points more than the other run
    response_margin: float = 0.10  # Fig. 7: residual responses at least 10% weaker


RULES = Rules()

HELP = (
    f"How ResViz judges a run. **Gradients**: each block's ‖dL/dx‖ is divided by the square "
    f"root of its number of elements (a root mean square, so that stages of different sizes "
    f"compare), and the ‖dL/dW‖ of each 3x3 layer in the blocks by that of its number of "
    f"weights (the stem, classifier and projections are drawn, not judged). The largest and "
    f"smallest of the whole profile are compared: within {RULES.band:.0f}x of each other the "
    f"gradient is *healthy*; more than that, it is *vanishing* if the smallest lies "
    f"nearer the input, *exploding* if the largest does, and in a residual network that growth "
    f"towards the input is what its skip paths add up to. Step 1 is the network as "
    f"initialised. **Errors**: a run's training error is the mean over its last "
    f"{RULES.window} training batches; two errors differ when the gap exceeds "
    f"{RULES.noise_factor:.0f} standard errors and {100 * RULES.min_gap:g} percentage points. "
    f"A deeper plain network with a higher training error than a shallower one, trained "
    f"alike, shows *degradation*; it is *not overfitting* when its validation error is no more "
    f"than {100 * RULES.overfit_gap:g} percentage points further above its training error than "
    f"the shallower one's. "
    f"**Responses** (Fig. 7): a residual network's layers respond more weakly when the median "
    f"std is at least {RULES.response_margin:.0%} below the plain network's."
)

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


def claim(
    kind: Kind,
    sentence: str,
    numbers: Mapping[str, float],
    *,
    runs: Iterable[str] = (),
    step: int | None = None,
    instead: str = "",
    also: Iterable[Claim] = (),
) -> Claim:
    """A claim of `kind`; raises ValueError when `numbers` lacks one its rule reads."""
    missing = [n for n in NEEDS[kind] if n not in numbers]
    if missing:
        raise ValueError(f"a {kind} claim needs the numbers {', '.join(missing)}")
    return Claim(
        Kind(kind),
        sentence,
        tuple((k, float(v)) for k, v in numbers.items()),
        tuple(runs),
        step,
        instead,
        tuple(also),
    )


def classify(
    largest: float,
    largest_at: float,
    smallest: float,
    smallest_at: float,
    residual: float,
    rules: Rules = RULES,
) -> Kind:
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
    else:  # Kind.WEAKER_RESPONSES
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

_SIGNAL = {
    "block_grad_norms": ("dL/dx per element", "block"),
    "grad_norms": ("dL/dW per parameter", "layer"),
}
KIND_WORDS = {
    Kind.HEALTHY: "healthy",
    Kind.EXPLODING: "it explodes",
    Kind.RESIDUAL_GROWTH: "it grows as the skip paths add up",
}


def profile_claim(
    label: str,
    values: Sequence[float],
    residual: bool,
    step: int | None,
    key: str = "block_grad_norms",
    names: Sequence[str] = (),
) -> Claim:
    """The gradient rule's verdict on one profile (input side first), as a claim that holds.

    Places are named "block 3" (counted from the input) unless `names` gives each one's name.
    """
    signal, unit = _SIGNAL[key]
    hi = max(range(len(values)), key=values.__getitem__)
    lo = min(range(len(values)), key=values.__getitem__)
    numbers = dict(
        largest=values[hi],
        largest_at=hi + 1,
        smallest=values[lo],
        smallest_at=lo + 1,
        residual=float(residual),
        layers=len(values),
    )
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
    return claim(kind, f"**{label}**{where}, {signal} {body}.", numbers, runs=(label,), step=step)


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
    return profile_claim(
        run.label,
        list(named.values()),
        run.net.residual,
        step,
        key,
        names=list(named) if key == "grad_norms" else (),
    )


def spread(c: Claim) -> float:
    return c["largest"] / c["smallest"] if c["smallest"] else math.inf


def strongest(run: Run, key: str = "block_grad_norms") -> Claim | None:
    """The probed step whose profile is furthest from healthy (largest spread), if any is not
    healthy."""
    m = rms_matrix(run, key)
    found = [c for s in (m.steps if m else []) if (c := gradient_claim(run, s, key))]
    found = [c for c in found if c.kind != Kind.HEALTHY]
    return max(found, key=spread) if found else None
