"""Build: choose a network; see it as a diagram, as a layer table, and beside the paper's four."""

import streamlit as st

from resviz import architecture, summary
from resviz.plots import network
from resviz.ui import build_form, query
from resviz.ui.sidebar import current

settings = current()
st.title("Build a network")
st.markdown(
    "Choose a network and see every layer it has. Each arc is a **skip connection**: "
    "the block's input jumps past its two convolutions and is added to their output."
)
cfg = build_form.net_form(settings)
query.write(cfg)
size = build_form.image_size(settings)
arch = build_form.architecture_of(cfg, size)

st.subheader(f"{arch.label}, drawn layer by layer")
unfolded = build_form.fold_picker(arch)
st.plotly_chart(
    network.diagram(arch, unfolded, big=settings.classroom),
    key="build_diagram",
    config={"displayModeBar": False},
)

st.subheader("What it costs")
params, macs, skips = st.columns(3)
params.metric(
    "Parameters",
    build_form.compact(arch.params),
    help=f"{arch.params:,} parameters: every number the network learns",
)
macs.metric(
    "Multiply-adds",
    build_form.compact(arch.macs),
    help=f"{arch.macs:,} multiply-adds for one image through the network",
)
skips.metric("Skip connections", len(arch.skips))
st.caption(build_form.param_note(cfg))
build_form.train_offer(cfg, settings)
st.dataframe(
    summary.table(arch.rows),
    hide_index=True,
    key="build_table",
    column_config=build_form.numbers(["parameters", "multiply-adds"]),
)

st.subheader("The paper's four networks")
st.markdown(
    f"plain-18, ResNet-18, plain-34 and ResNet-34 (He et al. 2016: Table 1 defines "
    f"them, Figure 3 draws the 34-layer pair, Table 2 gives their ImageNet errors), "
    f"sized for {size}×{size} images with {cfg.width} channels in stage 1."
)
archs, side_by_side = build_form.paper_networks(cfg, size)
st.dataframe(side_by_side, key="build_paper_table", column_config=build_form.numbers(side_by_side))
st.caption(architecture.comparison_note(side_by_side))
st.plotly_chart(
    network.paper_figure(archs, big=settings.classroom),
    key="build_paper",
    config={"displayModeBar": False},
)
