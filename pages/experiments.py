"""Experiments: the paper's claims at scale, from reference runs or the learner's own sweep."""
import streamlit as st

from resviz.ui import experiments_view, state

work = state.work()
work.collect()
st.title("Experiments")
st.write("Does a deeper plain network train worse, and a deeper ResNet not? The paper's Fig. 6 "
         "answers with 20- to 110-layer networks on CIFAR-10. Here are the same networks, "
         "trained by ResViz's own sweep, and the paper's numbers beside them.")
runs, source = experiments_view.choose(work)
experiments_view.figures(runs, source)
experiments_view.paper_tables()
experiments_view.landscapes(work)
experiments_view.shattered()
