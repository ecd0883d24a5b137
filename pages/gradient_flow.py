"""Gradient flow: per-layer gradient and activation statistics of this session's runs."""

import streamlit as st

from resviz.questions import on_gradient_flow
from resviz.ui import gradient_view, nav, questions_view, state

work = state.work()
st.title("Gradient flow")
st.write(
    "How large is the gradient each layer receives, and how does it change while training? "
    "Gradients are shown per element (root mean square), so layers of different sizes "
    "compare. Log scales: one grid line is a factor of 10."
)
runs = gradient_view.session_runs(work)
if not runs:
    st.info(
        "No runs yet. Train a preset first (**Degradation**, or **Vanishing gradients**): "
        "this page then says, from each run's own numbers, whether its gradient vanishes, "
        "explodes or stays healthy, and at which step."
    )
    st.page_link(nav.page("train.py"), label="Go to Train", icon=":material/play_circle:")
    st.stop()
picked = gradient_view.choose(runs)
if picked:
    chosen, step, steps = picked
    gradient_view.profiles(chosen, step, steps)
    st.subheader("Layers x steps")
    gradient_view.heatmaps(chosen)
    questions_view.ask(on_gradient_flow(chosen, step, steps))
