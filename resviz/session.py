"""One learner's session: the job it follows and its folder of finished and uploaded runs.

Nothing here knows about Streamlit: the app keeps one `SessionWork` per browser session
(`resviz.ui.state.work`) and passes in the job manager every session shares.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from .jobs import JobManager
from .runs import (
    MAX_FILE_BYTES,
    MAX_FILE_MB,
    Run,
    RunFileError,
    save,
    save_weights,
    write_problem,
)
from .shelf import BATCH, FILE_RECORDS, SESSION, RunFolder, digest, parse
from .tickets import Ticket


@dataclass
class SessionWork:
    """This session's training: the current job and its folder of finished runs. Never shared.

    The folder's name is the session id the URL carries (`?session=...`), so a reload, a new tab
    or a restarted server finds the same history again. Its runs are read within the session's
    quota (`resviz.shelf.SESSION`); runs a full or read-only disk would not take stay here, shown
    in the history and offered for download, and are written as soon as the disk allows.
    """

    manager: JobManager
    folder: Path  # named after the session
    job: Ticket | None = None
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
            self.follow(self.manager.submit(specs, on_finish=self._save, owner=self.id))
        assert self.job is not None  # followed just now, or busy with it
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
        """Run files uploaded together (Experiments) within `resviz.shelf.BATCH`: the runs, and
        one sentence for each file refused. Parsed once per content; held while shown."""
        runs: list[Run] = []
        problems: list[str] = []
        held: dict[str, Run] = {}
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
