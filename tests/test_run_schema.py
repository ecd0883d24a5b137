"""Hostile run files, generated: every one is refused with one sentence, or it loads into a run
that every page can draw (curves, CSV, gradient matrices and profiles, final errors) and that
saves and reads back unchanged."""

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resviz import gradients, schema
from resviz.config import NetConfig, TrainConfig
from resviz.plots import curves
from resviz.plots import gradients as gradient_plots
from resviz.plots.styles import run_style
from resviz.runs import Run, RunFileError, dumps, load, loads, save, to_csv
from resviz.sweep import final_errors

BASE = json.loads(
    dumps(
        Run(
            net=NetConfig(depth=8, width=4),
            train=TrainConfig(steps=3),
            status="done",
            name="base",
            env={"device": "CPU", "threads": 1},
            records=[
                {
                    "step": s,
                    "epoch": 0.01 * s,
                    "train_loss": 2.0 / s,
                    "train_error": 0.5,
                    "lr": 0.1,
                    "images_per_s": 900.0,
                    "val_loss": None,
                    "val_error": 0.4 if s == 3 else None,
                    "elapsed": 0.1 * s,
                    "grad_norms": {"stem.conv": 0.3, "fc": 0.1} if s != 2 else None,
                    "block_grad_norms": {"stage1.block1": 0.2, "stage3.block1": 0.05}
                    if s != 2
                    else None,
                    "act_std": {"stage1.block1.conv1": 1.0} if s != 2 else None,
                }
                for s in (1, 2, 3)
            ],
        )
    )
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            0,
            1,
            3,
            -1,
            0.0,
            1.0,
            1e308,
            1e-320,
            "done",
            "mnist-5k",
            "",
            "[x](http://e.x)",
            "![i](http://e.x/i.png)",
            "# h",
            "<a href='x'>",
            "stem.conv",
            "a\nb",
            "x" * 101,
        ]
    ),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value, path=()):
    """Every place in the JSON tree: (path to it, whether it is a dict)."""
    yield path, isinstance(value, dict)
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for k, v in children:
        yield from _paths(v, (*path, k))


def _at(tree, path):
    for k in path:
        tree = tree[k]
    return tree


@st.composite
def hostile(draw):
    """The base file with a few of its values replaced, keys added or removed, as JSON text
    (NaN, Infinity and 1e999 included)."""
    d = json.loads(json.dumps(BASE))
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(d))
        path, is_dict = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "add", "drop"]))
        if action == "add" and is_dict:
            _at(d, path)[draw(st.sampled_from(["step", "name", "colour", "stem.conv", "x"]))] = (
                draw(json_values)
            )
        elif action == "drop" and path:
            parent = _at(d, path[:-1])
            del parent[path[-1]]
        elif path:
            _at(d, path[:-1])[path[-1]] = draw(json_values)
    text = json.dumps(d)
    if draw(st.booleans()):
        old, new = draw(
            st.sampled_from(
                [
                    ('"step": 1,', '"step": 1e999,'),
                    ('"train_loss": 2.0', '"train_loss": 1e999'),
                    ('"lr": 0.1', '"lr": -Infinity'),
                    ('"width": 4', '"width": NaN'),
                ]
            )
        )
        text = text.replace(old, new, 1)
    return text


def _one_sentence(message: str) -> bool:
    return (
        message
        and "\n" not in message
        and "Traceback" not in message
        and not message.endswith(".")
        and len(message) < 400
    )


def _drawable(run: Run) -> None:
    """What the pages do with a run: none of it may raise, and every number is finite."""
    for fig in (curves.error_curves([run]), curves.loss_curves([run])):
        for trace in fig.data:
            assert all(y is None or math.isfinite(y) for y in trace.y)
    to_csv(run)
    final_errors(run)
    for key in schema.PROBES:
        m = gradients.matrix(run, key)
        gradient_plots.heatmap(m, run.label)
        for step in m.steps:
            gradient_plots.profile([(run.label, m.layers, m.at(step), run_style(run.net))], key)
    assert gradients.probe_steps([run]) == gradients.matrix(run, "block_grad_norms").steps


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile())
def test_a_hostile_run_file_is_refused_in_one_sentence_or_drawn(text):
    try:
        run = loads(text)
    except RunFileError as err:
        assert _one_sentence(str(err)), str(err)
        return
    _drawable(run)
    assert loads(dumps(run)) == run  # what the app would save reads back unchanged


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_any_json_at_all_is_refused_in_one_sentence(value):
    try:
        loads(json.dumps(value))
    except RunFileError as err:
        assert _one_sentence(str(err)), str(err)
    else:
        raise AssertionError("random JSON loaded as a run")


def test_the_brick_file_is_refused_and_never_saved(tmp_path):
    """Item 1 of the hardening issue: step 1e999 once passed the record check and was saved as
    null, and every page that read the folder raised from then on."""
    text = json.dumps(BASE, separators=(",", ":")).replace('"step":1,', '"step":1e999,', 1)
    try:
        loads(text)
    except RunFileError as err:
        assert str(err) == (
            "this run file is invalid (record 1's step must be a whole number, not infinity)"
        )
    else:
        raise AssertionError("the brick loaded")
    path = save(loads(json.dumps(BASE)), tmp_path, "good")
    assert load(path).records[0]["step"] == 1
