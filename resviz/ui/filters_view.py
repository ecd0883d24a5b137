"""First-layer filters as two plain images, at initialisation and after training, with their
edge fit.

Plain images show with the page's text; a plotly figure waits for the browser to load plotly's
4.7 MB script, which put the Inside page's first figure seconds after its title on a busy host
(docs/PERFORMANCE.md, `python -m scripts.bench_inside --browser 3`).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from .. import features
from ..plots import inside as plots


def show(
    before: np.ndarray, after: np.ndarray, trained: str, note: str = "", width: int = 210
) -> None:
    """Kernels (K, C, k, k) before and after training (`trained` says on what), side by side,
    each grid about `width` px wide (in the first screen at 1280x800 for a 3x3 grid), and a
    caption of measured edge fits; `note` says what to look for."""
    fit0, fit1 = (features.edge_fit(w) for w in (before, after))
    k = after.shape[-1]
    titles = (
        f"at initialisation · edge fit {fit0.mean():.2f}",
        f"{trained} · edge fit {fit1.mean():.2f}",
    )
    for column, weights, title in zip(st.columns(2), (before, after), titles):
        column.markdown(f"**{title}**")
        column.image(
            plots.png(plots.filter_grid(weights, width))
        )  # a data URI: crisp, no extra fetch
    scheme = (
        "grey = 0, each colour its weight"
        if after.shape[1] == 3
        else "red: wants light, blue: wants dark"
    )
    st.caption(
        f"Each square is one {k}x{k} kernel of the first layer ({len(after)} in all), scaled "
        f"by its own largest weight ({scheme}). {note}**Edge fit** is the share of a kernel a "
        f"tilted plane explains (an oriented edge or colour ramp): mean {fit0.mean():.2f} at "
        f"initialisation (random kernels: {2 / (k * k - 1):.2f}), {fit1.mean():.2f} "
        f"{trained}; {(fit1 > fit0.max()).sum()} of {len(fit1)} trained kernels beat every "
        "initial one."
    )
