"""Reading the Build page's network from a URL: what a shared link may hold, and what it may not;
the session id in every page's address; text from a URL or a file shown literally."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from resviz.config import NetConfig, TrainConfig
from resviz.plots.curves import error_curves, loss_curves
from resviz.runs import Run
from resviz.ui.query import DEFAULT_WIDTH, literal, parse, to_params
from tests.helpers import ROOT, TIMEOUT

DEFAULT = NetConfig(width=DEFAULT_WIDTH["cifar"])  # the presets' width, 8


@pytest.mark.parametrize(
    "cfg",
    [
        DEFAULT,
        NetConfig(depth=110, residual=False, width=8),
        NetConfig(depth=56, batch_norm=False, shortcut="B"),
        NetConfig(family="imagenet", depth=34, width=32),
    ],
)
def test_a_written_url_reads_back_unchanged(cfg):
    assert parse(to_params(cfg)) == (cfg, [])


def test_a_teachers_short_link():
    assert parse({"depth": "56", "arch": "plain"}) == (
        NetConfig(depth=56, residual=False, width=8),
        [],
    )
    # A bare ImageNet depth picks the ImageNet family and its width.
    assert parse({"depth": "34"}) == (NetConfig(family="imagenet", depth=34, width=8), [])
    assert parse({"shortcut": "b", "arch": " Residual "})[0].shortcut == "B"


@pytest.mark.parametrize(
    "params, why",
    [
        ({"depth": "abc"}, "6n+2: 8, 14, 20, 32, 44, 56 or 110; using 20"),
        ({"depth": "21"}, "6n+2: 8, 14, 20, 32, 44, 56 or 110; using 20"),
        ({"width": "0"}, "from 1 to 512; using 8"),
        ({"width": "99999"}, "from 1 to 512; using 8"),
        ({"width": "2.5"}, "whole number"),
        ({"arch": "resnet"}, "plain or residual; using residual"),
        ({"bn": "yes"}, "0 (off) or 1 (on); using 1"),
        ({"shortcut": "C"}, "A (zero-padding) or B (projection); using A"),
        ({"family": "vgg"}, "cifar or imagenet; using cifar"),
    ],
)
def test_bad_values_fall_back_with_one_note(params, why):
    cfg, notes = parse(params)
    assert cfg == DEFAULT
    ((key, raw),) = params.items()
    assert len(notes) == 1 and notes[0].startswith(f"Ignored `{key}={raw}`") and why in notes[0]


def test_a_depth_of_the_other_family_is_refused():
    cfg, notes = parse({"family": "imagenet", "depth": "20"})
    assert cfg == NetConfig(family="imagenet", depth=18, width=DEFAULT_WIDTH["imagenet"])
    assert notes == ["Ignored `depth=20`: ImageNet-style depths are 18 or 34; using 18."]


def test_unknown_settings_and_markdown_are_named_not_rendered():
    cfg, notes = parse({"dpeth": "56", "depth": "`**56**`"})
    assert cfg == DEFAULT
    assert notes[0].startswith("Ignored `dpeth`: the builder reads only family, depth")
    assert notes[1].startswith("Ignored `depth=**56**`")


HOSTILE = [
    "# heading",
    "![img](http://e.x/i.png)",
    "[link](http://e.x)",
    "<img src=x>",
    "**bold** _it_ `code`",
    "$x^2$",
    ":red[red] :material/home:",
    "www.e.x a@b.c",
    "a\nb\r\n- item",
    "1. list",
    "> quote",
    "back\\slash",
    "| table |",
    "~~gone~~",
    "http://e.x/i.png WWW.E.X mailto:a@b.c",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_literal_text_escapes_every_mark_markdown_could_read(text):
    shown = literal(text)
    assert "\n" not in shown and "\r" not in shown
    # Every ASCII punctuation mark is escaped (CommonMark shows "\X" as X), so nothing is syntax.
    assert re.fullmatch(r"(?:\\[!-/:-@\[-`{-~]|[^!-/:-@\[-`{-~])*", shown)
    # GitHub-style autolinks are matched after escapes are undone: none may remain.
    unescaped = re.sub(r"\\(.)", r"\1", shown)
    assert not re.search(r"(?i)www\.|://|\w@", unescaped)
    assert unescaped.replace("\u2060", "") == " ".join(text.splitlines())


def _app_with_session(page: str) -> tuple[AppTest, str]:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    sid = at.session_state["work"].id
    at.switch_page(page)
    return at, sid


def _session_param(at: AppTest) -> str:
    value = at.query_params["session"]
    return value[0] if isinstance(value, list) else value


@pytest.mark.parametrize(
    "page",
    [
        "pages/convolutions.py",
        pytest.param("pages/residual_block.py", marks=pytest.mark.xdist_group("block")),
        "pages/build.py",
        "pages/train.py",
        "pages/gradient_flow.py",
        pytest.param("pages/inside.py", marks=pytest.mark.xdist_group("inside")),
        "pages/experiments.py",
        "pages/home.py",
    ],
)
def test_every_page_puts_the_session_back_in_the_address(page):
    at, sid = _app_with_session(page)
    at.query_params.clear()  # what the browser does when another page opens
    at.run()
    assert not at.exception
    assert _session_param(at) == sid and at.session_state["work"].id == sid


def test_build_writes_its_network_and_keeps_the_session_and_a_reload_finds_it():
    at, sid = _app_with_session("pages/build.py")
    at.query_params.clear()
    at.query_params["depth"] = "56"
    at.run()
    params = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert params == {**to_params(NetConfig(depth=56, width=8)), "session": sid}
    reload = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    reload.query_params.update(params)  # the same address, a new browser session
    reload.run()
    reload.switch_page("pages/train.py")
    reload.run()
    assert reload.session_state["work"].id == sid


def test_a_legend_shows_a_run_name_as_typed_not_as_plotly_markup():
    run = Run(
        net=NetConfig(depth=8),
        train=TrainConfig(steps=1),
        name="<a href='x'>a & b</a>",
        records=[{"step": 1, "train_loss": 2.0, "train_error": 0.5, "val_error": 0.4}],
    )
    names = [t.name for fig in (error_curves([run]), loss_curves([run])) for t in fig.data]
    escaped = "&lt;a href='x'&gt;a &amp; b&lt;/a&gt;"  # Plotly shows entities as the characters
    assert names == [f"{escaped} train", f"{escaped} validation", escaped]
