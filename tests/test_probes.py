"""Each probe against an independent computation with torch.autograd.grad."""

import pytest
import torch
import torch.nn.functional as F

from resviz.config import NetConfig
from resviz.models import blocks, build, weight_layers
from resviz.probes import Probe, weight_grad_norms


def _batch(seed=0, n=8, c=1, size=12):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, size, size, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("residual, bn", [(True, True), (False, True), (False, False)])
def test_probes_match_autograd(residual, bn):
    torch.manual_seed(0)
    net = build(NetConfig(depth=14, width=4, residual=residual, batch_norm=bn))
    x, y = _batch()

    # Independent oracle: capture each block's input and ask autograd for every gradient.
    inputs = {}
    handles = [
        b.register_forward_pre_hook(lambda m, i, n=n: inputs.__setitem__(n, i[0]))
        for n, b in blocks(net)
    ]
    loss = F.cross_entropy(net(x), y)
    weights = [m.weight for _, m in weight_layers(net)]
    grads = torch.autograd.grad(loss, weights + list(inputs.values()))
    for h in handles:
        h.remove()
    want_w = [g.norm().item() for g in grads[: len(weights)]]
    want_in = [g.norm().item() for g in grads[len(weights) :]]

    with Probe(net) as probe:
        F.cross_entropy(net(x), y).backward()
    got_w = weight_grad_norms(net)
    assert list(got_w) == [n for n, _ in weight_layers(net)]
    assert list(got_w.values()) == pytest.approx(want_w, rel=1e-5)
    got_in = probe.block_grad_norms()
    assert list(got_in) == [n for n, _ in blocks(net)]
    assert list(got_in.values()) == pytest.approx(want_in, rel=1e-5)


def test_activation_spread_is_the_std_after_bn_before_relu():
    torch.manual_seed(0)
    net = build(NetConfig(depth=8, width=4))
    x, _ = _batch()
    with Probe(net) as probe:
        net(x)
    b = net.stage1.block1
    with torch.no_grad():
        want = b.bn1(b.conv1(net.stem(x))).std().item()
    spread = probe.activation_std()
    assert len(spread) == 2 * len(blocks(net))
    assert spread["stage1.block1.conv1"] == pytest.approx(want, rel=1e-5)


def test_hooks_are_removed_even_after_an_error():
    net = build(NetConfig(depth=8, width=4))
    with pytest.raises(RuntimeError):
        with Probe(net):
            net(torch.zeros(1, 3, 8, 8))  # wrong channel count
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())


def test_without_bn_plain_56_gradient_is_far_smaller_than_residual_56():
    # The vanishing-gradient claim, measured at initialisation on one batch (the science script
    # prints the same figure on real digits).
    x, y = _batch(n=32, size=28)
    first = {}
    for residual in (False, True):
        torch.manual_seed(0)
        net = build(NetConfig(depth=56, residual=residual, batch_norm=False))
        with Probe(net) as probe:
            F.cross_entropy(net(x), y).backward()
        first[residual] = probe.block_grad_norms()["stage1.block1"]
    assert first[False] * 100 < first[True]
