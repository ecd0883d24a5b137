"""The shared sidebar: dataset, device in use, classroom mode; and the session in the address."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from .. import data as datasets
from .query import CLASSROOM_KEY
from .state import runtime, work

# Streamlit sizes text in rem: a larger root font scales every element, metrics included. Its
# page margins are in rem too (5rem a side: 210 of a projector's 1024 px at 21 px), so they
# shrink to 1.5rem and the tables and figures keep the width.
CLASSROOM_CSS = (
    "<style>html { font-size: 21px; } "
    "[data-testid='stMainBlockContainer'] { padding: 3rem 1.5rem 4rem; }</style>"
)
# The sidebar's keys carry no page's prefix: it is drawn on every page, and what it holds (the
# dataset, the classroom mode, like the session's work) is the same on all of them.
CLASSROOM = "classroom"  # the session's mode; the toggle only shows and changes it
_TOGGLE = "classroom_toggle"
_DATASET = "dataset"
_SETTINGS = "sidebar_settings"  # this script run's Settings, for the page the router runs next


@dataclass(frozen=True)
class Settings:
    dataset: str
    classroom: bool


def sidebar() -> Settings:
    """Draw the sidebar and return what it selects.

    The router calls it before every page, so every page puts `?session=` back in the address
    (Streamlit clears a page's query parameters when another page opens): a reload anywhere
    keeps the session's runs and its job.
    """
    work()
    rt = runtime()
    names = list(datasets.DATASETS)
    with st.sidebar:
        name = st.selectbox(
            "Dataset",
            names,
            key=_DATASET,
            format_func=lambda n: datasets.DATASETS[n].title,
            help="MNIST-5k and Shapes work offline; the others download once.",
        )
        classroom = _classroom_toggle()
        st.caption(
            f"Running on **{rt.device}**, training in {rt.precision}"
            + (f" · {rt.slots} networks train at once" if rt.slots > 1 else "")
        )
        if rt.problem:
            st.warning(rt.problem)
    if classroom:
        st.markdown(CLASSROOM_CSS, unsafe_allow_html=True)
        # A projector's 1024 px cannot spare 300 of them: the sidebar opens on request.
        st.set_page_config(initial_sidebar_state="collapsed")
    if classroom != (st.query_params.get(CLASSROOM_KEY) == "1"):
        if classroom:
            st.query_params[CLASSROOM_KEY] = "1"
        else:
            del st.query_params[CLASSROOM_KEY]
    settings = st.session_state[_SETTINGS] = Settings(dataset=name, classroom=classroom)
    return settings


def _classroom_toggle() -> bool:
    """The classroom switch. The mode lives in its own state (CLASSROOM), not in the toggle's
    key: Streamlit 1.67 dropped the toggle's key from the session at st.switch_page, so the
    Train page that Home's preset opens came up in normal mode; a plain key is kept. A session
    starts from the URL's `?classroom=1`, which the sidebar keeps in the address."""
    state = st.session_state
    if CLASSROOM not in state:
        state[CLASSROOM] = st.query_params.get(CLASSROOM_KEY) == "1"
    state[_TOGGLE] = state[CLASSROOM]
    st.toggle(
        "Classroom mode",
        key=_TOGGLE,
        on_change=lambda: state.update({CLASSROOM: state[_TOGGLE]}),
        help="Larger text, fewer controls, presets first, the sidebar folded: for a projector.",
    )
    return state[CLASSROOM]


def current() -> Settings:
    """What the sidebar selected in this script run (the router draws it before every page)."""
    return st.session_state[_SETTINGS]
