"""Home: the lesson in five steps, and one click to a preset."""
import streamlit as st

from resviz.budget import OverBudget
from resviz.ui import state, train_view
from resviz.ui.sidebar import current

STEPS = [
    ("pages/convolutions.py", "The building block",
     "Convolution, activation, max pooling: what AlexNet stacked five times to win ImageNet 2012."),
    ("pages/residual_block.py", "The residual block",
     "Add the input back: F(x) + x. The skip connection has no parameters, and the gradient "
     "flows through it."),
    ("pages/build.py", "Build a network",
     "Plain or residual, 8 to 110 layers: see its shape, parameters and every skip connection."),
    ("pages/train.py", "Train and compare",
     "Stacking more layers helps until it hurts: deeper plain networks train worse, deeper "
     "residual networks do not. Watch it happen, live."),
    ("pages/gradient_flow.py", "Look at the gradients",
     "Without batch norm deep plain gradients vanish; with it they look healthy and the plain "
     "network still degrades."),
]

settings = current()
st.title("Why residual networks work")
st.write("A hands-on version of *Deep Residual Learning for Image Recognition* (He et al., 2016). "
         "Everything here is computed as you watch, on real data.")
for i, (page, title, text) in enumerate(STEPS, 1):
    c1, c2 = st.columns([2, 3], vertical_alignment="center")  # room for the link at 1024 px
    c1.page_link(page, label=f"{i}. {title}")
    c2.write(text)

st.subheader("One click: a classroom experiment")
work = state.work()
if note := state.session_note():
    st.warning(note)
busy = work.busy
specs = train_view.preset_buttons(settings, busy, key="home")
if specs:
    try:
        work.start(specs)
        st.switch_page("pages/train.py")
    except OverBudget as err:  # refused before it starts: nothing else changes
        st.error(str(err))
if busy:
    st.caption("A run is in progress: see it on the Train page.")
