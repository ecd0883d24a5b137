"""Run files held in memory: each file's content parsed once for every session that holds it,
and a session's folder of runs read within its quota (`RunFolder`).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from .runs import Run, RunFileError, list_runs, loads, write_problem


@dataclass(frozen=True)
class Quota:
    """How much one session (or one upload) may hold: run files, bytes, records."""

    files: int
    bytes: int
    records: int

    def __str__(self) -> str:
        return (
            f"at most {self.files} run files, {self.bytes / 2**20:.0f} MB and "
            f"{self.records:,} records"
        )

    def admits(self, files: int, size: int, records: int) -> bool:
        return files <= self.files and size <= self.bytes and records <= self.records


# A Train form job is 4 networks of up to 5,000 steps (a record each): 20,000 records, about
# 20 MB of files with per-layer probes. Parsed, a record takes ~1 KB (probed ones more).
FILE_RECORDS = 20_000
SESSION = Quota(files=40, bytes=40 * 2**20, records=60_000)
BATCH = Quota(files=16, bytes=10 * 2**20, records=30_000)  # one upload of several files

# Parsed runs by their file's content, shared by every session and tab that holds one (the
# teacher's projected session and thirty students on its address parse it once); weak, so a run
# is freed when the last session holding it closes. Shared runs are read-only.
_parsed: weakref.WeakValueDictionary[str, Run] = weakref.WeakValueDictionary()
_refused: OrderedDict[tuple[str, int], str] = OrderedDict()  # sentences of recent bad files
_parsing = threading.Lock()


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def parse(data: bytes, max_records: int = FILE_RECORDS, key: str | None = None) -> Run:
    """`loads`, once per file content: a file seen before (by any session) is not parsed again.

    The run is shared: never change it. `key` is `digest(data)` when the caller has it.
    """
    key = key or digest(data)
    run = cached(key, max_records)
    if run is not None:
        return run
    try:
        run = loads(data, max_records)
    except RunFileError as e:
        with _parsing:
            _refused[(key, max_records)] = str(e)
            while len(_refused) > 256:
                _refused.popitem(last=False)
        raise
    with _parsing:
        return _parsed.setdefault(key, run)


def cached(key: str, max_records: int = FILE_RECORDS) -> Run | None:
    """The run parsed from content `key` if one is held; `RunFileError` if it was refused."""
    with _parsing:
        run, refused = _parsed.get(key), _refused.get((key, max_records))
    if refused is not None:
        raise RunFileError(refused)
    if run is not None and len(run.records) > max_records:
        raise RunFileError(
            f"this run file has {len(run.records):,} records; at most "
            f"{max_records:,} can be read here"
        )
    return run


class RunFolder:
    """A session's folder of run files, read newest first within its quota.

    Every read lists the folder; a file is read and parsed only when it is new (`parse`), and
    this folder holds its runs until the next read. A file that cannot be read is skipped with
    a note (`notes`), never raised; so are the older files past the quota.
    """

    def __init__(self, path: Path, quota: Quota = SESSION):
        self.path, self.quota = Path(path), quota
        self.notes: list[str] = []
        self.used = (0, 0, 0)  # files, bytes and records the last read showed
        self._held: dict[str, Run] = {}
        self._digests: dict[tuple, str] = {}  # (name, size, mtime, inode) -> content digest

    def read(self) -> list[tuple[Path, Run]]:
        found: list[tuple[Path, Run]] = []
        held: dict[str, Run] = {}
        notes: list[str] = []
        stamps: dict[tuple, str] = {}
        size = records = 0
        paths = list_runs(self.path)
        for i, path in enumerate(paths):
            key: str | None = None
            try:
                stat = path.stat()
                # Files are replaced by rename, never rewritten in place: a new inode, a new key.
                stamp = (path.name, stat.st_size, stat.st_mtime_ns, stat.st_ino)
                key = self._digests.get(stamp)
                run = cached(key) if key else None
                if run is None:
                    data = path.read_bytes()
                    key = digest(data)
                    run = parse(data, FILE_RECORDS, key)
            except FileNotFoundError:
                continue  # replaced or removed meanwhile
            except (RunFileError, OSError) as e:
                reason = e if isinstance(e, RunFileError) else write_problem(e)
                notes.append(f"{path.name} was skipped: {reason}.")
                continue
            finally:
                if key:
                    stamps[stamp] = key
            if not self.quota.admits(
                len(found) + 1, size + stat.st_size, records + len(run.records)
            ):
                left = len(paths) - i
                notes.append(
                    f"{left} older run file{'s are' if left > 1 else ' is'} not shown: "
                    f"a session shows {self.quota}."
                )
                break
            found.append((path, run))
            assert key is not None  # the run above was found or parsed by its digest
            held[key] = run
            size, records = size + stat.st_size, records + len(run.records)
        self._held, self._digests, self.notes = held, stamps, notes
        self.used = (len(found), size, records)
        return found

    def release(self) -> None:
        """Let go of the parsed runs (a closed session): shared ones stay while others hold them."""
        self._held, self._digests = {}, {}
