"""Caches and per-session state. Only immutable or thread-safe things are shared between sessions."""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from .. import data as datasets
from ..jobs import Job, JobManager
from ..runs import Run, RunFileError, list_runs, load, loads, save, save_weights
from ..runtime import configure_threads, cpu_quota, describe_device, fast_precision, pick_device


@dataclass(frozen=True)
class Runtime:
    threads: int
    max_jobs: int
    device: str      # one line for the sidebar
    precision: str   # what training runs in here: "bf16" where the hardware has it


@st.cache_resource
def runtime() -> Runtime:
    """Threads, job cap, device and precision, set once per process from the CPU quota.

    Small convnets gain little past 4 threads, so a big host runs several jobs of 4 threads
    instead of one of 16; a 2-core host runs one job of 2 threads at a time.
    """
    threads = configure_threads(min(cpu_quota(), 4))
    device = pick_device()
    return Runtime(threads, max(1, cpu_quota() // threads), describe_device(device),
                   fast_precision(device))


@st.cache_resource
def manager() -> JobManager:
    """One for the whole server: the global cap on concurrent training jobs."""
    return JobManager(max_running=runtime().max_jobs)


@st.cache_resource(show_spinner=False)
def dataset(name: str) -> datasets.Dataset:
    """Read-only tensors shared by every session (never trained on in place)."""
    return datasets.load(name)


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
    """This session's training: the current job and its folder of finished runs. Never shared."""
    job: Job | None = None
    folder: Path = field(default_factory=lambda: runs_root() / uuid.uuid4().hex[:12])
    saved: set[int] = field(default_factory=set)  # ids of jobs whose runs are already saved

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.active

    def start(self, specs) -> Job:
        """Submit a job, unless one is still training (a double click must not start two)."""
        if not self.busy:
            self.job = manager().submit(specs)
        return self.job

    def collect(self) -> bool:
        """Save a finished job's runs into the session's folder, once. True when it did."""
        job = self.job
        if job is None or job.active or id(job) in self.saved:
            return False
        self.saved.add(id(job))
        for run, weights in zip(job.snapshot().runs, job.weights):
            if run.records:
                path = save(run, self.folder, f"{run.created}-{run.label}-{uuid.uuid4().hex[:6]}")
                if weights is not None:
                    save_weights(weights, path)
        return True

    def add_upload(self, name: str, content: bytes) -> str | None:
        """Keep an uploaded run file for comparison; the reason it was refused, or None."""
        try:
            save(loads(content), self.folder, f"uploaded-{name}")
        except RunFileError as e:
            return f"{name}: {e}."
        return None

    def history(self) -> list[Run]:
        """Finished and uploaded runs of this session, newest first."""
        return [load(p) for p in list_runs(self.folder)]

    def trained(self) -> list[tuple[Run, Path]]:
        """Finished runs of this session whose final weights were kept, newest first."""
        return [(load(p), p) for p in list_runs(self.folder) if p.with_suffix(".pt").exists()]

    def close(self) -> None:
        if self.job is not None:
            self.job.stop()


def _close_all(works: list[SessionWork]) -> None:
    for w in works:
        w.close()


@st.cache_resource(scope="session", on_release=_close_all, show_spinner=False)
def _closed_with_session() -> list[SessionWork]:
    """A session-scoped cache is released when the tab closes: that stops the session's jobs."""
    return []


def work() -> SessionWork:
    """This session's work (in `st.session_state`), created on first use."""
    if "work" not in st.session_state:
        st.session_state["work"] = SessionWork()
        _closed_with_session().append(st.session_state["work"])
    return st.session_state["work"]
