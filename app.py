"""ResViz: the router. Page config, the shared sidebar, and the pages in the lesson's order."""
import os

# Before torch loads: OpenMP threads that sleep instead of spinning when idle. The app runs torch
# in the script thread (a page's figure) and in a training worker at once; spinning teams on a
# 2-core host made a one-image forward pass 10x slower (scripts/ measurements, README).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import streamlit as st  # noqa: E402

from resviz.ui.sidebar import sidebar  # noqa: E402

# Each url_path differs from its file's stem: a deep link to a freshly started server then runs
# through this router instead of Streamlit's legacy pages/ mode (see NOTES.md).
PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/school:", default=True),
    st.Page("pages/convolutions.py", title="Convolutions", icon=":material/grid_on:",
            url_path="conv"),
    st.Page("pages/residual_block.py", title="Residual block", icon=":material/add_circle:",
            url_path="block"),
    st.Page("pages/build.py", title="Build", icon=":material/construction:", url_path="builder"),
    st.Page("pages/train.py", title="Train", icon=":material/play_circle:", url_path="training"),
    st.Page("pages/gradient_flow.py", title="Gradient flow", icon=":material/insights:",
            url_path="gradients"),
    st.Page("pages/inside.py", title="Inside the network", icon=":material/visibility:",
            url_path="look-inside"),
    st.Page("pages/experiments.py", title="Experiments", icon=":material/science:",
            url_path="sweeps"),
]


def main() -> None:
    st.set_page_config(page_title="ResViz: residual networks, live", page_icon=":material/hub:",
                       layout="wide")
    page = st.navigation(PAGES)
    sidebar()
    page.run()


main()
