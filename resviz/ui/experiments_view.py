"""The Experiments page's parts: whose sweep, Fig. 6, final error against depth beside the paper."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from .. import data as datasets
from .. import landscape, shattering
from ..depth_changes import NOISE_HELP, against_paper, changes, depth_trend, until_it_hurts
from ..experiments import (
    PAPER_COLUMN,
    Group,
    comparison,
    dataset_title,
    groups,
    mixed_note,
    sweep_runs,
)
from ..models import from_state
from ..paper import CIFAR10, IMAGENET
from ..plots import landscape as landscape_plots
from ..plots.experiments import error_vs_depth, figure6
from ..runs import MAX_FILE_MB, Run, list_runs, load, load_weights
from ..session import SessionWork
from ..shelf import BATCH
from .computed import cached, store
from .pickers import pick_runs
from .query import literal
from .state import dataset

ASSETS = Path(__file__).resolve().parents[2] / "assets"
REFERENCE = ASSETS / "reference"
LANDSCAPES = ASSETS / "landscapes"


def reference_sweeps() -> list[str]:
    """The shipped sweeps: each folder of run files under assets/reference, named for its
    dataset."""
    return sorted(p.name for p in REFERENCE.iterdir() if p.is_dir() and list_runs(p))


@st.cache_resource(show_spinner=False)
def reference_runs(dataset: str) -> tuple[list[Run], str]:
    """The shipped sweep of a dataset and its manifest (read-only: shared by every session)."""
    manifest = REFERENCE / dataset / "MANIFEST.md"
    return (
        [load(p) for p in list_runs(REFERENCE / dataset)],
        manifest.read_text() if manifest.exists() else "",
    )


def _demoted(markdown: str) -> str:
    """A manifest's headings three levels down, so that inside an expander they stay below the
    page's own ("# Reference runs" becomes a level-4 heading)."""
    return re.sub(r"^(#+) ", r"###\1 ", markdown, flags=re.MULTILINE)


# The sweep the page opens on: the one whose runs show both halves of the paper (deeper plain
# networks worse, deeper ResNets better) beyond noise; MNIST-5k shows the first half alone.
FIRST_SWEEP = "scenes"
SOURCES = ("Reference runs", "This session's runs", "Upload run files")
VIEWS = ("Contour", "Surface", "One direction")  # of the reference landscapes


def choose(work: SessionWork) -> tuple[list[Run], str]:
    """The runs to show (reference, this session's, or uploaded) and where they came from."""
    hint = "Reference runs ship with ResViz: no training needed."
    source = st.radio("Runs", SOURCES, horizontal=True, key="exp_source", help=hint)
    if source == "Reference runs":
        sweeps = reference_sweeps()
        name = (
            sweeps[0]
            if len(sweeps) == 1
            else st.radio(
                "Reference sweep",
                sweeps,
                index=sweeps.index(FIRST_SWEEP) if FIRST_SWEEP in sweeps else 0,
                horizontal=True,
                key="exp_sweep",
                format_func=dataset_title,
            )
        )
        runs, manifest = reference_runs(name)
        if manifest:
            with st.expander("How the reference runs were made"):
                st.markdown(_demoted(manifest))
        return sweep_runs(runs), f"{dataset_title(name)} (reference sweep)"
    if source == "This session's runs":
        return sweep_runs(work.history()), "this session's runs"
    files = st.file_uploader(
        "Run files of a sweep",
        type=["json"],
        accept_multiple_files=True,
        key="exp_upload",
        max_upload_size=MAX_FILE_MB,
        help=f"The folder written by `python -m resviz sweep --out DIR`; one upload reads {BATCH}.",
    )
    runs, problems = work.read_batch([(f.name, f.getvalue()) for f in files or []])
    for problem in problems:
        st.error(literal(problem))
    return sweep_runs(runs), "your uploaded runs"


def validation_images(runs: list[Run]) -> dict[str, int]:
    """Dataset -> images in its validation split (the noise of a validation error depends on
    it), known without loading the dataset."""
    return {n: datasets.info(n).val_images for n in {r.train.dataset for r in runs}}


def paper_tables(found: list[Group], val_images: dict[str, int]) -> None:
    st.markdown(
        "**The paper's published numbers** (He et al. 2016): real CIFAR-10 and "
        "ImageNet, hundreds of thousands of steps; not comparable to these runs number "
        "for number. The ordering is what to compare: deeper plain networks worse "
        "(Fig. 6), deeper ResNets better (Table 6)."
    )
    if said := against_paper(changes(found, val_images)):
        st.markdown(f"**Here**, by validation error: {'; '.join(said)}.")
    for rows in (CIFAR10, IMAGENET):  # one under the other: side by side cut the headers off
        st.dataframe(
            [{"network": p.label, f"{p.measure} ({p.source})": p.text} for p in rows],
            hide_index=True,
        )
    st.caption(
        "ResNet-110's 6.43% is the best of the paper's 5 runs; their mean is 6.61% ± "
        "0.16. The paper's CIFAR-10 networks have 16 channels in the first stage, batch "
        "norm and option-A shortcuts, and train for 64,000 steps of batch 128."
    )


def figures(runs: list[Run], source: str, val_images: dict[str, int]) -> list[Group]:
    """Fig. 6, final error against depth and the table; returns the lines drawn."""
    if not runs:
        st.info(
            "No plain or residual runs here yet. Train some on the Train page (the "
            "Degradation preset trains four), or upload the run files of a sweep "
            "(`python -m resviz sweep`, on a computer with ResViz installed)."
        )
        return []
    found = groups(runs)
    st.subheader("The paper's Fig. 6, on " + source)
    st.caption(
        "Thin: training error (averaged over a few steps); bold: validation error. "
        "Plain blue, ResNet orange, darker the deeper; dashed: without batch norm. "
        "Several seeds of one configuration: their mean, in a band of ± one standard "
        "deviation. In the paper (CIFAR-10, 64,000 steps) deeper plain nets have "
        "higher error and deeper ResNets lower; under the next figure, what these runs "
        "show."
    )
    if note := mixed_note(found):
        st.info(note, icon=":material/call_split:")
    st.plotly_chart(figure6(found), key="exp_fig6")
    if len(kinds := {g.residual for g in found}) == 1:
        residual = kinds.pop()
        st.caption(
            f"Only {'residual' if residual else 'plain'} runs here: the "
            f"{'left' if residual else 'right'} panel stays empty."
        )
    st.subheader("Final error against depth")
    st.plotly_chart(error_vs_depth(found), key="exp_error_depth")
    if said := depth_trend(found, val_images):
        st.markdown(said, help=NOISE_HELP)
    for sentence in until_it_hurts(found, val_images):
        st.markdown(f"{sentence}.", help=NOISE_HELP)
    names = {r.train.dataset for r in runs}
    data = dataset_title(names.pop()) if len(names) == 1 else "several datasets"
    # Short headers (a 1024 px projector cut longer ones), their meaning in the help; fixed
    # decimals: a mean of batch errors to 0.01%, a validation error to 0.1%.
    columns = {
        f"training, {data}": (
            "%.2f%%",
            "Final training error: the mean error of the "
            "batches in the last 10% of the steps (the mean "
            "over seeds where there are several).",
        ),
        f"validation, {data}": (
            "%.1f%%",
            "Final validation error: the last evaluation "
            "on the held-out images (the mean over seeds "
            "where there are several).",
        ),
    }
    config = {k: st.column_config.NumberColumn(format=f, help=h) for k, (f, h) in columns.items()}
    config["seeds"] = st.column_config.NumberColumn(help="Runs averaged in the row.")
    config[PAPER_COLUMN] = st.column_config.TextColumn(
        help="Test error on CIFAR-10 in the paper's Table 6, which lists ResNets only: the "
        "plain networks appear only as curves, in Fig. 6. In brackets: how the paper's "
        "network differs from this row's."
    )
    rows = comparison(found, data)
    st.dataframe(rows, hide_index=True, key="exp_table", column_config=config)
    if rows and "seeds" not in rows[0] and found[0].seeds > 1:  # one count for every row
        st.caption(f"Each row is the mean over {found[0].seeds} seeds.")
    return found


@st.cache_resource(show_spinner=False)
def reference_landscapes() -> dict[tuple[int, int], list[landscape.Landscape]]:
    """Shipped landscapes by (depth, dimensions): [plain, ResNet] each (read-only, shared)."""
    found: dict[tuple[int, int], list[landscape.Landscape]] = {}
    for path in sorted(LANDSCAPES.glob("*.json")):  # plain-* sorts before resnet-*
        ls = landscape.load(path)
        found.setdefault((ls.net.depth, ls.ndim), []).append(ls)
    return found


def landscapes(work: SessionWork) -> None:
    st.subheader("Loss landscapes")
    st.markdown(
        "The loss around trained weights, along random directions scaled filter by "
        "filter to the weights' own size (Li et al. 2018), so plain and residual "
        "networks can be compared. Li et al. found ResNets in wide, smooth basins and "
        "deep plain networks on rugged, steep ground. The cross marks where training "
        "ended. The reference landscapes are of their own networks, trained for 200 "
        "steps (not the 800-step reference sweep), so their errors are not the table's."
    )
    shipped = reference_landscapes()
    depths = sorted({d for d, _ in shipped})
    if depths:
        depth = st.radio(
            "Reference landscapes: depth",
            depths,
            index=len(depths) - 1,
            horizontal=True,
            key="exp_ls_depth",
            help="Trained on mnist-5k at width 8, 200 steps of batch 64; see the manifest.",
        )
        hint = "One figure at a time: a 3-D surface is heavy to draw."
        view = st.radio("View", VIEWS, horizontal=True, key="exp_ls_view", help=hint)
        one, two = shipped.get((depth, 1), []), shipped.get((depth, 2), [])
        if view == "One direction" and one:
            st.plotly_chart(landscape_plots.slice_curves(one), key="exp_ls_line")
        elif view == "Surface" and two:
            st.plotly_chart(landscape_plots.surface_pair(two), key="exp_ls_surface")
        elif two:
            st.plotly_chart(landscape_plots.contour_pair(two), key="exp_ls_contour")
        with st.expander("How the reference landscapes were made"):
            st.markdown(_demoted((LANDSCAPES / "MANIFEST.md").read_text()))
    _own_landscapes(work)


def _own_landscapes(work: SessionWork) -> None:
    """The same slice around this session's trained networks, computed here with progress."""
    trained = work.trained()
    st.markdown(
        "**Your own networks.** Pick runs you trained on the Train page (a plain and a "
        "residual one of the same depth compare best)."
    )
    if not trained:
        st.caption("Train a run on the Train page first: its final weights are kept for this.")
        return
    picked = pick_runs("Networks", [r for r, _ in trained], "exp_ls_runs", newest=2, most=2)
    c1, c2, c3 = st.columns(3)
    dims = c1.radio(
        "Slice", (1, 2), format_func=lambda n: f"{n}-D", horizontal=True, key="exp_ls_dims"
    )
    resolution = c2.slider(
        "Points per axis",
        5,
        41 if dims == 1 else 21,
        21 if dims == 1 else 11,
        step=2,
        key="exp_ls_resolution",
        help="Odd, so the trained weights are a grid point. 2-D costs the "
        "square: 11 x 11 is 121 evaluations.",
    )
    span = c3.select_slider(
        "Span",
        (0.25, 0.5, 1.0),
        value=1.0,
        key="exp_ls_span",
        help="How far from the trained weights, in units of each filter's "
        "own norm; the paper and the reference landscapes use 1.",
    )
    # Plain on the left, as in the reference landscapes.
    chosen = sorted((trained[i] for i in picked), key=lambda t: t[0].net.residual)
    keys = [("landscape", str(path), dims, resolution, span) for _, path in chosen]
    # Drawn again on every rerun once computed: another control must not make it vanish.
    if not chosen or not (
        all(map(store().has, keys)) or st.button("Compute", key="exp_ls_go", type="primary")
    ):
        return
    done = []
    for (run, path), key in zip(chosen, keys):
        data = dataset(run.train.dataset)
        net = from_state(run.net, load_weights(path))
        done.append(
            cached(
                key,
                lambda on, net=net, data=data: landscape.measure(
                    net, data, dims, resolution, span, subset=250, progress=on
                ),
                f"Computing the landscape of {run.label}...",
                steps=True,
            )
        )
    fig = landscape_plots.slice_curves(done) if dims == 1 else landscape_plots.contour_pair(done)
    st.plotly_chart(fig, key="exp_ls_own")
    st.caption("Loss on 250 training images (the reference landscapes use 500).")


def shattered() -> None:
    st.subheader("Shattered gradients")
    st.markdown(
        "Walk in small steps from one digit to another and take the gradient of the "
        "network's output with respect to the image at each step. In a shallow network, "
        "neighbouring steps get nearly the same gradient; in a deep plain network the "
        "gradients decorrelate until they look like noise (“shattered”), so the signal "
        "that gradient descent follows is noise too. Skip connections keep them "
        "correlated (Balduzzi et al. 2017). Measured here at initialisation; dashed "
        "lines are the same networks without batch norm. Each point is one network, "
        "one initialisation and one path between two digits, so single points wobble: "
        "read the gap between the plain and the residual lines."
    )
    key = ("shattering", "mnist-5k")
    if not store().has(key) and not st.button(
        "Measure it (24 networks, about 15-30 s, once for everyone)", key="exp_shatter_go"
    ):
        return
    result = cached(
        key,
        lambda on: shattering.shattering(dataset("mnist-5k"), progress=on),
        "Measuring gradient correlations...",
        steps=True,
    )
    st.plotly_chart(landscape_plots.shattering_curves(result), key="exp_shattering")
