"""Train: up to four networks at once, live, in a worker thread."""

import streamlit as st

from resviz.budget import OverBudget
from resviz.presets import PRESETS
from resviz.questions import on_train
from resviz.ui import history_view, questions_view, state, train_view
from resviz.ui.sidebar import current

settings = current()
work = state.work()
busy = work.busy

st.title("Train plain and residual networks")
if note := state.session_note():
    st.warning(note)
# The current run first: after a click on Run, its progress and curves are where the eye is.
train_view.live(work, settings.classroom)
if settings.classroom:
    train_view.invite(settings, work)
st.write(
    "Each configuration trains on the same data in the same order from the same seed; "
    "only the architecture differs. Training error is thin, validation error bold."
)
specs = train_view.preset_buttons(settings, busy) or train_view.linked(settings, work)
if busy:
    st.caption("A run is in progress: a new one can start when it ends or is stopped.")
if problem := train_view.dataset_problem(settings.dataset):
    st.warning(problem)
    specs = None  # a teacher's link too: its runs would only fail
with st.expander("What else the presets measured, and what they scale down from the paper"):
    for p in PRESETS.values():
        st.markdown(f"**{p.title}.** {p.details} {p.scaled_down}")
if not settings.classroom:
    with st.expander("Your own configurations", expanded=False):
        specs = train_view.custom_form(settings, busy) or specs
if specs:
    try:
        work.start(specs)
        st.rerun()  # drawn again with the buttons off: a click on them now would be lost
    except OverBudget as err:  # refused before it starts; the current run and history stay
        st.error(str(err))
questions_view.ask(on_train(history_view.history(work)))
