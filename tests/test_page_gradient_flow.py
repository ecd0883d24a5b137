"""The Gradient flow page: empty state, then the profiles of a run trained on the Train page."""
import math

import pytest

from tests.figures import figures


def test_without_runs_it_points_to_the_presets(open_page):
    at = open_page("pages/gradient_flow.py")
    assert "Vanishing gradients" in at.info[0].value
    assert not at.get("plotly_chart")


def test_a_trained_run_shows_its_gradient_profiles_and_heatmap(open_page, train_custom):
    at = train_custom(open_page("pages/train.py"), bn=False)
    at.switch_page("pages/gradient_flow.py")
    at.run()
    assert not at.exception
    figs = list(figures(at).values())
    block = figs[0]["data"][0]
    assert block["name"] == "ResNet-8, no BN"
    assert block["customdata"] == ["stage1.block1", "stage2.block1", "stage3.block1"]
    assert figs[0]["layout"]["yaxis"]["type"] == "log"
    assert any("ResNet-8, no BN** at step 20" in m.value for m in at.markdown)
    heat = figs[-1]["data"][0]
    assert heat["type"] == "heatmap"
    raw = heat["customdata"][0][-1]
    assert heat["z"][0][-1] == pytest.approx(math.log10(raw))  # log colour, raw on hover
