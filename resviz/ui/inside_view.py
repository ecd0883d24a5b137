"""The Inside-the-network page's parts: which network, and one fragment per section, so a widget
reruns only its own section."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch
from torch import nn

from .. import attribution, features, models, shipped, uploads
from ..budget import OverBudget
from ..config import NetConfig
from ..data import Dataset, DatasetUnavailable
from ..models import build_seeded
from ..plots import inside as plots
from ..receptive import Field, crop, fields
from ..runs import Run, load_weights
from ..session import SessionWork
from ..tickets import Ticket
from ..uploads import EXTENSIONS, UploadError, read_colour, read_image
from . import filters_view, imagenet_view
from .computed import cached
from .sidebar import Settings
from .state import dataset, manager, runtime

GROUP = 6  # channels per figure: rows a screen can show
PATCHES = 5  # strongest dataset patches per channel
STARTS = 3  # optimised images per channel, pushed apart: different ways to excite it
AM_STEPS = 96
PRESET_DATASETS = ("shapes",)  # synthetic colour shapes: where edges -> shapes -> objects shows


@dataclass(frozen=True)
class Picked:
    """The network under study: a fresh evaluation-mode model built for this script run."""

    key: str  # its cache key: a run file, or a preset with its dataset and budget
    net_cfg: NetConfig
    seed: int
    data: Dataset
    net: nn.Module

    @property
    def names(self) -> list[str]:
        return features.layer_names(self.net)

    def widget(self, name: str) -> str:
        """A widget key of this network's own: its layers, channels and classes are not another
        network's, and a shared key kept the other network's labels on screen."""
        return f"{name}@{hashlib.blake2b(self.key.encode(), digest_size=4).hexdigest()}"


def _dataset(name: str) -> Dataset | None:
    try:
        return dataset(name)
    except DatasetUnavailable as err:
        st.warning(str(err))
        return None


def ran(run: Run) -> str:
    """The steps a run really trained: a stopped run is not labelled with its plan."""
    done = run.records[-1]["step"] if run.records else 0
    if run.status == "done" and done == run.train.steps:
        return f"{done} steps"
    verb = {"diverged": "diverged", "failed": "failed"}.get(run.status, "stopped")
    return f"{verb} at step {done} of {run.train.steps}"


def pick(settings: Settings, work: SessionWork) -> Picked | None:
    """A shipped network (the default: figures at once), a finished run of this session, or a
    preset trained here on demand (None until ready, or when it cannot be used)."""
    trained = work.trained()
    options = {
        ("shipped", i): f"{s.title}: trained in advance" for i, s in enumerate(shipped.networks())
    }
    options |= {
        ("run", i): f"Your run: {r.label} on {r.train.dataset}, {ran(r)}"
        for i, (r, _) in enumerate(trained)
    }
    options |= {
        ("preset", n): f"ResNet-20 on {n}: train it here"
        for n in dict.fromkeys([*PRESET_DATASETS, settings.dataset])
    }
    options[("imagenet", 0)] = imagenet_view.label()
    kind, which = st.selectbox("Network", list(options), format_func=options.get, key="inside_net")
    if kind == "imagenet":  # its own sections: no dataset of ours, 224 px photos
        return imagenet_view.show()
    if kind == "shipped":
        return _shipped(shipped.networks()[which])
    if kind == "preset":
        return _preset(which, settings.classroom, work)
    run, path = trained[which]
    data = _dataset(run.train.dataset)
    if data is None:
        return None
    state = cached(("weights", str(path)), lambda: load_weights(path), "Loading the weights...")
    return Picked(str(path), run.net, run.train.seed, data, models.from_state(run.net, state))


def _shipped(item: shipped.Shipped) -> Picked | None:
    """A network trained in advance (assets/inside), checked against its configuration."""
    try:
        state, meta = cached(
            ("shipped", str(item.path)),
            lambda: shipped.load_shipped(item),
            "Loading the weights...",
        )
    except shipped.ShippedError as err:
        st.warning(f"{err} Pick another network above, or train one here.")
        return None
    data = _dataset(item.train.dataset)
    if data is None:
        return None
    st.caption(
        f"{item.net.label} at width {item.net.width}, trained in advance for "
        f"{meta['steps_run']} steps of batch {item.train.batch_size} on "
        f"{data.info.title}: validation error {float(meta['val_error']):.1%} "
        "(assets/inside/MANIFEST.md says how)."
    )
    return Picked(
        f"shipped:{meta['digest']}",
        item.net,
        item.train.seed,
        data,
        models.from_state(item.net, state),
    )


def _preset(name: str, classroom: bool, work: SessionWork) -> Picked | None:
    """The preset network, once trained: through the job queue and the memory budget like any
    run, and shared, so a network trained for one visitor is there for every other."""
    data = _dataset(name)
    if data is None:
        return None
    steps = (
        300
        if classroom
        else int(
            st.number_input(
                "Training steps",
                10,
                3000,
                300,
                step=50,
                key="inside_steps",
                help="More steps: sharper filters and channels, a longer wait.",
            )
        )
    )
    net_cfg, cfg = shipped.preset(data.info, steps, precision=runtime().precision)
    specs = [(net_cfg, cfg)]
    (stored,) = manager().finished(specs)
    if stored is None:
        _train_preset(specs, name, work)
        return None
    state = cached(
        ("weights", str(stored.path)), lambda: load_weights(stored.path), "Loading the weights..."
    )
    return Picked(
        f"preset:{stored.path.stem}", net_cfg, cfg.seed, data, models.from_state(net_cfg, state)
    )


def _train_preset(specs, name: str, work: SessionWork) -> None:
    """Offer to train the preset, or follow it while the session's job trains it."""
    job = work.job
    if job is not None and [(r.net, r.train) for r in job.runs] == specs:
        if job.active:
            _follow(job)
            return
        if message := job.snapshot().message:  # it failed: say why, and offer it again
            st.error(message)
    net_cfg, cfg = specs[0]
    st.info(
        f"{net_cfg.label} (width {net_cfg.width}) is not trained on {name} yet: "
        f"{cfg.steps} steps of batch {cfg.batch_size} take about {cfg.steps / 6:.0f} s on a "
        "2-core CPU, once for every visitor. It trains in the queue like any run."
    )
    if work.busy:
        st.caption(
            "Your session's run is still training (see the Train page): this one can "
            "start when it ends or is stopped."
        )
    if st.button("Train it now", key="inside_train", type="primary", disabled=work.busy):
        try:
            work.start(specs)
        except OverBudget as err:  # refused before it starts
            st.error(str(err))
            return
        st.rerun()


@st.fragment(run_every=2.0)
def _follow(job: Ticket) -> None:
    """The preset's training: its place in the queue or its progress; the page once it ends."""
    snap = job.snapshot()
    if not job.active:
        st.rerun()
    (run,) = snap.runs
    done = run.records[-1]["step"] if run.records else 0
    if snap.state == "queued":
        st.info(f"Waiting for a free trainer: number {snap.position} in the queue.")
    st.progress(
        done / run.train.steps,
        text=f"Training {run.label} on {run.train.dataset}: step {done} of {run.train.steps}",
    )


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
