"""The Inside-the-network page's first choice: which network to look into (trained in advance,
one of this session's runs, a preset trained here on demand, or the ImageNet ResNet-18)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import streamlit as st
from torch import nn

from .. import features, models, shipped
from ..budget import OverBudget
from ..config import NetConfig
from ..data import Dataset, DatasetUnavailable
from ..runs import Run, load_weights
from ..schema import Status
from ..session import SessionWork
from ..tickets import Ticket
from . import imagenet_view
from .computed import cached
from .sidebar import Settings
from .state import dataset, manager, runtime

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
    if run.status == Status.DONE and done == run.train.steps:
        return f"{done} steps"
    verb = run.status if run.status in (Status.DIVERGED, Status.FAILED) else Status.STOPPED
    return f"{verb} at step {done} of {run.train.steps}"


def pick(settings: Settings, work: SessionWork) -> Picked | None:
    """A shipped network (the default: figures at once), a finished run of this session, or a
    preset trained here on demand (None until ready, or when it cannot be used)."""
    trained = work.trained()
    options: dict[tuple[str, int | str], str] = {
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
    # A selectbox with options and no placeholder always holds one of them.
    kind, which = st.selectbox(
        "Network", list(options), format_func=options.__getitem__, key="inside_net"
    )  # type: ignore[misc]
    if kind == "imagenet":  # its own sections: no dataset of ours, 224 px photos
        imagenet_view.show()
        return None
    if kind == "shipped":
        return _shipped(shipped.networks()[int(which)])
    if kind == "preset":
        return _preset(str(which), settings.classroom, work)
    run, path = trained[int(which)]
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
    if snap.state == Status.QUEUED:
        st.info(f"Waiting for a free trainer: number {snap.position} in the queue.")
    st.progress(
        done / run.train.steps,
        text=f"Training {run.label} on {run.train.dataset}: step {done} of {run.train.steps}",
    )
