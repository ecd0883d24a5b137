"""What runs say about depth: each line's change from its shallowest to its deepest network,
judged against its noise (the spread between seeds, or sampling alone), where depth helps until
it hurts, and whether the ordering is the paper's. Every sentence is a checked claim."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, replace

from .claims import RULES, Claim, Kind, claim, say
from .experiments import DECIMALS, MEASURES, Group, Point

NOISE_HELP = (
    f"How a change is judged (the rule of every claim ResViz makes about errors): two errors "
    f"differ when the gap exceeds {RULES.noise_factor:g} standard errors of the difference and "
    f"{100 * RULES.min_gap:g} percentage points; otherwise they are within noise. With two or "
    f"more seeds a network the standard error comes from the spread between seeds; with one, "
    f"from sampling alone: an error rate p measured on n images varies by sqrt(p(1-p)/n) (n: "
    f"the validation images, or the images of the training batches averaged). Sampling alone "
    f"leaves out what another seed or another machine would change, so it is a lower bound."
)


@dataclass(frozen=True)
class Noise:
    """The standard error of a difference between two errors, and where it comes from."""

    stderr: float  # as a fraction, like the errors
    images: tuple[int, ...] = ()  # sampling alone: the images behind each error; () from seeds

    @property
    def threshold(self) -> float:
        """The smallest difference the claims' rule calls real: 2 standard errors, 0.5 points."""
        return max(RULES.min_gap, RULES.noise_factor * self.stderr)


def noise(a: Point, b: Point, measure: int, val_images: Mapping[str, int]) -> Noise | None:
    """The standard error of the difference between two points' errors.

    With at least two seeds at both points, from the seeds' spread; otherwise from sampling
    alone (an error rate p measured on n images has a standard error of sqrt(p(1-p)/n)), which
    leaves out what another seed would change. `val_images`: dataset -> images in its
    validation split; None where the number of images is unknown."""
    va, vb = a.values(measure), b.values(measure)
    if len(va) > 1 and len(vb) > 1:
        se = math.sqrt(statistics.variance(va) / len(va) + statistics.variance(vb) / len(vb))
        return Noise(se)
    held_out = val_images.get(a.runs[0].train.dataset)
    images = (a.training_images(), b.training_images()) if measure == 0 else (held_out, held_out)
    if not all(images):
        return None
    se = math.sqrt(sum(p * (1 - p) / n for p, n in zip((a.mean(measure), b.mean(measure)), images)))
    return Noise(se, images)


# eq=False: its group and points compare by identity.
@dataclass(frozen=True, eq=False)
class Change:
    """One measure of one line from its shallowest to its deepest network."""

    group: Group
    measure: int
    shallow: Point
    deep: Point
    noise: Noise | None

    @property
    def before(self) -> float:
        return self.shallow.mean(self.measure)

    @property
    def after(self) -> float:
        return self.deep.mean(self.measure)

    def _value(self, point: Point) -> str:
        n = DECIMALS[self.measure]
        mean, sd = point.mean(self.measure), point.spread(self.measure)
        return f"{mean:.{n}%}" if sd is None else f"{100 * mean:.{n}f} ± {100 * sd:.{n}f}%"

    def claim(self, beyond: str, within: str) -> Claim:
        """That the deeper network's error differs from the shallower one's beyond noise (higher:
        a degradation claim, else a deeper-wins claim), said as `beyond`; `within` is said when
        the rule finds the difference within noise. Both may use {said} (the two errors) and
        {noise} (the threshold, in points)."""
        numbers = dict(
            deep=self.after,
            shallow=self.before,
            noise=self.noise.stderr if self.noise else math.inf,
        )
        kind = Kind.DEGRADATION if self.after > self.before else Kind.DEEPER_WINS
        words = dict(
            said=f"{MEASURES[self.measure]} {self._value(self.shallow)} → {self._value(self.deep)}",
            noise=f"±{100 * self.noise.threshold:.1f} points" if self.noise else "",
        )
        runs = (self.group.label(self.shallow), self.group.label(self.deep))
        last = max(r["step"] for run in self.deep.runs for r in run.records)
        return claim(
            kind,
            beyond.format(**words),
            numbers,
            runs=runs,
            step=last,
            instead=within.format(**words) if self.noise else words["said"],
        )

    @property
    def text(self) -> str:
        """'validation error 2.0% → 2.7% (within noise, ±1.4 points)', as the rule finds."""
        return say(
            [self.claim("{said} (beyond noise, {noise})", "{said} (within noise, {noise})")]
        )[0]


def changes(found: list[Group], val_images: Mapping[str, int]) -> list[Change]:
    """Each line's training and validation error from its shallowest to its deepest depth."""
    out = []
    for g in found:
        if len(g.points) < 2:
            continue
        a, b = g.points[0], g.points[-1]
        for m in (0, 1):
            if a.mean(m) is not None and b.mean(m) is not None:
                out.append(Change(g, m, a, b, noise(a, b, m, val_images)))
    return out


def until_it_hurts(found: list[Group], val_images: Mapping[str, int]) -> list[str]:
    """Markdown, per line of three or more depths whose best validation error is at neither
    end: depth helps up to it and hurts past it, said only where both changes are beyond noise."""
    out = []
    for g in found:
        scored = [p for p in g.points if p.mean(1) is not None]
        if len(scored) < 3:
            continue
        best = min(scored, key=lambda p: p.mean(1))
        if best is scored[0] or best is scored[-1]:
            continue
        helps, hurts = (
            Change(g, 1, a, b, noise(a, b, 1, val_images))
            for a, b in ((scored[0], best), (best, scored[-1]))
        )
        if helps.noise is None or hurts.noise is None:
            continue
        sentence = (
            f"**Depth helps until it hurts** ({g.name}): validation error "
            f"{helps._value(scored[0])} at {scored[0].depth} layers, "
            f"{helps._value(best)} at {best.depth}, {hurts._value(scored[-1])} at "
            f"{scored[-1].depth} (both changes beyond noise)"
        )
        first = helps.claim(sentence, "")
        out += say([replace(first, also=(hurts.claim("", ""),))])
    return out


def depth_trend(found: list[Group], val_images: Mapping[str, int]) -> str:
    """Markdown: each line's errors at its shallowest and deepest depth, judged against noise,
    then where the noise levels come from ("" where no line has two depths)."""
    said = changes(found, val_images)
    if not said:
        return ""
    lines = ["**In these runs**, line by line (a line joins runs that differ in depth alone):"]
    for g in dict.fromkeys(c.group for c in said):
        mine = [c for c in said if c.group is g]
        seeds = f" (mean ± spread of {g.seeds} seeds)" if g.seeds > 1 else ""
        lines.append(
            f"- {g.name}, {mine[0].shallow.depth} → {mine[0].deep.depth} layers"
            f"{seeds}: {', '.join(c.text for c in mine)}."
        )
    judged = [c for c in said if c.noise]
    tail = (
        f"Within noise: a change no larger than {RULES.noise_factor:g} standard errors of "
        f"the difference, and at least {100 * RULES.min_gap:g} points. "
        + (
            _noise_sources(judged)
            if judged
            else "No noise level here: the size of the validation set is not known."
        )
    )
    return "\n".join(lines) + "\n\n" + tail


def _noise_sources(judged: list[Change]) -> str:
    """Where the standard errors come from: seeds where a configuration has several, else
    sampling alone, with the numbers of images."""
    sampled = [c for c in judged if c.noise.images]
    parts = ["the spread between seeds"] if len(sampled) < len(judged) else []
    if sampled:
        counts = []
        for m, what in ((1, "validation images"), (0, "images of the training batches averaged")):
            n = sorted({i for c in sampled if c.measure == m for i in c.noise.images})
            if n:
                counts.append(f"{n[0]:,}{f' to {n[-1]:,}' if len(n) > 1 else ''} {what}")
        parts.append(
            f"sampling alone{' where there is one seed' if parts else ''} ("
            f"{' and '.join(counts)}), which leaves out what another seed would change"
        )
    return f"The standard errors come from {', and from '.join(parts)}."


def against_paper(said: list[Change]) -> list[str]:
    """Per line, whether its validation error moves with depth as the paper's does (Fig. 6:
    deeper plain networks worse; Table 6: deeper ResNets better), by the claims' rule."""
    out = []
    for c in said:
        if c.measure != 1 or c.noise is None:
            continue
        paper = "better" if c.group.residual else "worse"
        ours = "worse" if c.after > c.before else "better"
        agree = "as in the paper" if ours == paper else "against the paper"
        ends = f"{c.shallow.depth} → {c.deep.depth} layers, {{said}}"
        out += say(
            [
                c.claim(
                    f"{c.group.name}: deeper is {ours} ({ends}), {agree}",
                    f"{c.group.name}: within noise ({ends}, {{noise}}), so these runs "
                    f"do not show the paper's deeper-is-{paper}",
                )
            ]
        )
    return out
