"""Widget keys carry their page's prefix, so two pages never share a widget's state by accident
(the sidebar's, drawn on every page, are shared on purpose)."""

import pytest

from resviz.runs import save
from tests import claims_grid

PREFIX = {
    "pages/home.py": "home_",
    "pages/convolutions.py": "conv_",
    "pages/residual_block.py": "block_",
    "pages/build.py": "build_",
    "pages/train.py": "train_",
    "pages/gradient_flow.py": "grad_",
    "pages/inside.py": "inside_",
    "pages/experiments.py": "exp_",
}
KINDS = (
    "button",
    "checkbox",
    "multiselect",
    "number_input",
    "radio",
    "select_slider",
    "selectbox",
    "slider",
    "text_input",
    "toggle",
)


@pytest.mark.slow  # eight page renders: the fast tier renders each page already
@pytest.mark.parametrize("page", PREFIX)
def test_every_widget_key_on_a_page_carries_its_prefix(open_page, page):
    at = open_page(page)
    save(claims_grid.runs()[0], at.session_state["work"].folder, "probed")
    at.run()  # with a probed run: the pickers of pages that need one are drawn too
    keys = [w.key for kind in KINDS for w in getattr(at.main, kind) if w.key is not None]
    assert keys and [k for k in keys if not k.startswith(PREFIX[page])] == []
