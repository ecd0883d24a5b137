"""ResViz: the router. Page config, the shared sidebar, and the pages in the lesson's order."""

import os

# Before torch loads: OpenMP threads that sleep instead of spinning when idle, because the app runs
# torch in the script thread (a page's figure) and in a training worker at once, and spinning
# teams starve one another (docs/PERFORMANCE.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import streamlit as st  # noqa: E402

from resviz.ui.nav import pages  # noqa: E402
from resviz.ui.sidebar import sidebar  # noqa: E402


def main() -> None:
    st.set_page_config(
        page_title="ResViz: residual networks, live", page_icon=":material/hub:", layout="wide"
    )
    page = st.navigation(pages())
    sidebar()
    page.run()


main()
