"""Guided questions on a lesson page: each question, and its answer from the runs on request."""

from __future__ import annotations

import streamlit as st

from ..claims import HELP
from ..questions import Question


def ask(found: list[Question]) -> None:
    """The questions under a heading, each answer folded until the learner opens it."""
    if not found:
        return
    st.subheader("Questions about these runs")
    st.caption("Look at the charts above first; each answer is computed from the same runs.")
    for n, q in enumerate(found, 1):
        st.markdown(f"**{n}.** {q.text}")
        with st.expander("Show the answer"):
            for line in q.answer:
                st.markdown(line, help=HELP)
