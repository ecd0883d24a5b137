"""Experiments: the paper's claims at scale, from reference runs or the learner's own sweep."""

import streamlit as st

from resviz.questions import on_experiments
from resviz.ui import experiments_view, questions_view, state

work = state.work()
st.title("Experiments")
st.write(
    "Does a deeper plain network train worse, and a deeper ResNet not? The paper's Fig. 6 "
    "answers with 20- to 110-layer networks on CIFAR-10. The reference runs here are "
    "networks of the same design at a smaller width, trained on small offline datasets by "
    "ResViz's own sweep (how, in the expander below); the paper's numbers are beside them."
)
runs, source = experiments_view.choose(work)
held_out = experiments_view.validation_images(runs)
shown = experiments_view.figures(runs, source, held_out)
experiments_view.paper_tables(shown, held_out)
questions_view.ask(on_experiments(shown, held_out))
experiments_view.landscapes(work)
experiments_view.shattered()
