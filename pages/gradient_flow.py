"""Gradient flow: per-layer gradient and activation statistics of this session's runs."""
import streamlit as st

from resviz.ui import gradient_view, state

work = state.work()
work.collect()
st.title("Gradient flow")
st.write("How large is the gradient each layer receives, and how does it change while training? "
         "Log scales: one grid line is a factor of 10.")
runs = gradient_view.session_runs(work)
if not runs:
    st.info("No runs yet. Train a preset first: **Vanishing gradients** (no batch norm) shows "
            "gradients that really vanish, **Degradation** (with batch norm) shows healthy "
            "gradients in a plain network that still trains worse.")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/play_circle:")
    st.stop()
picked = gradient_view.choose(runs)
if picked:
    chosen, step = picked
    gradient_view.profiles(chosen, step)
    st.subheader("Layers x steps")
    gradient_view.heatmaps(chosen)
