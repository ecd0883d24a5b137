"""Per-layer gradient and activation statistics, read during training.

Three signals, each keyed by a stable layer name:
- `weight_grad_norms`: ||dL/dW|| of every conv and linear layer (after `backward()`).
- block input gradients: ||dL/dx|| of the tensor entering each block. This is the signal
  that vanishes in deep plain networks without batch norm.
- activation spread: std of each 3x3 layer's response after batch norm and before the
  ReLU or the addition (He et al. 2016, Fig. 7).

Hooks live only inside `Probe`'s `with` block and are always removed.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .models import Block, blocks, weight_layers


def weight_grad_norms(net: nn.Module) -> dict[str, float]:
    """||grad|| of each conv and linear weight; one device-to-host copy for all of them."""
    named = [(n, m.weight.grad) for n, m in weight_layers(net) if m.weight.grad is not None]
    if not named:
        return {}
    norms = torch.stack(torch._foreach_norm([g for _, g in named])).tolist()
    return dict(zip((n for n, _ in named), norms))


def _responses(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """The module whose output is each 3x3 layer's response: its BN (or Identity without BN)."""
    out = []
    for name, block in blocks(net):
        out += [(f"{name}.conv1", block.bn1), (f"{name}.conv2", block.bn2)]
    return out


class Probe:
    """Record activation spread and block input gradients for the forward/backward inside `with`.

    >>> with Probe(net) as probe:
    ...     loss_fn(net(x), y).backward()
    >>> probe.block_grad_norms(), probe.activation_std()
    """

    def __init__(self, net: nn.Module):
        self.net = net
        self._handles: list = []
        self._act: dict[str, torch.Tensor] = {}
        self._grad: dict[str, torch.Tensor] = {}

    def __enter__(self) -> Probe:
        for name, module in _responses(self.net):
            self._handles.append(module.register_forward_hook(self._store_std(name)))
        for name, block in blocks(self.net):
            self._handles.append(block.register_forward_pre_hook(self._watch_input(name)))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _store_std(self, name: str):
        def hook(_m, _inp, out: torch.Tensor) -> None:
            self._act[name] = _std(out.detach().float())

        return hook

    def _watch_input(self, name: str):
        def hook(_m: Block, inputs: tuple[torch.Tensor, ...]) -> None:
            x = inputs[0]
            if x.requires_grad:  # a tensor hook lives and dies with this forward's graph
                x.register_hook(lambda g: self._grad.__setitem__(name, g.detach().float().norm()))

        return hook

    def activation_std(self) -> dict[str, float]:
        return _to_floats(self._act)

    def block_grad_norms(self) -> dict[str, float]:
        order = [n for n, _ in blocks(self.net) if n in self._grad]  # backward fills it in reverse
        return _to_floats({n: self._grad[n] for n in order})


def _std(x: torch.Tensor) -> torch.Tensor:
    """Sample standard deviation of every element, in two passes: equal to `x.std()` to rounding
    and faster than `torch.std` on a channels-last CPU tensor, which a probing step of a deep
    network calls once a layer (docs/PERFORMANCE.md)."""
    return torch.linalg.vector_norm(x - x.mean()) / math.sqrt(max(1, x.numel() - 1))


def _to_floats(values: dict[str, torch.Tensor]) -> dict[str, float]:
    if not values:
        return {}
    return dict(zip(values, torch.stack(list(values.values())).tolist()))
