"""Reading the Build page's network from a URL: what a shared link may hold, and what it may not."""
import pytest

from resviz.config import NetConfig
from resviz.ui.query import parse, to_params

DEFAULT = NetConfig()


@pytest.mark.parametrize("cfg", [DEFAULT, NetConfig(depth=110, residual=False, width=8),
                                 NetConfig(depth=56, batch_norm=False, shortcut="B"),
                                 NetConfig(family="imagenet", depth=34, width=32)])
def test_a_written_url_reads_back_unchanged(cfg):
    assert parse(to_params(cfg)) == (cfg, [])


def test_a_teachers_short_link():
    assert parse({"depth": "56", "arch": "plain"}) == (NetConfig(depth=56, residual=False), [])
    # A bare ImageNet depth picks the ImageNet family and its width.
    assert parse({"depth": "34"}) == (NetConfig(family="imagenet", depth=34), [])
    assert parse({"shortcut": "b", "arch": " Residual "})[0].shortcut == "B"


@pytest.mark.parametrize("params, why", [
    ({"depth": "abc"}, "6n+2: 8, 14, 20, 32, 44, 56 or 110; using 20"),
    ({"depth": "21"}, "6n+2: 8, 14, 20, 32, 44, 56 or 110; using 20"),
    ({"width": "0"}, "from 1 to 512; using 16"),
    ({"width": "99999"}, "from 1 to 512; using 16"),
    ({"width": "2.5"}, "whole number"),
    ({"arch": "resnet"}, "plain or residual; using residual"),
    ({"bn": "yes"}, "0 (off) or 1 (on); using 1"),
    ({"shortcut": "C"}, "A (zero-padding) or B (projection); using A"),
    ({"family": "vgg"}, "cifar or imagenet; using cifar"),
])
def test_bad_values_fall_back_with_one_note(params, why):
    cfg, notes = parse(params)
    assert cfg == DEFAULT
    (key, raw), = params.items()
    assert len(notes) == 1 and notes[0].startswith(f"Ignored `{key}={raw}`") and why in notes[0]


def test_a_depth_of_the_other_family_is_refused():
    cfg, notes = parse({"family": "imagenet", "depth": "20"})
    assert cfg == NetConfig(family="imagenet", depth=18)
    assert notes == ["Ignored `depth=20`: ImageNet-style depths are 18 or 34; using 18."]


def test_unknown_settings_and_markdown_are_named_not_rendered():
    cfg, notes = parse({"dpeth": "56", "depth": "`**56**`"})
    assert cfg == DEFAULT
    assert notes[0].startswith("Ignored `dpeth`: the builder reads only family, depth")
    assert notes[1].startswith("Ignored `depth=**56**`")
