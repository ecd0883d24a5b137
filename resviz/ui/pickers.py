"""Picking runs by name: a selection that keeps naming the same runs when new ones arrive."""

from __future__ import annotations

import streamlit as st

from ..runs import Run


def run_names(runs: list[Run]) -> list[str]:
    """Each run's name in a picker: when it was made, what it is, how it ended; a second run
    of one name (one network twice in a job) numbered."""
    seen: dict[str, int] = {}
    out = []
    for run in runs:
        name = f"{run.created} · {run.label} · {run.status}"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return out


def pick_runs(
    label: str, runs: list[Run], key: str, newest: int, most: int | None = None
) -> list[int]:
    """The positions in `runs` (newest first) of the runs picked, in that order.

    Picked by name, not list position: a position named the previous job's runs once a new
    job's came first. A new run picks the newest `newest` again; a run gone is dropped.
    """
    names = run_names(runs)
    before = st.session_state.get(f"{key}_names", [])
    if key not in st.session_state or any(n not in before for n in names):
        st.session_state[key] = names[:newest]
    elif before != names:
        st.session_state[key] = [n for n in st.session_state[key] if n in names]
    st.session_state[f"{key}_names"] = names
    chosen = st.multiselect(label, names, key=key, max_selections=most)
    return sorted(names.index(n) for n in chosen)
