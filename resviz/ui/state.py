"""Caches and per-session state. Only immutable or thread-safe things are shared by sessions."""

from __future__ import annotations

import os
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st
import torch
from streamlit import runtime as streamlit_runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from .. import budget
from .. import data as datasets
from ..cache import SharedRuns
from ..jobs import JobManager
from ..runs import (
    BATCH,
    FILE_RECORDS,
    MAX_FILE_BYTES,
    MAX_FILE_MB,
    SESSION,
    Run,
    RunFileError,
    RunFolder,
    digest,
    parse,
    save,
    save_weights,
    write_problem,
)
from ..runtime import (
    describe_device,
    fast_precision,
    pick_device,
    return_freed_memory,
    training_slots,
)
from ..tickets import Ticket
from .query import SESSION_KEY, session_id


@dataclass(frozen=True)
class Runtime:
    slots: int  # CPU threads (or jobs on a GPU) the server trains at once
    device: str  # one line for the sidebar
    precision: str  # what training runs in here: "bf16" where the hardware has it


@st.cache_resource
def runtime() -> Runtime:
    """Training slots, device and precision, set once per process (`runtime.training_slots`):
    a CPU's quota or RESVIZ_TRAIN_SLOTS; on a GPU, RESVIZ_GPU_JOBS jobs at once. Each job picks
    its torch threads (`runtime.plan_threads`); the script thread's figures run on one."""
    torch.set_num_threads(1)
    device = pick_device()
    return Runtime(training_slots(device.type), describe_device(device), fast_precision(device))


@st.cache_resource
def manager() -> JobManager:
    """One for the whole server: the cap on training slots, the memory each slot may use (a job
    gets that of the slots it takes), and the finished runs every session is served from."""
    slots = runtime().slots
    return JobManager(
        slots=slots,
        memory_budget=budget.per_slot_bytes(slots),
        store=SharedRuns(runs_root() / SHARED),
        device_type=pick_device().type,
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


@dataclass
class SessionWork:
    """This session's training: the current job and its folder of finished runs. Never shared.

    The folder's name is the session id the URL carries (`?session=...`), so a reload, a new tab
    or a restarted server finds the same history again. Its runs are read within the session's
    quota (`resviz.runs.SESSION`); runs a full or read-only disk would not take stay here, shown
    in the history and offered for download, and are written as soon as the disk allows.
    """

    job: Ticket | None = None
    folder: Path = field(default_factory=lambda: runs_root() / uuid.uuid4().hex)
    # Jobs whose runs are saved; weak, so old jobs can be freed.
    saved: weakref.WeakSet = field(default_factory=weakref.WeakSet)
    unsaved: list[tuple[Run, dict | None]] = field(default_factory=list)
    save_problem: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    tab: str = field(default_factory=lambda: uuid.uuid4().hex, repr=False)  # this browser tab

    def __post_init__(self) -> None:
        self.shelf = RunFolder(self.folder, SESSION)
        self._batch: dict[str, Run] = {}  # the Experiments upload, held while it is shown

    @property
    def id(self) -> str:
        return self.folder.name

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.active

    def start(self, specs) -> Ticket:
        """Ask for runs, unless the session's are still training (a double click or another tab
        must not start two): finished ones are shown at once, training ones followed
        (`resviz.jobs`).

        Raises `budget.OverBudget` (one sentence) for a job too large for the server's memory;
        the session's current job and history are left as they were.
        """
        if not self.busy:
            self.follow(manager().submit(specs, on_finish=self._save, owner=self.id))
        return self.job

    def follow(self, ticket: Ticket | None) -> None:
        """Show the session's current ticket in this tab too: one job per session, not per tab.
        The tab that asked for it files its runs away."""
        if ticket is None or ticket is self.job:
            return
        self.job = ticket
        ticket.follow(self.tab)
        if getattr(ticket.on_finish, "__self__", None) is not self:
            self.saved.add(ticket)

    def _save(self, job: Ticket) -> None:
        """Write a finished job's runs (with final weights) into the folder, once.

        Called by the worker when the job ends, so runs are kept even if the tab was closed.
        """
        with self._lock:
            if job in self.saved:
                return
            self.saved.add(job)
            self.unsaved += [
                (run, weights)
                for run, weights in zip(job.snapshot().runs, job.weights)
                if run.records
            ]
            self._write_unsaved()

    def _write_unsaved(self) -> None:
        """Write the runs not yet on disk, oldest first; on a disk error keep them and say why."""
        while self.unsaved:
            run, weights = self.unsaved[0]
            path = None
            try:
                path = save(run, self.folder, f"{run.created}-{run.label}-{uuid.uuid4().hex[:6]}")
                if weights is not None:
                    save_weights(weights, path)
            except OSError as e:
                if path is not None:  # the run without its weights: both are tried again
                    path.unlink(missing_ok=True)
                self.save_problem = (
                    f"Your finished runs could not be saved on the server "
                    f"({write_problem(e)}). They stay in this tab, below, "
                    f"to compare and download, and are saved as soon as "
                    f"the server can."
                )
                return
            self.unsaved.pop(0)
        self.save_problem = None

    def _write_pending(self) -> None:
        """Runs a disk refused before are tried again each time the runs are read."""
        if self.unsaved:
            with self._lock:
                self._write_unsaved()

    def add_upload(self, name: str, content: bytes) -> str | None:
        """Keep an uploaded run file for comparison; the reason it was refused, or None."""
        if (problem := _too_big(name, content)) is not None:
            return problem
        try:
            run = parse(content, FILE_RECORDS)
        except RunFileError as e:
            return f"{name}: {e}."
        self.shelf.read()
        files, size, records = self.shelf.used
        if not SESSION.admits(files + 1, size + len(content), records + len(run.records)):
            return (
                f"{name}: this session already holds {files} run files ({size / 2**20:.1f} "
                f"MB, {records:,} records) and keeps {SESSION}, so this file was not "
                f"added."
            )
        try:
            save(run, self.folder, f"uploaded-{Path(name).stem}")
        except OSError as e:
            return f"{name}: the file could not be saved on the server ({write_problem(e)})."
        self.shelf.read()  # holds the run parsed here: the history does not parse it again
        return None

    def read_batch(self, files: list[tuple[str, bytes]]) -> tuple[list[Run], list[str]]:
        """Run files uploaded together (Experiments) within `resviz.runs.BATCH`: the runs, and
        one sentence for each file refused. Parsed once per content; held while shown."""
        runs, problems, held = [], [], {}
        size = records = 0
        for i, (name, content) in enumerate(files):
            if (problem := _too_big(name, content)) is not None:
                problems.append(problem)
                continue
            if BATCH.admits(len(runs) + 1, size + len(content), records):
                size += len(content)  # read, whether or not it is a run file
                try:
                    key = digest(content)
                    run = parse(content, FILE_RECORDS, key)
                except RunFileError as e:
                    problems.append(f"{name}: {e}.")
                    continue
                if records + len(run.records) <= BATCH.records:
                    runs.append(run)
                    held[key] = run
                    records += len(run.records)
                    continue
            problems.append(
                f"{len(files) - i} of the {len(files)} files were not read, "
                f"from {name} on: one upload reads {BATCH}."
            )
            break
        self._batch = held
        return runs, problems

    @property
    def notes(self) -> list[str]:
        """Sentences for the history: runs not saved, files skipped or past the quota."""
        return ([self.save_problem] if self.save_problem else []) + self.shelf.notes

    def history(self) -> list[Run]:
        """Finished and uploaded runs of this session, newest first (unsaved ones first)."""
        self._write_pending()
        with self._lock:
            pending = [run for run, _ in reversed(self.unsaved)]
        return pending + [run for _, run in self.shelf.read()]

    def trained(self) -> list[tuple[Run, Path]]:
        """Finished runs of this session whose final weights were kept, newest first."""
        self._write_pending()
        return [(run, path) for path, run in self.shelf.read() if path.with_suffix(".pt").exists()]

    def close(self) -> None:
        if self.job is not None:
            self.job.unfollow(self.tab)  # the session's last tab stops following its job
        self.shelf.release()
        self._batch = {}


def _too_big(name: str, content: bytes) -> str | None:
    if len(content) > MAX_FILE_BYTES:
        return (
            f"{name}: this run file is {len(content) / 2**20:.1f} MB; run files of at most "
            f"{MAX_FILE_MB} MB can be uploaded."
        )
    return None


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
        st.session_state["work"] = SessionWork(folder=runs_root() / sid)
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
