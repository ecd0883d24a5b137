"""The Build page under AppTest: what a learner sees, clicks and shares."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from resviz.config import NetConfig, TrainConfig
from resviz.models import build, count_params
from resviz.presets import PRESETS
from tests.helpers import figures, over_budget

APP = Path(__file__).resolve().parent.parent / "app.py"


def open_builder(url: dict | None = None, **state) -> AppTest:
    """The Build page as a link opens it: router first, then the page with `url` as its query."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    at.switch_page("pages/build.py")
    at.query_params.update(url or {})
    at.run()
    assert not at.exception, at.exception
    return at


def skips(fig: dict) -> int:
    return sum(1 for t in fig["data"] if "skip" in (t.get("meta") or {}))


def boxes(fig: dict) -> int:
    return sum(1 for s in fig["layout"]["shapes"] if s["type"] == "rect")


def test_default_render_shows_resnet20_with_its_nine_skips():
    at = open_builder()
    diagram, paper = list(figures(at).values())
    assert skips(diagram) == 9 and skips(paper) == 0 + 8 + 0 + 16
    # MNIST-5k: one channel, ten classes; the width the Degradation preset trains ResNet-20 at
    (net,) = [n for n in PRESETS["degradation"].nets if n.label == "ResNet-20"]
    n = count_params(build(NetConfig(depth=20, width=net.width, in_channels=1, num_classes=10)))
    assert at.select_slider(key="build_width").value == net.width
    # Compact, so a projector's narrow column shows all of it; the exact count on hover.
    assert at.metric[0].value == f"{n / 1e3:.1f}k" and at.metric[0].help.startswith(f"{n:,} ")
    assert at.metric[2].value == "9"
    table = at.dataframe[0].value
    assert len(table) == 40 and table["parameters"].sum() == n
    assert f"the same {n:,} parameters" in at.caption[0].value
    side = at.dataframe[1].value
    assert side.loc["parameters", "plain-18"] == side.loc["parameters", "ResNet-18"]
    assert at.query_params["depth"] == "20" and at.query_params["arch"] == "residual"
    # The paper's Table 1 defines the 18- and 34-layer nets; its Figure 3 draws only the 34s.
    assert any(
        "Table 1 defines them, Figure 3 draws the 34-layer pair" in m.value for m in at.markdown
    )


def test_plain_has_no_skips_and_deeper_has_more_blocks():
    at = open_builder()
    before, params = list(figures(at).values())[0], at.metric[0].value
    at.button_group(key="build_arch").set_value(False).run()
    plain = list(figures(at).values())[0]
    assert skips(plain) == 0 and boxes(plain) == boxes(before)
    assert at.metric[0].value == params and at.metric[2].value == "0"  # option A: same count
    assert at.query_params["arch"] == "plain"
    at.selectbox(key="build_depth").set_value(32).run()
    deeper = list(figures(at).values())[0]
    assert boxes(deeper) == boxes(plain) + 2 * 6  # two more blocks in each of three stages
    assert at.subheader[0].value.startswith("plain-32")


def test_a_deep_network_opens_folded_and_unfolds_on_request():
    at = open_builder({"depth": "110"})
    folded = list(figures(at).values())[0]
    assert at.button_group(key="build_unfold").value == []
    assert boxes(folded) == 3 + 4 and skips(folded) == 0  # input, stem, 3 stages, pool, fc
    at.button_group(key="build_unfold").set_value(["stage2"]).run()
    assert skips(list(figures(at).values())[0]) == 18


def test_switching_family_picks_its_depth_and_width():
    at = open_builder()
    at.button_group(key="build_family").set_value("imagenet").run()
    assert at.selectbox(key="build_depth").value == 18
    (imagenet,) = {n.width for p in PRESETS.values() for n in p.nets if n.family == "imagenet"}
    assert at.select_slider(key="build_width").value == imagenet  # as the paper-figure preset
    assert skips(list(figures(at).values())[0]) == 8
    assert at.query_params["family"] == "imagenet"


def test_a_bad_link_says_what_it_ignored():
    at = open_builder({"depth": "21", "width": "99999"})
    (note,) = at.info
    assert "`depth=21`" in note.value and "`width=99999`" in note.value
    assert at.selectbox(key="build_depth").value == 20
    assert skips(list(figures(at).values())[0]) == 9
    assert at.query_params["depth"] == "20" and at.query_params["width"] == "8"


def test_a_shared_link_preselects_its_network():
    at = open_builder({"depth": "56", "arch": "plain", "width": "32", "bn": "0", "shortcut": "B"})
    assert not at.info
    assert at.selectbox(key="build_depth").value == 56
    assert at.button_group(key="build_arch").value is False
    assert at.select_slider(key="build_width").value == 32
    assert at.toggle(key="build_bn").value is False
    assert at.button_group(key="build_shortcut").value == "B"
    assert at.subheader[0].value.startswith("plain-56")


def test_classroom_mode_keeps_the_essentials_and_draws_bigger():
    normal, big = open_builder(), open_builder(classroom=True)
    assert [w.key for w in big.select_slider] == [] and "build_bn" not in [
        t.key for t in big.toggle
    ]
    assert big.selectbox(key="build_depth").value == 20
    assert (
        list(figures(big).values())[0]["layout"]["height"]
        > list(figures(normal).values())[0]["layout"]["height"]
    )


def test_train_this_network_says_what_it_trains_and_sends_it_to_the_train_page():
    at = open_builder()
    default = TrainConfig()
    offer = next(m.value for m in at.markdown if m.value.startswith("**Train it:**"))
    assert offer.startswith(
        f"**Train it:** ResNet-20 on MNIST-5k, {default.steps} steps at batch "
        f"{default.batch_size} (learning rate {default.lr:g}, seed {default.seed})"
    )
    at.button(key="build_train").click().run()
    work = at.session_state["work"]
    try:
        assert at.title[0].value == "Train plain and residual networks"
        # The network drawn on Build, sized for MNIST-5k: one channel in, ten classes out.
        ((net, train),) = [(r.net, r.train) for r in work.job.runs]
        assert (net.label, net.width, net.in_channels, net.num_classes) == ("ResNet-20", 8, 1, 10)
        assert (train.steps, train.batch_size) == (default.steps, default.batch_size)
        assert "**ResNet-20**" in [m.value for m in at.markdown]  # the live view's run
        # Back on Build while it trains: no second job, and the reason on the page.
        at.switch_page("pages/build.py").run()
        assert at.button(key="build_train").disabled
        assert "A run is in progress: wait for it or stop it." in [c.value for c in at.caption]
    finally:
        work.job.stop()


def test_a_network_too_large_for_memory_is_refused_in_one_sentence():
    at = open_builder({"family": "imagenet", "depth": "34", "width": "256"})
    at.button(key="build_train").click().run()
    (error,) = at.error
    assert over_budget("ResNet-34", 64).fullmatch(error.value), error.value
    assert at.session_state["work"].job is None
    assert at.title[0].value == "Build a network"
