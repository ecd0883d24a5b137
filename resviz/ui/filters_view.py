"""First-layer filters as two plain images, at initialisation and after training.

Plain images show with the page's text; a plotly figure waits for the browser to load plotly's
4.7 MB script, which put the Inside page's first figure seconds after its title on a busy host
(docs/PERFORMANCE.md, `python -m scripts.bench_inside --browser 3`).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ..plots import inside as plots


def pair(before: np.ndarray, after: np.ndarray, titles: tuple[str, str]) -> None:
    """Kernels (K, C, k, k) before and after, side by side, each under its title."""
    for column, weights, title in zip(st.columns(2), (before, after), titles):
        column.markdown(f"**{title}**")
        column.image(plots.png(plots.filter_grid(weights)))  # a data URI: crisp, no extra fetch
