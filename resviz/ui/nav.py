"""The app's pages, in the lesson's order, as `st.Page` objects from absolute paths.

Streamlit resolves a page's path string against the main script's folder, which is the
repository root for `app.py` but `cloud/` for Community Cloud's entrypoint; st.navigation,
st.page_link and st.switch_page all take these objects instead, so every entrypoint finds the
same pages. st.Page needs a running script, so they are built when asked for.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage

PAGES_DIR = Path(__file__).resolve().parents[2] / "pages"

# Each url_path differs from its file's stem: a deep link to a freshly started server then runs
# through the router instead of Streamlit's legacy pages/ folder mode, which every server starts
# in until some session has run the router (README, Known limitations).
_PAGES = {  # file -> title, icon, url_path (None: the default page, at the site's root)
    "home.py": ("Home", ":material/school:", None),
    "convolutions.py": ("Convolutions", ":material/grid_on:", "conv"),
    "residual_block.py": ("Residual block", ":material/add_circle:", "block"),
    "build.py": ("Build", ":material/construction:", "builder"),
    "train.py": ("Train", ":material/play_circle:", "training"),
    "gradient_flow.py": ("Gradient flow", ":material/insights:", "gradients"),
    "inside.py": ("Inside the network", ":material/visibility:", "look-inside"),
    "experiments.py": ("Experiments", ":material/science:", "sweeps"),
}


def page(file: str) -> StreamlitPage:
    """The page of `pages/<file>`, e.g. page("train.py"), for st.page_link and st.switch_page."""
    title, icon, url_path = _PAGES[file]
    return st.Page(
        PAGES_DIR / file, title=title, icon=icon, url_path=url_path, default=url_path is None
    )


def pages() -> list[StreamlitPage]:
    """Every page, in the lesson's order, for st.navigation."""
    return [page(file) for file in _PAGES]
