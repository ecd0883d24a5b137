"""The Train page's parts: presets, the custom form, the live view (the history:
`history_view`)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import replace

import plotly.graph_objects as go
import streamlit as st

from .. import data as datasets
from ..claims import HELP
from ..comparisons import ending
from ..config import CIFAR_DEPTHS, IMAGENET_BLOCKS, IS_RESIDUAL, ConfigError, NetConfig, TrainConfig
from ..plots.curves import error_curves, loss_curves
from ..presets import PRESETS
from ..runs import Run
from ..schema import Status
from ..session import SessionWork
from ..tickets import Snapshot, Ticket
from ..training_job import MAX_CONFIGS
from .query import CLASSROOM_KEY, DEFAULT_WIDTH, PRESET_KEY, literal
from .sidebar import Settings
from .state import dataset, manager, runtime

Specs = list[tuple[NetConfig, TrainConfig]]
DEFAULT = TrainConfig()  # what the custom form and Build's "Train this network" start from
# The custom form's depths: CIFAR-style 6n+2, then the paper's ImageNet-style 18 and 34 (no
# depth is both, so the depth names the family).
DEPTHS = CIFAR_DEPTHS + tuple(IMAGENET_BLOCKS)
# Each redraw reruns the fragment in the script thread, which takes CPU and the GIL from the
# training threads: what each interval costs, python -m scripts.bench_app --parts live --pin.
REDRAW_S = 2.0
QUEUED_REDRAW_S = 5.0  # a queued job only waits: its position changes rarely
# Redraws a second that all live views together may take from training: a class of 30 following
# one run redraws each view every 7.5 s, not 15 views a second in all (scripts/load.py --link).
REDRAWS_PER_S = 4.0


def preset_buttons(settings: Settings, busy: bool, page: str = "train") -> Specs | None:
    """One button per preset; returns its configurations for the current dataset when clicked.
    The buttons are off, with the reason on hover, while a run trains or the dataset cannot be
    had. Their keys carry `page`, the prefix of the page that draws them."""
    why = blocked(settings, busy)
    chosen = None
    for col, preset in zip(st.columns(len(PRESETS)), PRESETS.values()):
        with col:
            st.markdown(f"**{preset.title}**")
            # Above its long caption: the buttons line up, where the eye is after the titles.
            if st.button(
                "Run",
                key=f"{page}_preset_{preset.key}",
                disabled=why is not None,
                help=why,
                type="primary",
            ):
                chosen = _preset_specs(preset, settings)
            st.caption(preset.lesson)
    return chosen


def blocked(settings: Settings, busy: bool) -> str | None:
    """Why no run can start now (one sentence), or None."""
    return dataset_problem(settings.dataset) or (
        "A run is in progress: wait for it or stop it." if busy else None
    )


@st.cache_data(ttl=60, show_spinner="Fetching the dataset once for this server...")
def dataset_problem(name: str) -> str | None:
    """Why `name` cannot be trained on here (one sentence), or None. Tried in the page, at most
    once a minute per dataset, so a dataset that cannot load is never started: its runs would
    each fail with that sentence over empty axes."""
    try:
        dataset(name)
    except datasets.DatasetUnavailable as err:
        return f"{err} Choose one in the sidebar."
    return None


def linked(settings: Settings, work: SessionWork) -> Specs | None:
    """The preset a teacher's link names (`/training?preset=degradation`), once per tab: its
    configurations, unless the session already shows them or is busy with another run."""
    raw = st.query_params.get(PRESET_KEY)
    if raw is None or st.session_state.get("train_linked") == raw:
        return None
    st.session_state["train_linked"] = raw
    preset = PRESETS.get(raw.strip().lower())
    if preset is None:
        st.warning(
            f"Ignored the link's preset {literal(raw[:30])}: the presets are {', '.join(PRESETS)}."
        )
        return None
    specs = _preset_specs(preset, settings)
    if work.job is not None and [(r.net, r.train) for r in work.job.runs] == specs:
        return None  # a reload: the session follows it already
    if work.busy:
        st.info(
            f"The link's preset, {preset.title}, waits: your session's run is still "
            "training. Start it with its button once the run ends."
        )
        return None
    return specs


def invite(settings: Settings, work: SessionWork) -> None:
    """In classroom mode: the address students open to follow the projected preset."""
    if work.job is None:
        return
    shown = [(r.net, r.train) for r in work.job.runs]
    for preset in PRESETS.values():
        if shown == _preset_specs(preset, settings):
            page = (st.context.url or "/training").split("?")[0]  # unknown outside a browser
            st.caption("Students follow this run, trained once for the whole class, at:")
            st.code(f"{page}?{PRESET_KEY}={preset.key}&{CLASSROOM_KEY}=1", language=None)
            return


def _preset_specs(preset, settings: Settings) -> Specs:
    info = datasets.info(settings.dataset)
    return preset.specs(info.channels, info.num_classes, settings.dataset, runtime().precision)


def family_of(depth: int) -> str:
    return "imagenet" if depth in IMAGENET_BLOCKS else "cifar"


def sized(dataset_name: str, **settings) -> NetConfig:
    """A network for the dataset's images: their channels in, one output per class. ImageNet-style
    networks on 28-32 px images get the small stem: the 224 px stem's stride 4 would shrink them
    to 7-8 px before any block."""
    info = datasets.info(dataset_name)
    return info.net(small_input=info.size < 64, **settings)


def train_config(settings: Settings, **chosen) -> TrainConfig:
    """DEFAULT, with `chosen` steps, batch size, learning rate or seed, on the session's dataset
    in the server's precision, evaluated 10 times."""
    steps = chosen.get("steps", DEFAULT.steps)
    return replace(
        DEFAULT,
        dataset=settings.dataset,
        eval_every=max(1, steps // 10),
        precision=runtime().precision,
        **chosen,
    )


def _depth_name(depth: int) -> str:
    """The number first and whole: four columns are narrow on a projector."""
    return str(depth) if family_of(depth) == "cifar" else f"{depth} ImageNet"


def custom_form(settings: Settings, busy: bool) -> Specs | None:
    """Up to four configurations sharing one training budget, seed and data order: CIFAR-style
    (6n+2) or ImageNet-style (18, 34) networks, sized for the session's dataset."""
    # Outside the form, so that the form shows just that many networks (a form's widgets do not
    # rerun the page: inside it, four pickers showed whatever the slider said).
    n = st.slider("Configurations", 1, MAX_CONFIGS, 2, key="train_configs")
    with st.form("train_custom"):
        rows = []
        for i, col in enumerate(st.columns(MAX_CONFIGS)[:n]):
            with col:
                rows.append(
                    (
                        st.selectbox(
                            f"#{i + 1} network",
                            ("residual", "plain"),
                            key=f"train_arch{i}",
                            index=i % 2,
                        ),
                        st.selectbox(
                            "depth",
                            DEPTHS,
                            index=2 + i // 2 * 3,
                            key=f"train_depth{i}",
                            format_func=_depth_name,
                            help="CIFAR-style: 3 stages, depth 6n+2; ImageNet-style: 4 stages, "
                            "the paper's 18 and 34 layers.",
                        ),
                        st.checkbox("batch norm", True, key=f"train_bn{i}"),
                    )
                )
        c1, c2, c3, c4, c5 = st.columns(5)
        width = c1.number_input(
            "width",
            1,
            64,
            DEFAULT_WIDTH["cifar"],
            key="train_width",
            help="Channels of stage 1; every later stage doubles it.",
        )
        steps = c2.number_input("steps", 10, 5000, DEFAULT.steps, step=10, key="train_steps")
        batch = c3.number_input("batch size", 8, 512, DEFAULT.batch_size, step=8, key="train_batch")
        lr = c4.number_input(
            "learning rate", 0.0001, 10.0, DEFAULT.lr, format="%.4f", key="train_lr"
        )
        seed = c5.number_input("seed", 0, 10_000, DEFAULT.seed, key="train_seed")
        why = blocked(settings, busy)
        go = st.form_submit_button(
            "Train", key="train_submit", disabled=why is not None, type="primary", help=why
        )
    if not go:
        return None
    try:
        train = train_config(
            settings, steps=int(steps), batch_size=int(batch), lr=float(lr), seed=int(seed)
        )
        return [
            (
                sized(
                    settings.dataset,
                    family=family_of(d),
                    depth=d,
                    residual=IS_RESIDUAL[a],
                    batch_norm=bn,
                    width=int(width),
                ),
                train,
            )
            for a, d, bn in rows
        ]
    except ConfigError as e:
        st.error(str(e))
        return None


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(5, 5 * round(seconds / 5)):.0f} s"
    minutes, rest = divmod(10 * round(seconds / 10), 60)
    return f"{minutes:.0f} min {rest:02.0f} s"


def _status(snap: Snapshot) -> None:
    snap_runs, state, eta = snap.runs, snap.state, snap.eta
    if state == Status.QUEUED:
        when = (
            f" Estimated start in about {_duration(eta.start_s)}, end in about "
            f"{_duration(eta.finish_s)}, from this server's measured speed."
            if eta
            else ""
        )
        st.info(f"Waiting for a free trainer: you are number {snap.position} in the queue.{when}")
    total = max(r.train.steps for r in snap_runs)
    done = min((r.records[-1]["step"] if r.records else 0) for r in snap_runs)
    st.progress(done / total, text=f"{state}: step {done} of {total}")
    if state == Status.RUNNING and eta is not None:
        st.caption(f"About {_duration(eta.finish_s)} to go, from the speed measured so far.")
    if snap.recorded:
        st.caption(
            f"A recorded run: these exact settings (networks, data, seed, engine) finished "
            f"on this server at {snap_runs[0].created.replace('T', ' ')}, so they are "
            "shown from their records instead of being trained again."
        )
    if snap.followers > 1:
        st.caption(f"{snap.followers} sessions follow this run: it is trained once for all.")


def _metrics(snap_runs: list[Run]) -> None:
    """Each run's last validation error and speed, one column a run."""
    for col, run in zip(st.columns(len(snap_runs)), snap_runs):
        speed = run.records[-1].get("images_per_s") if run.records else None
        val = next(
            (r["val_error"] for r in reversed(run.records) if r.get("val_error") is not None), None
        )
        col.markdown(f"**{run.label}**")  # wraps where a metric's label was cut ("plain-56, no …")
        col.metric(
            run.label,
            "—" if val is None else f"{val:.1%}",
            help="validation error at the last evaluation",
            label_visibility="collapsed",
        )
        if speed:
            col.caption(f"{speed:,.0f} images/s · {run.status}")
        if run.message:
            col.warning(run.message)


def live(work: SessionWork, classroom: bool) -> None:
    """The current job, redrawn from a snapshot every REDRAW_S seconds while it trains."""
    job = work.job
    if job is None:
        if not work.history():  # a session with runs has them in its history, below
            st.info(
                "No run yet: click a preset's Run below"
                + ("." if classroom else ", or set your own under 'Your own configurations'.")
            )
        return

    drawn_as = job.snapshot().state
    every = _interval(drawn_as)

    @st.fragment(run_every=every)
    def view(job: Ticket = job) -> None:
        snap = job.snapshot()
        target = _interval(snap.state)
        if snap.state != drawn_as or (target and every and not 2 / 3 < target / every < 3 / 2):
            # The page again: with the interval for its state and the server's viewers, and
            # once the job has ended, with its runs in the history and the buttons back on.
            st.rerun()
        # Progress and Stop on one line, the curves right under them: in the first screen.
        status, stop = st.columns([5, 1], vertical_alignment="bottom")
        with status:
            _status(snap)
        if job.active and stop.button("Stop", key="train_stop", icon=":material/stop_circle:"):
            job.stop()
        if snap.message:
            st.error(snap.message)
        if any(r.records for r in snap.runs):
            left, right = st.columns([3, 2])
            errors, losses = _curves(snap.runs)
            left.plotly_chart(errors, key="train_live_errors")
            right.plotly_chart(losses, key="train_live_loss")
        elif job.active:  # no empty axes: nothing has been computed yet
            st.caption("The error and loss curves are drawn here from the first training step.")
        _metrics(snap.runs)
        if snap.state not in (Status.QUEUED, Status.RUNNING):  # what the finished runs show
            for line in ending(snap.runs):
                st.markdown(line, help=HELP)

    view()


def _interval(state: Status) -> float | None:
    """Seconds between redraws of a live view: REDRAW_S while training (QUEUED_REDRAW_S while
    waiting), longer when so many tabs watch that they would take more than REDRAWS_PER_S."""
    base = {Status.RUNNING: REDRAW_S, Status.QUEUED: QUEUED_REDRAW_S}.get(state)
    return None if base is None else max(base, manager().viewers() / REDRAWS_PER_S)


# While runs train, a class's live views redraw several times a second, each at another step:
# the figures one view built are shown by the others for this long (at most this much older than
# the progress line above them) instead of being built again for each.
SHARED_FIGURES_S = 1.0
_FIGURES: OrderedDict[tuple, tuple[float, tuple[go.Figure, go.Figure]]] = OrderedDict()
_FIGURES_LOCK = threading.Lock()


def _curves(runs: list[Run]) -> tuple[go.Figure, go.Figure]:
    """The live view's two figures, built once every SHARED_FIGURES_S for all the sessions that
    follow the same runs, and again whenever one of them changes status (they are only read)."""
    key = tuple((r.created, r.net, r.train, r.status) for r in runs)
    now = time.monotonic()
    with _FIGURES_LOCK:
        built = _FIGURES.get(key)
        if built is not None and now - built[0] < SHARED_FIGURES_S:
            return built[1]
    figures = error_curves(runs), loss_curves(runs)
    with _FIGURES_LOCK:
        _FIGURES[key] = now, figures
        _FIGURES.move_to_end(key)
        while len(_FIGURES) > 16:
            _FIGURES.popitem(last=False)
    return figures
