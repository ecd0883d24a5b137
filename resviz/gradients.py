"""Per-layer probe data out of run records, and what they say (vanishing, healthy, exploding)."""
from __future__ import annotations

from dataclasses import dataclass

from .runs import Run

PROBES = {
    "grad_norms": "‖dL/dW‖, weight gradient of each layer",
    "block_grad_norms": "‖dL/dx‖, gradient entering each block",
    "act_std": "std of each 3x3 layer's response (after BN, before ReLU/addition)",
}


@dataclass(frozen=True)
class Matrix:
    """One probe of one run: `values[i][j]` is layer `layers[i]` at step `steps[j]`."""
    layers: list[str]
    steps: list[int]
    values: list[list[float | None]]

    def at(self, step: int) -> list[float | None]:
        j = self.steps.index(step)
        return [row[j] for row in self.values]


def matrix(run: Run, key: str) -> Matrix:
    recs = [r for r in run.records if r.get(key)]
    layers = list(recs[0][key]) if recs else []
    return Matrix(layers, [r["step"] for r in recs],
                  [[r[key].get(name) for r in recs] for name in layers])


def probe_steps(runs: list[Run], key: str = "block_grad_norms") -> list[int]:
    """Steps at which every one of `runs` was probed."""
    sets = [set(matrix(r, key).steps) for r in runs]
    return sorted(set.intersection(*sets)) if sets else []


def shrink_ratio(run: Run, step: int) -> float | None:
    """‖dL/dx‖ entering the first block over the last block's: < 1 means it shrinks going back."""
    m = matrix(run, "block_grad_norms")
    if step not in m.steps:
        return None
    col = m.at(step)
    first, last = col[0], col[-1]
    return first / last if first is not None and last else None


def verdict(ratio: float) -> str:
    """Words for a first/last gradient ratio: a factor 10 either way is the line we draw."""
    if ratio < 0.1:
        return f"vanishing: {1 / ratio:,.0f}x smaller at the first block than at the last"
    if ratio > 10:
        return f"growing: {ratio:,.0f}x larger at the first block than at the last"
    return f"healthy: the first block gets {ratio:.2g}x the last block's gradient"


def explain(runs: list[Run], step: int) -> list[str]:
    """One sentence per run, then what tells vanishing gradients from degradation."""
    lines = []
    for run in runs:
        ratio = shrink_ratio(run, step)
        if ratio is not None:
            lines.append(f"**{run.label}** at step {step}: {verdict(ratio)}.")
    if any(not r.net.batch_norm for r in runs):
        lines.append("Without batch norm nothing rescales the signal: in a deep plain network the "
                     "gradient really vanishes on its way back, and the skip connections of a "
                     "residual network carry it to the first layers.")
    if any(r.net.batch_norm and not r.net.residual for r in runs):
        lines.append("With batch norm the plain network's gradients reach the first layers at a "
                     "healthy size, yet a deeper plain network still ends with a higher training "
                     "error: that is the paper's degradation problem, an optimisation "
                     "difficulty, not vanishing gradients.")
    return lines
