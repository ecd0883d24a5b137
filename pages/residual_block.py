"""Residual block: x, F(x) and F(x) + x on a real image; gradient magnitude against depth."""

import streamlit as st

from resviz import block_wiring, claims, lesson_residual_block
from resviz.config import SHORTCUTS
from resviz.plots import block_diagram, lessons
from resviz.ui import block_view, sidebar, state

settings = sidebar.current()
st.title("The residual block")
st.markdown(
    "A residual block does not learn its output directly: its branch learns a "
    "**residual F(x)** and the block adds its input back, **y = ReLU(F(x) + x)** "
    "(He et al. 2016, Eq. 1). If the best thing a block can do is nothing, F(x) = 0 is "
    "easy to learn."
)

name, data = state.usable_dataset(settings.dataset)

st.header("One block on a real image")
left, right = st.columns(2, vertical_alignment="bottom")
skip = left.toggle(
    "Skip connection",
    value=True,
    key="block_skip",
    help="On: the block outputs ReLU(F(x) + x). Off: ReLU(F(x)), same weights.",
)
index = (
    0
    if settings.classroom
    else right.number_input(
        f"Image number (0 to {len(data.x_train) - 1:,})",
        0,
        len(data.x_train) - 1,
        0,
        key="block_index",
    )
)
maps = lesson_residual_block.block_maps(data.x_train[index], skip=skip)
output = "ReLU(F(x) + x)" if skip else "ReLU(F(x))"
st.plotly_chart(
    lessons.block_maps(
        {"x": maps.x, "F(x)": maps.branch, output: maps.out},
        height_per_row=180 if settings.classroom else 150,
    ),
    key="block_maps",
    config={"displayModeBar": False},
)
st.caption(
    f"A freshly initialised block (He initialisation, seed 0) after a 3x3 stem: "
    f"{len(maps.x)} of its {maps.width} channels of the input x, the branch F(x) and "
    f"the block's output {output}, all on one colour scale (red positive, blue negative)."
    + ("" if skip else " Without the skip the output is the branch alone.")
)
st.markdown(
    f"**Parameters of the block: {maps.params_with_skip:,} with the skip, "
    f"{maps.params_without_skip:,} without.** The identity shortcut only adds x to F(x): "
    f"it has nothing to learn, so plain and residual networks of one depth have the same "
    f"weights."
)

st.subheader("How the block is wired")
diagram_col, text_col = st.columns([2, 3])
with text_col:
    st.markdown(
        "The branch F(x) is conv, batch norm, ReLU, conv, batch norm; the skip carries x "
        "around it to the addition, and a last ReLU follows (He et al. 2016, Fig. 2). "
        "Each arrow is labelled with the shape of the tensor it carries."
    )
    stage = st.radio(
        "Block drawn",
        list(block_wiring.STAGES),
        format_func=block_wiring.STAGES.get,
        key="block_stage",
    )
    shortcut = st.radio(
        "Shortcut where the shape changes",
        SHORTCUTS,
        format_func={"A": "A: zero channels", "B": "B: 1x1 projection"}.get,
        key="block_shortcut",
        horizontal=True,
        disabled=stage == 1 or not skip,
    )
    drawn = block_view.wiring(tuple(data.x_train.shape[1:]), stage, skip, shortcut)
    st.caption(block_wiring.caption(drawn))
diagram_col.plotly_chart(
    block_diagram.wiring_figure(drawn), key="block_wiring", config={"displayModeBar": False}
)

st.header("Gradient magnitude against depth, at initialisation", help=claims.HELP)
depth = st.columns([1, 2])[0].selectbox(
    "Depth (layers)",
    lesson_residual_block.DEPTHS,
    index=lesson_residual_block.DEPTHS.index(56),
    key="block_depth",
)
result = block_view.profile(name, depth)
st.plotly_chart(
    lessons.gradient_vs_depth(result.curves, 520 if settings.classroom else 420),
    key="block_grad_depth",
)
st.caption(
    f"The gradient of the loss with respect to each block's input, per element (its root "
    f"mean square), for one batch of {result.batch} training images through freshly "
    f"initialised networks (width {result.width}, seed 0); plain blue, ResNet orange, "
    f"without batch norm dashed, as on every page."
)
settled = None
if lesson_residual_block.plain_explodes(result):
    with st.spinner(
        f"Training plain-{depth} for a few steps to see what that does to its gradient..."
    ):
        settled = block_view.settling(name, depth)
for sentence in lesson_residual_block.findings(result, settled):
    st.markdown(sentence)
