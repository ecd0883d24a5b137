"""A run's look is fixed by what its network is: the same line for plain-56 in every figure."""

import random

from resviz.config import NetConfig
from resviz.plots.curves import error_curves, loss_curves
from resviz.plots.styles import DEPTHS, run_style
from tests.helpers import RUN, run_of

NETS = [
    NetConfig(depth=d, residual=r, batch_norm=bn) for d in DEPTHS for r in (0, 1) for bn in (0, 1)
]


def rgb(hex_colour: str) -> tuple[int, ...]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def test_the_style_is_a_pure_function_of_the_network_s_identity():
    first = {n: run_style(n) for n in NETS}
    shuffled = random.Random(0).sample(NETS, len(NETS))
    assert {n: run_style(n) for n in shuffled} == first  # no state, no order
    # Width, input channels and classes do not change which network it is to a learner.
    assert run_style(NetConfig(depth=56, residual=False, width=4, in_channels=3)) == run_style(
        NetConfig(depth=56, residual=False)
    )
    assert len(set(first.values())) == len(NETS)  # every kind, depth and BN looks different
    for net, look in first.items():
        r, _, b = rgb(look.colour)
        assert (b > r) != net.residual, net.label  # plain blue, ResNet orange
        assert look.dash == ("solid" if net.batch_norm else "dash"), net.label


def test_deeper_is_darker_within_a_kind():
    for residual in (False, True):
        shades = [sum(rgb(run_style(NetConfig(depth=d, residual=residual)).colour)) for d in DEPTHS]
        assert shades == sorted(shades, reverse=True)


def test_a_run_keeps_its_colour_whatever_else_a_chart_shows():
    plain56 = run_of(56, False, [0.5] * 20, {20: 0.5})
    others = [run_of(d, r, [0.2] * 20, {20: 0.3}) for d in (20, 56) for r in (False, True)][:3]

    def colours(runs):
        figs = (error_curves(runs), loss_curves(runs))
        return {t.name: (t.line.color, t.line.dash) for f in figs for t in f.data}

    alone = colours([plain56])
    among = colours(others + [plain56])
    assert {k: among[k] for k in alone} == alone


def test_two_runs_of_one_network_share_a_colour_and_differ_in_their_marks():
    fig = error_curves([RUN, RUN])
    first, second = (t for t in fig.data if t.name.endswith("validation"))
    assert first.line.color == second.line.color
    assert first.marker.symbol != second.marker.symbol
