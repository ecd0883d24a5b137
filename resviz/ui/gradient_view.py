"""The Gradient flow page's parts: which runs, which step, and the three figures."""
from __future__ import annotations

import streamlit as st

from ..gradients import PROBES, explain, matrix, probe_steps
from ..plots.gradients import heatmap, profile
from ..runs import Run
from .state import SessionWork


def session_runs(work: SessionWork) -> list[Run]:
    """The current job's runs (live, possibly still training), then the finished ones."""
    live = work.job.snapshot().runs if work.job is not None and work.job.active else []
    return [r for r in live + work.history() if any(rec.get("block_grad_norms")
                                                    for rec in r.records)]


def choose(runs: list[Run]) -> tuple[list[Run], int] | None:
    """Pick runs (defaults: the newest four) and a probed step they all share."""
    labels = [f"{r.label} · {r.created} · {r.status}" for r in runs]
    picked = st.multiselect("Runs", range(len(runs)), default=list(range(min(4, len(runs)))),
                            format_func=labels.__getitem__, key="grad_runs")
    chosen = [runs[i] for i in picked]
    steps = probe_steps(chosen)
    if not steps:
        st.info("Pick at least one run to see its gradients.")
        return None
    step = steps[-1] if len(steps) == 1 else st.select_slider(
        "Training step", steps, value=steps[-1], key="grad_step")
    return chosen, step


def profiles(chosen: list[Run], step: int) -> None:
    for key, log in (("block_grad_norms", True), ("grad_norms", True), ("act_std", False)):
        data = [(r.label, m.layers, m.at(step)) for r in chosen
                if step in (m := matrix(r, key)).steps]
        st.markdown(f"**{PROBES[key]}** at step {step}")
        if key == "block_grad_norms":
            for line in explain(chosen, step):
                st.markdown(line)
        if key == "act_std":
            st.caption("The paper's Fig. 7: residual functions respond more weakly than plain "
                       "layers, so each block only nudges its input.")
        st.plotly_chart(profile(data, PROBES[key].split(",")[0], log=log), key=f"profile-{key}")


def heatmaps(chosen: list[Run]) -> None:
    run = chosen[st.selectbox("Run", range(len(chosen)), format_func=lambda i: chosen[i].label,
                              key="heat_run")]
    key = st.radio("Signal", list(PROBES), format_func=PROBES.get, key="heat_key",
                   horizontal=True)
    st.plotly_chart(heatmap(matrix(run, key), f"{run.label}: {PROBES[key]}"), key="heatmap")
