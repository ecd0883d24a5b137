"""The Build page's controls: they return a NetConfig and the stages to draw unfolded; and the
offer to train that network through the Train page's job queue.

Widget values start from the URL on a session's first visit (so a shared link opens the network
it names) and are kept for the session, so leaving the page and coming back keeps the network.
"""

from __future__ import annotations

import streamlit as st

from .. import architecture
from .. import data as datasets
from ..architecture import Architecture
from ..budget import OverBudget
from ..config import ARCHS, SHORTCUTS, NetConfig
from . import nav, query, train_view
from .sidebar import Settings
from .state import work as session_work

KEY = {name: f"build_{name}" for name in query.KEYS}
UNFOLD_KEY = "build_unfold"
WIDTHS = (4, 8, 16, 32, 64, 128, 256, 512)
# One option always chosen; wrapped rather than clipped on a narrow projector screen; kept for
# the session, so leaving the page and coming back keeps the network.
CHOICE = dict(required=True, wrap=True, persist_state="session")


def net_form(settings: Settings) -> NetConfig:
    """Draw the builder's controls and return the network they choose, sized for the dataset.

    Classroom mode keeps family, depth, plain/residual and shortcut; width and batch norm keep
    the values they had (or the URL's).
    """
    _start_from_url()
    state = st.session_state
    first, second, third = st.columns(2), st.columns(2), st.columns(2)
    first[0].segmented_control(
        "Family",
        tuple(query.DEPTHS),
        key=KEY["family"],
        format_func=query.FAMILY_TITLES.get,
        on_change=_family_changed,
        **CHOICE,
        help="CIFAR-style: 3 stages of n blocks, depth 6n+2; ImageNet-style: 4 stages, "
        "the paper's 18 and 34 layers.",
    )
    first[1].selectbox(
        "Depth (weight layers)",
        query.DEPTHS[state[KEY["family"]]],
        key=KEY["depth"],
        on_change=_forget_folds,
        persist_state="session",
    )
    second[0].segmented_control(
        "Architecture",
        (False, True),
        key=KEY["arch"],
        **CHOICE,
        format_func=ARCHS.__getitem__,
        help="Residual adds each block's input x to its output: F(x) + x.",
    )
    second[1].segmented_control(
        "Shortcut",
        SHORTCUTS,
        key=KEY["shortcut"],
        **CHOICE,
        format_func=lambda s: "A: zero-pad" if s == "A" else "B: 1×1 conv",
        disabled=not state[KEY["arch"]],
        help="Where a block halves the size and doubles the channels, A pads the new "
        "channels with zeros (no parameters) and B learns a 1×1 convolution.",
    )
    if not settings.classroom:
        third[0].select_slider(
            "Width (channels of stage 1)",
            sorted({*WIDTHS, state[KEY["width"]]}),
            key=KEY["width"],
            persist_state="session",
            help="Every later stage doubles it.",
        )
        third[1].toggle("Batch norm", key=KEY["bn"], persist_state="session")
    return _config(settings)


def _start_from_url() -> None:
    """First visit of the session: the URL's network, and a note on anything it got wrong."""
    if KEY["family"] in st.session_state:
        return
    cfg, notes = query.read()
    for name, value in zip(
        query.KEYS, (cfg.family, cfg.depth, cfg.width, cfg.residual, cfg.batch_norm, cfg.shortcut)
    ):
        st.session_state[KEY[name]] = value
    if notes:
        st.info(" ".join(notes), icon=":material/link:")


def _family_changed() -> None:
    family = st.session_state[KEY["family"]]
    st.session_state[KEY["depth"]] = query.DEFAULT_DEPTH[family]
    st.session_state[KEY["width"]] = query.DEFAULT_WIDTH[family]
    _forget_folds()


def _forget_folds() -> None:
    # A new depth gets its own default folding (deep stages start folded).
    st.session_state.pop(UNFOLD_KEY, None)


def _config(settings: Settings) -> NetConfig:
    state = st.session_state
    return train_view.sized(
        settings.dataset,
        family=state[KEY["family"]],
        depth=state[KEY["depth"]],
        residual=state[KEY["arch"]],
        batch_norm=state[KEY["bn"]],
        width=state[KEY["width"]],
        shortcut=state[KEY["shortcut"]],
    )


def train_offer(cfg: NetConfig, settings: Settings) -> None:
    """What "Train this network" would train, and the button: the session's one job, started
    through the Train page's queue, followed on the Train page. Off, with the reason, while the
    session trains or the dataset cannot be had; a job too large for memory is refused in one
    sentence."""
    work = session_work()
    train = train_view.train_config(settings)
    st.markdown(
        f"**Train it:** {cfg.label} on {datasets.info(settings.dataset).short}, "
        f"{train.steps} steps at batch {train.batch_size} (learning rate {train.lr:g}, "
        f"seed {train.seed}), shown live on the Train page."
    )
    why = train_view.blocked(settings, work.busy)
    if st.button(
        "Train this network",
        key="build_train",
        disabled=why is not None,
        help=why,
        type="primary",
        icon=":material/play_circle:",
    ):
        try:
            work.start([(cfg, train)])
            st.switch_page(nav.page("train.py"))
        except OverBudget as err:  # refused before it starts: nothing else changes
            st.error(str(err))
    elif why:
        st.caption(why)


def fold_picker(arch: Architecture) -> list[str]:
    """Which stages to draw block by block; the rest are one box each."""
    if UNFOLD_KEY not in st.session_state:
        st.session_state[UNFOLD_KEY] = architecture.default_unfolded(arch)
    blocks = {s.name: len(s.blocks) for s in arch.stages}
    return st.pills(
        "Stages drawn block by block (the others are folded into one box)",
        list(blocks),
        selection_mode="multi",
        key=UNFOLD_KEY,
        format_func=lambda n: f"{n} ({blocks[n]} blocks)",
    )


def compact(n: int) -> str:
    """269,434 -> "269.4k", 21,797,672 -> "21.8M": a figure that fits a projector's narrow
    column (the exact one belongs in the metric's help)."""
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size * (1 - 5e-5):  # 999,990 rounds to 1.0M, not 1000.0k
            return f"{n / size:.1f}{unit}"
    return f"{n:,}"


def numbers(columns) -> dict:
    """Column settings that print every count with thousands separators."""
    return {name: st.column_config.NumberColumn(format="localized") for name in columns}


def image_size(settings: Settings) -> int:
    return datasets.DATASETS[settings.dataset].size


# Descriptions are built on the meta device in well under a second, but every click reruns the
# page: cache them (pure data, copied per session by cache_data).
@st.cache_data(show_spinner=False, max_entries=64)
def architecture_of(cfg: NetConfig, size: int) -> Architecture:
    return architecture.from_config(cfg, size)


@st.cache_data(show_spinner=False, max_entries=64)
def param_note(cfg: NetConfig) -> str:
    return architecture.param_note(cfg)


@st.cache_data(show_spinner=False, max_entries=16)
def paper_networks(cfg: NetConfig, size: int) -> tuple[list[Architecture], dict]:
    """The paper's four networks sized like `cfg`, and their comparison table."""
    cfgs = architecture.paper_configs(cfg)
    archs = [architecture.from_config(c, size) for c in cfgs]
    return archs, architecture.comparison(cfgs, archs)
