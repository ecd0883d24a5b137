"""The Train page's history: this session's finished runs, compared, downloaded and uploaded."""

from __future__ import annotations

import functools

import streamlit as st

from ..plots.curves import error_curves
from ..runs import MAX_FILE_MB, Run, dumps, slug, to_csv
from ..session import SessionWork
from ..shelf import FILE_RECORDS, SESSION
from .pickers import pick_runs, run_names
from .query import literal


def history(work: SessionWork) -> list[Run]:
    """This session's finished runs: compare, download (JSON, CSV), upload one back. Returns
    the runs compared."""
    st.subheader("History")
    upload = st.file_uploader(
        "Compare a run file",
        type=["json"],
        key="train_upload",
        max_upload_size=MAX_FILE_MB,
        help="A .json run file downloaded from ResViz or written by "
        f"`python -m resviz train`, of at most {MAX_FILE_MB} MB and "
        f"{FILE_RECORDS:,} records. A session keeps {SESSION}.",
    )
    if upload is not None and st.session_state.get("train_uploaded") != upload.file_id:
        problem = work.add_upload(upload.name, upload.getvalue())
        if problem:
            st.error(literal(problem))
        else:
            st.session_state["train_uploaded"] = upload.file_id
    runs = work.history()
    for note in work.notes:  # files skipped, runs past the quota or not saved
        st.warning(literal(note))
    if not runs:
        st.caption("Finished runs appear here.")
        return []
    ids = run_names(runs)
    picked = pick_runs("Runs to compare", runs, "train_compare", newest=4)
    if picked:
        # Oldest first, so a job's runs keep the order they had while training.
        st.plotly_chart(error_curves([runs[i] for i in picked[::-1]]), key="train_history_errors")
    for i in picked:
        run = runs[i]
        c1, c2, c3 = st.columns([3, 1, 1])
        c1.markdown(literal(ids[i]))
        name = slug(f"{run.created}-{run.label}")
        # Written when clicked, not on every render of every session's history; a download
        # leaves the page as it is.
        for col, kind, write, mime in (
            (c2, "json", dumps, "application/json"),
            (c3, "csv", to_csv, "text/csv"),
        ):
            col.download_button(
                kind.upper(),
                functools.partial(write, run),
                f"{name}.{kind}",
                mime,
                key=f"train_{kind}{i}",
                on_click="ignore",
            )
    return [runs[i] for i in picked]
