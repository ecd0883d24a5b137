"""Caches and per-session state. Only immutable or thread-safe things are shared by sessions."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import streamlit as st
import torch
from streamlit import runtime as streamlit_runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from .. import budget, cluster
from .. import data as datasets
from ..cache import SharedRuns
from ..cluster import Cluster
from ..jobs import JobManager
from ..runtime import (
    describe_device,
    fast_precision,
    pick_device,
    return_freed_memory,
    training_slots,
)
from ..session import SessionWork
from .query import SESSION_KEY, session_id

RAY_ADDRESS = "RESVIZ_RAY_ADDRESS"  # set: jobs train on that Ray cluster (resviz/cluster.py)


@dataclass(frozen=True)
class Runtime:
    slots: int  # CPU threads (or jobs on a GPU) the server trains at once
    device: str  # one line for the sidebar
    precision: str  # what training runs in here: "bf16" where the hardware has it
    cluster: Cluster | None = None  # where jobs train when RESVIZ_RAY_ADDRESS names a cluster
    problem: str = ""  # why they train here although it does


@st.cache_resource(show_spinner="Connecting to the Ray cluster...")
def runtime() -> Runtime:
    """Training slots, device and precision, set once per process (`runtime.training_slots`):
    a CPU's quota or RESVIZ_TRAIN_SLOTS; on a GPU, RESVIZ_GPU_JOBS jobs at once; on a Ray
    cluster, its slots. Each job picks its torch threads (`runtime.plan_threads`); the script
    thread's figures run on one."""
    torch.set_num_threads(1)
    device = pick_device()
    here = Runtime(training_slots(device.type), describe_device(device), fast_precision(device))
    if not (address := os.environ.get(RAY_ADDRESS, "").strip()):
        return here
    try:
        c = cluster.cluster(address)
    except Exception as e:  # noqa: BLE001 - any failure to connect: train here, and say why
        problem = f"The Ray cluster at {address} cannot be reached ({e}): training runs here."
        return replace(here, problem=problem)
    kind = "GPUs" if c.gpus else "CPUs"
    return Runtime(c.slots, f"Ray cluster at {address}: {c.slots} {kind}", c.precision, c)


@st.cache_resource
def manager() -> JobManager:
    """One for the whole server: the cap on training slots, the memory each slot may use (a job
    gets that of the slots it takes; none on a Ray cluster, whose workers hold the training),
    and the finished runs every session is served from."""
    rt = runtime()
    return JobManager(
        slots=rt.slots,
        memory_budget=None if rt.cluster else budget.per_slot_bytes(rt.slots),
        store=SharedRuns(runs_root() / SHARED),
        device_type=pick_device().type,
        cluster=rt.cluster,
    )


@st.cache_resource(show_spinner=False)
def dataset(name: str) -> datasets.Dataset:
    """Read-only tensors shared by every session (never trained on in place)."""
    return datasets.load(name)


SHARED = "shared"  # the runs folder's store of finished runs; never a session id (not hex)


def runs_root() -> Path:
    return Path(os.environ.get("RESVIZ_RUNS", "runs"))


def usable_dataset(name: str) -> tuple[str, datasets.Dataset]:
    """The chosen dataset, or the offline default with a warning when it cannot be had."""
    try:
        return name, dataset(name)
    except datasets.DatasetUnavailable as err:
        st.warning(f"{err} The digits of MNIST-5k are used here instead.")
        return "mnist-5k", dataset("mnist-5k")


def _close_all(works: list[SessionWork]) -> None:
    for w in works:
        w.close()


@st.cache_resource(scope="session", on_release=_close_all, show_spinner=False)
def _closed_with_session() -> list[SessionWork]:
    """A session-scoped cache is released when the tab closes: that stops the session's jobs."""
    return []


RECONNECT_MARGIN_S = 5  # past Streamlit's reconnect window before a closed tab's files go


def _drop_uploads(session_id: str) -> None:
    """Remove a closed tab's uploaded files once it can no longer reconnect.

    Streamlit keeps a session's uploads until it shuts the session down, and a session whose
    tab closed is only dropped from its store, never shut down: every upload stayed in the
    server's memory for good (python -m scripts.load --hostile shows what is left after the tabs
    close).
    """

    def drop() -> None:
        if streamlit_runtime.exists():
            server = streamlit_runtime.get_instance()
            if not server.is_active_session(session_id):  # not reconnected meanwhile
                server.uploaded_file_mgr.remove_session_files(session_id)
                return_freed_memory()

    timer = threading.Timer(
        st.get_option("server.disconnectedSessionTTL") + RECONNECT_MARGIN_S, drop
    )
    timer.daemon = True
    timer.start()


@st.cache_resource(scope="session", on_release=_drop_uploads, show_spinner=False)
def _uploads_of_session() -> str:
    """This session's id, released when its tab closes (`_drop_uploads`)."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else ""


def work() -> SessionWork:
    """This session's work (in `st.session_state`), created on first use.

    A valid `?session=` id in the URL picks up that session's history (after a reload or a
    server restart); anything else starts a new one, with a note for the page to show.
    """
    if "work" not in st.session_state:
        sid, note = session_id(st.query_params.get(SESSION_KEY))
        st.session_state["work"] = SessionWork(manager(), runs_root() / sid)
        st.session_state["session_note"] = note
        _closed_with_session().append(st.session_state["work"])
    w = st.session_state["work"]
    _uploads_of_session()
    w.follow(manager().ticket(w.id))
    if st.query_params.get(SESSION_KEY) != w.id:
        st.query_params[SESSION_KEY] = w.id  # the address to come back to
    return w


def session_note() -> str | None:
    """Why the URL's session id was not used, once; None when it was fine or already shown."""
    return st.session_state.pop("session_note", None)
