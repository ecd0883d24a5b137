"""Inside torchvision's ImageNet-trained ResNet-18: offered where the internet is reachable,
downloaded only when a learner asks, then its 7x7 colour filters, feature maps, top-5 classes
and attributions on scikit-learn's two sample photos."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import streamlit as st
from torchvision.models import ResNet

from .. import attribution, features, pretrained
from ..lesson_convolutions import SAMPLE_PHOTOS
from ..plots import inside as plots
from . import filters_view
from .computed import cached

SHOWN = 16  # feature maps drawn: the channels that respond most to the photo
METHODS = ("Grad-CAM", "saliency", "integrated gradients")  # occlusion: thousands of 224 px passes
IG_STEPS = 32
IG_BATCH = 4  # images at once: 32 at once held ~860 MB more (docs/PERFORMANCE.md, --imagenet)
RETRY_S = 60  # a failed download is tried again by anyone after a minute, not on every rerun


@st.cache_resource(show_spinner="Reading ResNet-18's ImageNet weights...")
def _network() -> ResNet:
    # Once per server process, shared by every session: 11.7M weights (about 47 MB of float32)
    # on a host whose 2.7 GB all its visitors share. Never trained or hooked: analyses that hook
    # layers run on copies (features, attribution), predictions only run it.
    return pretrained.load()


@st.cache_resource
def _failure() -> dict[str, tuple[float, str]]:
    """The last failed download, shared: every session sees its sentence for RETRY_S seconds."""
    return {}


_download_lock = threading.Lock()


def _offer() -> bool:
    """The download button and, after a failed try, its one sentence; True once downloaded."""
    meta = pretrained.WEIGHTS.meta
    st.info(
        f"torchvision's ResNet-18, trained on ImageNet (1,000 classes; torchvision measured "
        f"{meta['_metrics']['ImageNet-1K']['acc@1']:.1f}% top-1 accuracy): "
        f"{pretrained.parameter_count():,} weights, {meta['_file_size']:.0f} MB to download from "
        f"{pretrained.HOST}, once for this server."
    )
    when, sentence = _failure().get("download", (-math.inf, ""))
    recent = time.monotonic() - when < RETRY_S
    if recent:
        st.warning(sentence)
    if not st.button("Download it", key="inside_imagenet_download", disabled=recent):
        return False
    with _download_lock, st.spinner(f"Downloading from {pretrained.HOST}..."):
        try:
            pretrained.download()
        except pretrained.PretrainedUnavailable as err:
            _failure()["download"] = (time.monotonic(), str(err))
            st.warning(str(err))
            return False
    return True


def label() -> str:
    """Its name in the page's list of networks."""
    name = "ResNet-18 trained on ImageNet (torchvision)"
    return name if pretrained.downloaded() else f"{name}: downloaded on request"


def show() -> None:
    """The whole ImageNet section of the page, or the offer to download it."""
    if not pretrained.downloaded() and not _offer():
        return
    try:
        net = _network()
    except pretrained.PretrainedUnavailable as err:
        st.warning(str(err))
        return
    name = st.radio("Photo", SAMPLE_PHOTOS, horizontal=True, key="inside_imagenet_photo")
    file = pretrained.weights_path().stat()
    photo = (file.st_size, file.st_mtime_ns, name)  # shared results' key: the weights, the photo
    x = pretrained.photo(name)
    ranked = cached(
        ("imagenet-top", photo), lambda: pretrained.top(net, x), "Classifying the photo..."
    )
    _predictions(x, ranked)
    st.header("First-layer filters: edges and colours")
    _filters(net)
    st.header("Feature maps of the photo")
    _maps(net, photo, x)
    st.header("Why this answer? Attributions")
    _attributions(net, photo, x, ranked)


def _predictions(x, ranked: list[tuple[int, str, float]]) -> None:
    left, right = st.columns([1, 2])
    left.image(pretrained.pixels(x).transpose(1, 2, 0), width=224)
    left.caption(
        f"scikit-learn's sample photo as the network sees it: {x.shape[2]}x{x.shape[1]}, "
        "centre crop"
    )
    right.markdown(
        "**Top 5 of ImageNet's 1,000 classes**\n\n"
        + "\n".join(f"{i}. {label} ({p:.1%})" for i, (_, label, p) in enumerate(ranked, 1))
    )


def _filters(net: ResNet) -> None:
    filters_view.show(
        pretrained.first_conv_at_init(),
        features.first_layer_filters(net),
        "after ImageNet",
        "Look for oriented edges and blobs of one colour against another, as Krizhevsky et "
        "al. 2012 (Fig. 3) found in AlexNet's first layer; a blob is no ramp, so its edge fit "
        "is low. ",
        width=300,  # 64 kernels in 8 rows: 5 px a weight
    )


@st.fragment
def _maps(net: ResNet, photo: tuple, x) -> None:
    layer = st.selectbox("Layer", pretrained.LAYERS, key="inside_imagenet_layer")
    values = cached(
        ("imagenet-maps", photo, layer),
        lambda: features.feature_maps(net, x, layer),
        "Running the photo through the network...",
    )
    strongest = np.argsort(values.mean((1, 2)))[::-1][:SHOWN]
    st.plotly_chart(plots.feature_maps(values[strongest]), key="inside_imagenet_maps")
    st.caption(
        f"The {len(strongest)} of {layer}'s {len(values)} channels ({values.shape[1]}x"
        f"{values.shape[2]} each) that respond most to this photo on average, strongest "
        "first, after the ReLU: bright where the channel's pattern is present."
    )


@st.fragment
def _attributions(net: ResNet, photo: tuple, x, ranked: list[tuple[int, str, float]]) -> None:
    left, right = st.columns([1.2, 2.4])  # ImageNet's class names are long
    method = left.radio("Method", METHODS, key="inside_imagenet_method")
    choice = left.selectbox(
        "Explain the score of",
        range(len(ranked)),
        key="inside_imagenet_target",
        format_func=lambda i: f"{ranked[i][1]} ({ranked[i][2]:.1%})",
    )
    target, label, p = ranked[choice]
    values = cached(
        ("imagenet-attr", photo, method, target),
        lambda: attribution.attribute(
            net, x, target, method, steps=IG_STEPS, layer="layer4", batch=IG_BATCH
        ),
        f"Computing {method}...",
    )
    right.markdown(f"{method} for **{label}** ({p:.1%})")  # too long for a panel's title
    right.plotly_chart(
        plots.attribution(
            pretrained.pixels(x), values, attribution.SIGNED[method], ("the photo", method)
        ),
        key="inside_imagenet_attr",
    )
    right.caption(attribution.METHODS[method])
