"""The Inside-the-network page's sections, one fragment each, so a widget reruns only its own
section (inside_pick chooses the network they look into)."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st
import torch

from .. import attribution, features, uploads
from ..models import build_seeded
from ..plots import inside as plots
from ..receptive import Field, crop, fields
from ..uploads import EXTENSIONS, UploadError, read_colour, read_image
from . import filters_view
from .computed import cached
from .inside_pick import Picked

GROUP = 6  # channels per figure: rows a screen can show
PATCHES = 5  # strongest dataset patches per channel
STARTS = 3  # optimised images per channel, pushed apart: different ways to excite it
AM_STEPS = 96


def _layer_label(p: Picked, name: str) -> str:
    mark = features.depth_labels(p.names).get(name)
    size = fields(p.net)[name].size
    return " · ".join([name] + ([mark] if mark else []) + [f"{size} px"])


def _image_number(p: Picked, key: str) -> int:
    n = len(p.data.x_val)
    return int(st.number_input(f"Validation image (0 to {n - 1})", 0, n - 1, 0, key=p.widget(key)))


@st.fragment
def filters(p: Picked) -> None:
    before = features.first_layer_filters(build_seeded(p.net_cfg, p.seed))
    filters_view.show(before, features.first_layer_filters(p.net), "after training")


@st.fragment
def maps(p: Picked) -> None:
    left, right = st.columns(2)
    with left:
        index = _image_number(p, "inside_map_image")
    layer = right.selectbox(
        "Layer", p.names, format_func=lambda n: _layer_label(p, n), key=p.widget("inside_map_layer")
    )
    left, right = st.columns([1, 5])
    image = p.data.images(p.data.x_val[index]).numpy()
    left.image(plots.upscale(image, 120).transpose(1, 2, 0), width=120, clamp=True)  # crisp
    left.caption(f"class: {p.data.classes[int(p.data.y_val[index])]}")
    values = features.feature_maps(p.net, p.data.x_val[index], layer)  # (K, h, w)
    right.plotly_chart(plots.feature_maps(values), key="inside_maps")
    right.caption(
        f"{len(values)} channels of {layer}, {values.shape[1]}x{values.shape[2]} each, "
        "after the ReLU: bright where the channel's pattern is present."
    )


def _optimised(
    p: Picked, layer: str, channels: list[int], steps: int, grid: tuple[int, int], on_step
) -> np.ndarray:
    """Activation-maximisation images, STARTS per channel, cropped to the centre unit's field."""
    x = features.activation_maximisation(
        p.net, layer, channels, p.data, steps, per_channel=STARTS, on_step=on_step
    )
    row, col = features.centre(grid)
    out = np.stack([crop(im, fields(p.net)[layer], row, col) for im in p.data.images(x).numpy()])
    out.flags.writeable = False
    return out


def _distinct(images: np.ndarray) -> bool:
    """Whether one channel's optimised images differ visibly: some pair by more than 0.1 on
    average over its pixels (values in [0, 1])."""
    return any(np.abs(a - b).mean() > 0.1 for i, a in enumerate(images) for b in images[i + 1 :])


def _patches(p: Picked, top: features.TopUnits, channel: int, field: Field) -> list[np.ndarray]:
    return [
        crop(p.data.images(p.data.x_val[i]).numpy(), field, r, c)
        for i, r, c in zip(top.image[channel], top.row[channel], top.col[channel])
    ]


@st.fragment
def channels(p: Picked, classroom: bool) -> None:
    marks = {mark: name for name, mark in features.depth_labels(p.names).items()}
    left, mid, right = st.columns([2, 1, 1])
    depth = left.radio(
        "Layer",
        list(marks),
        horizontal=True,
        key=p.widget("inside_depth"),
        format_func=lambda d: _layer_label(p, marks[d]),
    )
    layer = marks[depth]
    top = cached(
        ("top", p.key, layer),
        lambda: features.top_units(p.net, p.data.x_val, layer, PATCHES),
        "Finding each channel's strongest images...",
    )
    k = top.value.shape[0]
    start = mid.selectbox(
        "Channels",
        range(0, k, GROUP),
        key=p.widget("inside_group"),
        format_func=lambda s: f"{s + 1} to {min(s + GROUP, k)} of {k}",
    )
    steps = (
        AM_STEPS
        if classroom
        else int(
            right.number_input(
                "Optimisation steps", 8, 1024, AM_STEPS, step=32, key="inside_am_steps"
            )
        )
    )
    chans = list(range(start, min(start + GROUP, k)))
    images = cached(
        ("am", p.key, layer, start, steps),
        lambda on_step: _optimised(p, layer, chans, steps, top.grid, on_step),
        "Optimising an image for each channel...",
        steps=True,
    )
    field = fields(p.net)[layer]
    rows = [
        (images[STARTS * i : STARTS * (i + 1)], _patches(p, top, c, field))
        for i, c in enumerate(chans)
    ]
    st.plotly_chart(
        plots.channels(rows, [f"channel {c + 1}" for c in chans]),
        key="inside_channels",
        config={"displayModeBar": False},
    )
    apart = sum(_distinct(images[STARTS * i : STARTS * (i + 1)]) for i in range(len(chans)))
    found = f"{apart} of {len(chans)} channels found visibly different ones"
    if layer == p.names[0]:
        found = (
            "a first-layer unit is a weighted sum of its pixels, so it has one best image: "
            f"where the starts differ ({apart} of {len(chans)} channels), the ascent has "
            "not settled yet"
        )
    st.caption(
        f"Left: {STARTS} images optimised from faint noise to excite the channel's centre "
        f"unit, pushed apart to find different ways to do it ({found}; {steps} steps, "
        "as in Olah et al. "
        "2017: built from smooth patterns in the data's colours, and rotated, scaled and "
        "shifted at random each step, so only what excites the unit robustly survives). "
        f"Right: the {PATCHES} validation images where the channel responds most. Both "
        f"cropped to what one unit sees ({field.size}x{field.size} px, grey: outside the "
        "image)."
    )


@st.fragment
def readouts(p: Picked) -> None:
    names = p.names
    trained = cached(
        ("readout", p.key),
        lambda: features.readout_accuracy(p.net, p.data, names),
        "Fitting a linear probe to every layer...",
    )
    initial = cached(
        ("readout0", p.key),
        lambda: features.readout_accuracy(build_seeded(p.net_cfg, p.seed), p.data, names),
        "Probing the initial network...",
    )
    chance = 1 / len(p.data.classes)
    marks = features.depth_labels(names)
    st.plotly_chart(
        plots.readouts(
            names, [trained[n] for n in names], [initial[n] for n in names], chance, marks
        ),
        key="inside_readouts",
    )
    steps = " → ".join(f"{trained[n]:.0%} {m} ({n})" for n, m in marks.items())
    first, last = trained[names[0]], trained[names[-1]]
    rising = last > first + 0.1 and last > initial[names[-1]] + 0.1
    st.markdown(
        f"A linear probe reads the class from each layer's channels, averaged over the "
        f"image (validation accuracy). After training: {steps}; with the initial weights "
        f"the last layer gives {initial[names[-1]]:.0%}; chance is {chance:.0%}. "
        + (
            "The bars rise with depth: early channels report colours and edges that say "
            "little about the class, late ones respond to whole classes."
            if rising
            else "The bars do not rise clearly yet: this network has not learned its hierarchy; "
            "train it longer."
        )
    )


def _upload(p: Picked, content: bytes) -> tuple[torch.Tensor, str]:
    """An upload as the network's input: in colour for a colour network; for a grey one, its
    polarity read from the border, with a checkbox (one per network and image) to overrule it."""
    digest = hashlib.blake2b(content, digest_size=8).hexdigest()
    if p.data.info.channels == 3:
        image = cached(("colour", digest), lambda: read_colour(content), "Reading the image...")
        return uploads.prepare_upload(image, p.data), "unknown (your image, in colour)"
    gray = read_image(content)
    dark = uploads.dark_ink(gray)
    invert = st.checkbox(
        "Invert the colours",
        value=dark,
        key=p.widget(f"inside_invert:{digest}"),
        help="This network learned light marks on a dark background (MNIST's "
        "white digits on black). Ticked at first when the image's border "
        "is light, as for ink on paper.",
    )
    seen = "dark marks on a light border" if dark else "light marks on a dark border"
    st.caption(f"Read in grey: {seen}" + (", inverted." if invert else ", as it is."))
    return uploads.prepare_upload(gray, p.data, invert), "unknown (your image, read in grey)"


def _attribution_image(p: Picked, source: str) -> tuple[torch.Tensor, str]:
    if source == "Upload":
        upload = st.file_uploader("Your image", type=EXTENSIONS, key="inside_upload")
        if upload is not None:
            try:
                return _upload(p, upload.getvalue())
            except UploadError as err:
                st.warning(f"{err} Showing a validation image instead.")
    index = _image_number(p, "inside_attr_image")
    return p.data.x_val[index], p.data.classes[int(p.data.y_val[index])]


@st.fragment
def attributions(p: Picked, classroom: bool) -> None:
    left, right = st.columns([1, 2.4])
    with left:
        source = st.radio(
            "Image",
            ["Validation image"] + ([] if classroom else ["Upload"]),
            key="inside_attr_source",
            horizontal=True,
        )
        image, true = _attribution_image(p, source)
        method = st.radio("Method", list(attribution.METHODS), key="inside_method")
        probs = attribution.predict(p.net, image)
        predicted = int(probs.argmax())
        target = st.selectbox(
            "Explain the score of",
            range(-1, len(p.data.classes)),
            key=p.widget("inside_target"),
            format_func=lambda c: (
                p.data.classes[c] if c >= 0 else f"predicted: {p.data.classes[predicted]}"
            ),
        )
    target = predicted if target < 0 else target
    values = attribution.attribute(p.net, image, target, method)
    classes = p.data.classes
    right.markdown(
        f"Predicted **{classes[predicted]}** ({probs[predicted]:.0%}); true class: **{true}**"
    )
    titles = ("the image", f"{method} for {classes[target]} ({probs[target]:.0%})")
    right.plotly_chart(
        plots.attribution(p.data.images(image).numpy(), values, attribution.SIGNED[method], titles),
        key="inside_attr",
    )
    right.caption(attribution.METHODS[method])
