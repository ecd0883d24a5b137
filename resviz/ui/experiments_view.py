"""The Experiments page's parts: whose sweep, Fig. 6, final error against depth beside the paper."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from ..paper import CIFAR10, IMAGENET, published
from ..plots.experiments import error_vs_depth, figure6, final_errors
from ..runs import Run, RunFileError, list_runs, load, loads
from .state import SessionWork

REFERENCE = Path(__file__).resolve().parents[2] / "assets" / "reference"


@st.cache_resource(show_spinner=False)
def reference_runs(dataset: str) -> tuple[list[Run], str]:
    """The shipped sweep of a dataset and its manifest (read-only: shared by every session)."""
    folder = REFERENCE / dataset
    manifest = folder / "MANIFEST.md"
    return ([load(p) for p in list_runs(folder)],
            manifest.read_text() if manifest.exists() else "")


def sweep_runs(runs: list[Run]) -> list[Run]:
    """CIFAR-style runs only (the depth axis of Fig. 6), one per kind and depth: the newest."""
    seen: dict[tuple, Run] = {}
    for run in runs:
        if run.net.family == "cifar" and run.records:
            seen.setdefault((run.net.residual, run.net.depth, run.net.batch_norm), run)
    return list(seen.values())


def choose(work: SessionWork) -> tuple[list[Run], str]:
    """The runs to show (reference, this session's, or uploaded) and where they came from."""
    source = st.radio("Runs", ("Reference runs", "This session's runs", "Upload run files"),
                      horizontal=True, key="exp_source",
                      help="Reference runs ship with ResViz: no training needed.")
    if source == "Reference runs":
        runs, manifest = reference_runs("mnist-5k")
        if manifest:
            with st.expander("How the reference runs were made"):
                st.markdown(manifest)
        return sweep_runs(runs), "MNIST-5k digits (reference sweep)"
    if source == "This session's runs":
        return sweep_runs(work.history()), "this session's runs"
    files = st.file_uploader("Run files of a sweep", type=["json"], accept_multiple_files=True,
                             key="exp_upload",
                             help="The folder written by `python -m resviz sweep --out DIR`.")
    runs = []
    for f in files or []:
        try:
            runs.append(loads(f.getvalue()))
        except RunFileError as e:
            st.error(f"{f.name}: {e}.")
    return sweep_runs(runs), "your uploaded runs"


def comparison(runs: list[Run], dataset: str) -> list[dict]:
    """One row per network: our final errors beside the paper's, each labelled with its data."""
    rows = []
    for run in sorted(runs, key=lambda r: (r.net.residual, r.net.depth)):
        train, val = final_errors(run)
        paper = published(run.net.residual, run.net.depth)
        rows.append({"network": run.label, f"training error, {dataset}": train,
                     f"validation error, {dataset}": val,
                     "paper: CIFAR-10 test error (Table 6)": paper and paper.error})
    return rows


def paper_tables() -> None:
    st.markdown("**The paper's published numbers** (He et al. 2016): real CIFAR-10 and "
                "ImageNet, hundreds of thousands of steps; not comparable to digits number for "
                "number, but the ordering is the claim.")
    left, right = st.columns(2)
    for col, rows in ((left, CIFAR10), (right, IMAGENET)):
        col.dataframe([{"network": p.label, p.measure: f"{p.error:.2%}", "source": p.source}
                       for p in rows], hide_index=True)


def figures(runs: list[Run], source: str) -> None:
    if not runs:
        st.info("No CIFAR-style runs here yet. Train some on the Train page, or run "
                "`python -m resviz sweep --out my-sweep` and upload its files.")
        return
    st.subheader("The paper's Fig. 6, on " + source)
    st.caption("Thin: training error (averaged over a few steps); bold: validation error. One "
               "colour per depth. In the paper, deeper plain nets have higher error; deeper "
               "ResNets lower.")
    st.plotly_chart(figure6(runs), key="fig6")
    st.subheader("Final error against depth")
    st.plotly_chart(error_vs_depth(runs), key="error_depth")
    percent = st.column_config.NumberColumn(format="percent")
    rows = comparison(runs, "MNIST-5k" if "MNIST" in source else "our data")
    st.dataframe(rows, hide_index=True, key="exp_table",
                 column_config={k: percent for k in rows[0] if k != "network"})
