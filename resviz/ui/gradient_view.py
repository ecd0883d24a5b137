"""The Gradient flow page's parts: which runs, which step, the figures and what they show."""

from __future__ import annotations

import streamlit as st

from .. import claims, comparisons
from ..gradients import probe_steps, rms_matrix
from ..plots.gradients import heatmap, profile
from ..plots.styles import run_style
from ..runs import Run
from ..schema import PROBES
from ..session import SessionWork
from .pickers import pick_runs

STEP_KEY = "grad_step"


def session_runs(work: SessionWork) -> list[Run]:
    """The current job's runs (live, possibly still training), then the finished ones."""
    live = work.job.snapshot().runs if work.job is not None and work.job.active else []
    return [
        r for r in live + work.history() if any(rec.get("block_grad_norms") for rec in r.records)
    ]


def choose(runs: list[Run]) -> tuple[list[Run], int, list[int]] | None:
    """Pick runs (defaults: the newest four) and a probed step they all share."""
    chosen = [runs[i] for i in pick_runs("Runs", runs, "grad_runs", newest=4)]
    steps = probe_steps(chosen)
    if not steps:
        st.info("Pick at least one run to see its gradients.")
        return None
    if st.session_state.get(STEP_KEY) not in steps:
        st.session_state[STEP_KEY] = steps[-1]
    step = (
        steps[-1]
        if len(steps) == 1
        else st.select_slider(
            "Training step",
            steps,
            key=STEP_KEY,
            help="The step whose gradients are drawn and judged. Step 1 is the network as "
            "initialised: each step's probe is taken before that step's update.",
        )
    )
    return chosen, step, steps


def _jump(step: int) -> None:
    st.session_state[STEP_KEY] = step


def _verdicts(chosen: list[Run], step: int, key: str) -> None:
    for run in chosen:
        if rms_matrix(run, key) is None:
            st.markdown(
                f"**{run.label}**: ResViz does not know the images of its dataset "
                f"({run.train.dataset}), so it cannot put its gradients per element."
            )
        elif verdict := claims.gradient_claim(run, step, key):
            st.markdown(verdict.sentence)


def _elsewhere(chosen: list[Run], step: int, steps: list[int]) -> None:
    """Where a run's gradient is furthest from healthy at another probed step: say so, offer it."""
    for run in chosen:
        here, far = claims.gradient_claim(run, step), claims.strongest(run)
        if here is None or far is None or far.step == step or far.step not in steps:
            continue
        if far.kind == here.kind and claims.spread(far) < 2 * claims.spread(here):
            continue
        text, button = st.columns([4, 1], vertical_alignment="center")
        text.markdown(
            f"{run.label}'s gradient is furthest from healthy at step {far.step}: "
            f"{far.kind.value.replace('-', ' ')}, {claims.factor(claims.spread(far))}x "
            f"from its largest to its smallest block."
        )
        button.button(
            f"Show step {far.step}",
            key=f"grad_jump_{run.label}_{far.step}",
            on_click=_jump,
            args=(far.step,),
        )


def profiles(chosen: list[Run], step: int, steps: list[int]) -> None:
    for key, log in (("block_grad_norms", True), ("grad_norms", True), ("act_std", False)):
        data = [
            (r.label, m.layers, m.at(step), run_style(r.net))
            for r in chosen
            if (m := rms_matrix(r, key)) is not None and step in m.steps
        ]
        st.markdown(f"**{PROBES[key]}** at step {step}", help=claims.HELP)
        if key == "act_std":
            for line in comparisons.say_responses(chosen, step):
                st.caption(line)
        else:
            _verdicts(chosen, step, key)
        if key == "block_grad_norms":
            _elsewhere(chosen, step, steps)
            for line in claims.say(comparisons.diagnosis_claims(chosen, step)):
                st.markdown(line)
        st.plotly_chart(
            profile(data, PROBES[key].split(",")[0], log=log), key=f"grad_profile_{key}"
        )


def heatmaps(chosen: list[Run]) -> None:
    run = chosen[
        st.selectbox(
            "Run", range(len(chosen)), format_func=lambda i: chosen[i].label, key="grad_heat_run"
        )
    ]
    key = st.radio(
        "Signal", list(PROBES), format_func=PROBES.get, key="grad_heat_signal", horizontal=True
    )
    m = rms_matrix(run, key)
    if m is None:
        st.info(
            f"ResViz does not know the images of {run.train.dataset}, so it cannot put "
            f"this run's gradients per element."
        )
        return
    st.plotly_chart(heatmap(m, f"{run.label}: {PROBES[key]}"), key="grad_heatmap")
