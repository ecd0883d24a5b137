"""Inside the network: first-layer filters, feature maps, what channels respond to, attributions."""

import streamlit as st

from resviz.ui import inside_pick, inside_view, sidebar, state

settings = sidebar.current()
work = state.work()
st.title("Inside the network")
st.markdown(
    "What has a trained network learned? Its first layer looks for **edges and colours**, "
    "middle layers combine them into **corners and shapes**, the last layers respond to "
    "**whole classes**. Start with a network trained in advance, or pick one you trained, "
    "then look layer by layer, and ask which pixels made it decide."
)
picked = inside_pick.pick(settings, work)
if picked is None:
    st.stop()
st.header("First-layer filters: edges and colours")
inside_view.filters(picked)
st.header("Feature maps of one image")
inside_view.maps(picked)
st.header("What a channel responds to")
inside_view.channels(picked, settings.classroom)
st.header("Why this answer? Attributions")
inside_view.attributions(picked, settings.classroom)
st.header("Which layer knows the class?")
inside_view.readouts(picked)
