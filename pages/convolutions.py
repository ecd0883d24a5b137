"""Convolutions: the CNN building block on a real image, then AlexNet's layer table."""

import numpy as np
import streamlit as st

from resviz import lesson_convolutions, sliding, summary
from resviz.plots import lessons
from resviz.plots import sliding as plots_sliding
from resviz.summary import LayerRow
from resviz.ui import sidebar, state
from resviz.uploads import EXTENSIONS, MAX_BYTES, UploadError, read_image

KERNEL_KEYS = [f"conv_kernel_{i}" for i in range(9)]  # row-major 3x3


EDITED = "Edited by hand"  # what the preset box says once the weights are no preset's


def fill_kernel() -> None:
    """Preset select -> the nine weight inputs (runs before the script, as a callback)."""
    if st.session_state.conv_preset != EDITED:
        weights = np.ravel(lesson_convolutions.PRESETS[st.session_state.conv_preset])
        st.session_state.update(zip(KERNEL_KEYS, map(float, weights)))


def name_kernel() -> None:
    """A weight edited -> the preset box names the preset the nine weights now are, if any."""
    weights = [st.session_state[k] for k in KERNEL_KEYS]
    st.session_state.conv_preset = next(
        (
            name
            for name, w in lesson_convolutions.PRESETS.items()
            if np.ravel(w).tolist() == weights
        ),
        EDITED,
    )


@st.cache_data(show_spinner=False)
def alexnet() -> list[LayerRow]:
    return lesson_convolutions.alexnet_layers()  # the same for everyone: built once per server


settings = sidebar.current()
st.title("Convolutions")
st.markdown(
    "A convolution slides a small grid of weights (the **kernel**) over the image; each "
    "output pixel is the weighted sum of the 3x3 patch under it. A CNN stacks "
    "convolution, **ReLU** and **max pooling**, and learns the kernels."
)

data = state.usable_dataset(settings.dataset)[1]

sources = ["Dataset image", "Sample photo"] + ([] if settings.classroom else ["Upload"])
# The outputs beside the editor that changes them, not under it.
editor, outputs = st.columns([2, 3], gap="large")
with editor:
    source = st.radio("Image", sources, key="conv_source", horizontal=True)
    image = None
    if source == "Sample photo":
        photo = st.selectbox("Photo", lesson_convolutions.SAMPLE_PHOTOS, key="conv_photo")
        image = lesson_convolutions.sample_photo(photo)
    elif source == "Upload":
        upload = st.file_uploader(
            "Your image",
            type=EXTENSIONS,
            key="conv_upload",
            max_upload_size=MAX_BYTES // 2**20,
        )
        try:
            image = read_image(upload.getvalue()) if upload else None
        except UploadError as err:
            st.warning(f"{err} Showing a dataset image instead.")
    if image is None:
        index = st.number_input(
            f"Image number (0 to {len(data.x_train) - 1:,})",
            0,
            len(data.x_train) - 1,
            0,
            key="conv_index",
        )
        image = lesson_convolutions.dataset_image(data, index)
    st.selectbox(
        "Kernel preset",
        [*lesson_convolutions.PRESETS, EDITED],
        key="conv_preset",
        on_change=fill_kernel,
    )
    if KERNEL_KEYS[0] not in st.session_state:
        fill_kernel()
    st.caption("Kernel weights (edit any of them)")
    for row in range(3):
        for c, col in enumerate(st.columns(3)):
            col.number_input(
                f"Weight in row {row + 1}, column {c + 1}",
                -100.0,
                100.0,
                key=KERNEL_KEYS[3 * row + c],
                step=0.5,
                format="%.3g",
                label_visibility="collapsed",
                on_change=name_kernel,
            )
    kernel = np.array([st.session_state[k] for k in KERNEL_KEYS]).reshape(3, 3)
    st.caption(lesson_convolutions.kernel_note(kernel))

with outputs:
    height = 300 if settings.classroom else 220  # a projector's column is wider: bigger maps
    for i, step in enumerate(lesson_convolutions.steps(image, kernel)):
        if i % 2 == 0:
            cols = st.columns(2)
        with cols[i % 2]:
            st.markdown(f"**{step.title}**")
            st.plotly_chart(
                lessons.feature_map(step.values, step.signed, step.vmax, height),
                key=f"conv_step_{i}",
                config={"displayModeBar": False},
            )
            st.caption(step.caption)
    st.caption(
        "Hover over a pixel to read its value. Convolution: red positive, blue negative, "
        "white zero; the other maps run from black (0) to white (their largest value)."
    )

st.header("Slide the kernel, one pixel at a time")
st.markdown(
    "Each output pixel is the kernel laid over one patch of the input: nine products, added "
    "up. Move the kernel with the sliders. The **stride** is how far it moves each step; "
    "**zero padding** adds a ring of zeros so it can also sit over the border."
)
controls = st.columns(4)
stride = controls[0].select_slider("Stride", sliding.STRIDES, key="conv_slide_stride")
padding = controls[1].select_slider("Zero padding", sliding.PADDINGS, key="conv_slide_padding")
slid = sliding.slide(image, kernel, stride, padding)
out_rows, out_cols = slid.geometry.out
if "conv_slide_row" not in st.session_state:  # start where the kernel responds most
    st.session_state.conv_slide_row, st.session_state.conv_slide_col = sliding.strongest(
        slid.output
    )
st.session_state.conv_slide_row = min(st.session_state.conv_slide_row, out_rows - 1)
st.session_state.conv_slide_col = min(st.session_state.conv_slide_col, out_cols - 1)
row = controls[2].slider("Output row", 0, out_rows - 1, key="conv_slide_row")
col = controls[3].slider("Output column", 0, out_cols - 1, key="conv_slide_col")
win = sliding.window(slid, row, col)
st.plotly_chart(
    plots_sliding.slide_figure(slid, win, sliding.filled(slid, row, col)),
    key="conv_slide_view",
    config={"displayModeBar": False},
)
st.caption(
    "The amber square is the kernel; the output fills in row by row as it slides (grey: "
    "not computed yet), and the amber pixel is the one it computes now."
    + (" The dotted line is the image's edge: outside it, the padding's zeros." if padding else "")
)
st.plotly_chart(
    plots_sliding.window_figure(win, slid.kernel),
    key="conv_slide_window",
    config={"displayModeBar": False},
)
st.markdown(f"Output pixel (row {row}, column {col}) = {win.arithmetic(slid.kernel)}")
geometry = slid.geometry
st.markdown(
    f"**Output size** ⌊(n + 2p − k) / s⌋ + 1 with kernel k = {geometry.kernel}, padding "
    f"p = {padding} and stride s = {stride}: height {geometry.formula(geometry.height)}, "
    f"width {geometry.formula(geometry.width)}, so the output is {out_rows}x{out_cols}."
)

st.subheader("In colour: one kernel per channel, and the results add up")
st.markdown(
    "A colour image has three input channels. A convolution's kernel then has one 3x3 slice "
    "for each (3x3x3 = 27 weights): each channel is convolved with its own slice and the "
    "three results are added into **one** output map."
)
photo_col, *kernel_cols = st.columns(4)
colour_name = photo_col.selectbox(
    "Colour photo", lesson_convolutions.SAMPLE_PHOTOS, key="conv_rgb_photo"
)
presets = list(lesson_convolutions.PRESETS)
names = [
    kc.selectbox(
        f"Kernel for {ch}",
        presets,
        index=i,
        format_func=lambda name: name.split(" (")[0],  # "Sobel x (vertical edges)": "Sobel x"
        key=f"conv_rgb_kernel_{ch}",
    )
    for i, (kc, ch) in enumerate(zip(kernel_cols, sliding.CHANNELS))
]
colour = sliding.colour_conv(
    sliding.colour_photo(colour_name), np.array([lesson_convolutions.PRESETS[n] for n in names])
)
st.plotly_chart(
    plots_sliding.colour_figure(colour, names),
    key="conv_rgb_view",
    config={"displayModeBar": False},
)
top_row, top_col = sliding.strongest(colour.output)
st.markdown(
    f"At the strongest response (row {top_row}, column {top_col}), red + green + blue = "
    f"{sliding.colour_sum(colour, top_row, top_col)}: the sum map's value there. Hover over "
    f"any pixel of the four bottom maps to check another."
)

st.header("AlexNet: the convolutions that won ImageNet")
st.markdown(
    "AlexNet (Krizhevsky, Sutskever and Hinton, 2012) showed what stacked convolutions "
    "can do: it won the ImageNet 2012 challenge by a wide margin with five convolutions "
    "and three fully connected layers, the recipe every later CNN, ResNet included, "
    "builds on. This is the 2012 network as the paper describes it. It was split over "
    "two GPUs: conv2, conv4 and conv5 see only the half of the previous layer's "
    "channels on their own GPU (**2 groups**, half the weights). **Local response "
    "normalisation** after conv1 and conv2 scales each response down by its neighbours "
    "in the channels nearby, a job batch norm does in later networks. Libraries such as "
    "torchvision ship a later one-GPU variant (Krizhevsky 2014: 64, 192, 384, 256 and "
    "256 kernels, no normalisation)."
)
rows = alexnet()
st.dataframe(
    summary.table(rows),
    key="conv_alexnet_table",
    hide_index=True,
    height="content",
    column_config={
        "parameters": st.column_config.NumberColumn(format="localized"),
        "multiply-adds": st.column_config.NumberColumn(format="localized"),
    },
)
st.caption(lesson_convolutions.totals_note(rows))
st.plotly_chart(
    lessons.network_diagram(
        rows, lesson_convolutions.ALEXNET_INPUT, 460 if settings.classroom else 360
    ),
    key="conv_alexnet_diagram",
    config={"displayModeBar": False},
)
st.caption(lesson_convolutions.diagram_note(rows))
