"""Home: the lesson in five steps, and one click to a preset."""

import streamlit as st

from resviz.budget import OverBudget
from resviz.claims import HELP, holds
from resviz.comparisons import fit_claims
from resviz.ui import nav, state, train_view
from resviz.ui.sidebar import current

STEPS = [
    (
        "convolutions.py",
        "The building block",
        "Convolution, activation, max pooling: AlexNet won ImageNet 2012 with five convolutions "
        "and three max-pooling layers.",
    ),
    (
        "residual_block.py",
        "The residual block",
        "Add the input back: F(x) + x. The skip connection has no parameters, and the gradient "
        "flows through it.",
    ),
    (
        "build.py",
        "Build a network",
        "Plain or residual, 8 to 110 layers: see its shape, parameters and every skip connection.",
    ),
    (
        "train.py",
        "Train and compare",
        "Stacking more layers helps until it hurts: in the paper deeper plain networks train "
        "worse and deeper residual networks better. Train them and see what yours do.",
    ),
    (
        "gradient_flow.py",
        "Look at the gradients",
        "Does each layer's gradient vanish, explode or stay healthy? Judged from your runs' own "
        "numbers, step by step.",
    ),
]

settings = current()
st.title("Why residual networks work")
st.write(
    "A hands-on version of *Deep Residual Learning for Image Recognition* (He et al., 2016). "
    "Everything here is computed as you watch, on real data."
)
for i, (page, title, text) in enumerate(STEPS, 1):
    c1, c2 = st.columns([2, 3], vertical_alignment="center")  # room for the link at 1024 px
    c1.page_link(nav.page(page), label=f"{i}. {title}")
    c2.write(text)

work = state.work()
st.subheader("Not overfitting, not vanishing gradients")
st.markdown(
    "Many tutorials (the one this app grew from among them) say that deep networks fail "
    "because they overfit, and that residual blocks cure vanishing gradients. The paper "
    "shows something else: a deeper plain network ends with a higher **training** error "
    "than a shallower one, so it fails to fit its data, which overfitting cannot "
    "explain; and with batch norm its gradients do not vanish (the paper checked their "
    "norms). Deeper plain networks are harder to optimise: that is *degradation*, and "
    "the skip connections ease it.",
    help=HELP,
)
evidence = [c.sentence for c in fit_claims(work.history()) if holds(c)]
for sentence in evidence:
    st.markdown(f"In your own runs: {sentence}")
if not evidence:
    st.markdown(
        "Run the **Degradation** preset below to see it in your own numbers: when its "
        "runs finish, the Train page says what they show."
    )

st.subheader("One click: a classroom experiment")
if note := state.session_note():
    st.warning(note)
busy = work.busy
specs = train_view.preset_buttons(settings, busy, page="home")
if problem := train_view.dataset_problem(settings.dataset):
    st.warning(problem)
if specs:
    try:
        work.start(specs)
        st.switch_page(nav.page("train.py"))
    except OverBudget as err:  # refused before it starts: nothing else changes
        st.error(str(err))
if busy:
    st.caption("A run is in progress: see it on the Train page.")
