"""Plain and residual networks from one block with a `residual` switch (He et al. 2016).

The only difference between a plain network and a residual one of the same depth is the
line `out = out + identity` in `Block.forward`: same layers, same parameters (option A).
"""

from __future__ import annotations

import copy
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from .config import NetConfig

T = TypeVar("T")


class ZeroPadShortcut(nn.Module):
    """Option A (paper, Sec. 4.2): subsample, then pad the new channels with zeros; no
    parameters."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.extra, self.stride = out_ch - in_ch, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (B, C, H/s, W/s)
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))  # zeros for the added channels


def _norm(ch: int, batch_norm: bool) -> nn.Module:
    return nn.BatchNorm2d(ch) if batch_norm else nn.Identity()


def _conv(in_ch: int, out_ch: int, k: int, stride: int, batch_norm: bool) -> nn.Conv2d:
    # A bias is redundant in front of batch norm (it is subtracted away); without BN it is not.
    return nn.Conv2d(in_ch, out_ch, k, stride, padding=k // 2, bias=not batch_norm)


def _shortcut(in_ch: int, out_ch: int, stride: int, kind: str, batch_norm: bool) -> nn.Module:
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    if kind == "A":
        return ZeroPadShortcut(in_ch, out_ch, stride)
    return nn.Sequential(
        OrderedDict(  # option B: 1x1 projection where the shape changes
            conv=_conv(in_ch, out_ch, 1, stride, batch_norm), bn=_norm(out_ch, batch_norm)
        )
    )


class Block(nn.Module):
    """Basic block: conv-BN-ReLU-conv-BN, plus the input when `residual`, then ReLU.

    Each ReLU is its own module, so hooks and Captum's DeepLift see every use separately.
    """

    def __init__(
        self, in_ch: int, out_ch: int, stride: int, residual: bool, batch_norm: bool, shortcut: str
    ):
        super().__init__()
        self.residual = residual
        self.conv1 = _conv(in_ch, out_ch, 3, stride, batch_norm)
        self.bn1 = _norm(out_ch, batch_norm)
        self.relu1 = nn.ReLU()
        self.conv2 = _conv(out_ch, out_ch, 3, 1, batch_norm)
        self.bn2 = _norm(out_ch, batch_norm)
        self.relu2 = nn.ReLU()
        if residual:
            self.shortcut = _shortcut(in_ch, out_ch, stride, shortcut, batch_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            identity = self.shortcut(x)
            out = out + identity  # F(x) + x: the whole idea of the paper
        return self.relu2(out)


class Net(nn.Module):
    """Stem, stages of blocks, global average pool, linear classifier."""

    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.stem = _stem(cfg)
        in_ch = w
        for i, n_blocks in enumerate(cfg.stage_blocks):
            out_ch = w * 2**i
            stride = 1 if i == 0 else 2
            self.add_module(f"stage{i + 1}", self._make_stage(in_ch, out_ch, n_blocks, stride))
            in_ch = out_ch
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, cfg.num_classes)
        _he_init(self)

    def _make_stage(self, in_ch: int, out_ch: int, n_blocks: int, stride: int) -> nn.Sequential:
        cfg = self.cfg
        blocks = OrderedDict()
        for j in range(n_blocks):
            blocks[f"block{j + 1}"] = Block(
                in_ch if j == 0 else out_ch,
                out_ch,
                stride if j == 0 else 1,
                cfg.residual,
                cfg.batch_norm,
                cfg.shortcut,
            )
        return nn.Sequential(blocks)

    @property
    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, f"stage{i + 1}") for i in range(len(self.cfg.stage_blocks))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.fc(torch.flatten(self.pool(x), 1))  # (B, C, 1, 1) -> (B, C) -> (B, classes)


def _stem(cfg: NetConfig) -> nn.Sequential:
    if cfg.family == "cifar" or cfg.small_input:
        layers = OrderedDict(conv=_conv(cfg.in_channels, cfg.width, 3, 1, cfg.batch_norm))
    else:  # ImageNet stem: 7x7 stride 2, then 3x3 max pooling stride 2 (224 -> 56)
        layers = OrderedDict(conv=_conv(cfg.in_channels, cfg.width, 7, 2, cfg.batch_norm))
    layers.update(bn=_norm(cfg.width, cfg.batch_norm), relu=nn.ReLU())
    if cfg.family == "imagenet" and not cfg.small_input:
        layers["pool"] = nn.MaxPool2d(3, 2, 1)
    return nn.Sequential(layers)


def _he_init(net: nn.Module) -> None:
    """He et al. 2015 ("Delving deep"): weight variance 2/fan so ReLU keeps signal scale."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build(cfg: NetConfig) -> Net:
    """The network a configuration describes, on the CPU; move it with `.to(device)`."""
    return Net(cfg)


_INIT_LOCK = threading.Lock()  # module init draws from torch's global RNG, shared by threads


def build_seeded(cfg: NetConfig, seed: int) -> Net:
    """`build(cfg)` with its initial weights drawn from `seed`, safely from any thread."""
    with _INIT_LOCK:
        torch.manual_seed(seed)
        return build(cfg)


def counted_once(count: Callable[..., T]) -> Callable[..., T]:
    """Cache a count made on a network built on the meta device (shapes only), under one lock:
    a class that submits the same preset at once waits for one build instead of each session
    building all its networks (python -m scripts.load --link profiles the server)."""
    cached = functools.lru_cache(maxsize=256)(count)
    lock = threading.Lock()

    @functools.wraps(count)
    def once(*args: object) -> T:
        with lock:
            return cached(*args)

    return once


def eval_copy(net: nn.Module) -> nn.Module:
    """A frozen evaluation-mode copy: analysis can never train, or be trained under it."""
    net = copy.deepcopy(net).eval()
    return net.requires_grad_(False)  # inputs get gradients, parameters need none


def from_state(cfg: NetConfig, state: dict[str, torch.Tensor]) -> nn.Module:
    """A fresh evaluation-mode network with these weights (the state dict is only read)."""
    net = build(cfg)
    net.load_state_dict(state)
    return net.eval().requires_grad_(False)


def cpu_state(net: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the network's weights on the CPU, detached: safe to keep after training ends."""
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}


def weight_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every conv and linear layer in forward order, by its stable name (`stage2.block3.conv1`)."""
    return [(n, m) for n, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def blocks(net: Net) -> list[tuple[str, Block]]:
    """Every block in forward order (`stage1.block1`, ...)."""
    return [(n, m) for n, m in net.named_modules() if isinstance(m, Block)]


class AlexNet(nn.Module):
    """AlexNet as Krizhevsky, Sutskever and Hinton built it in 2012 (Sec. 3, Fig. 2).

    Five convolutions of 96, 256, 384, 384 and 256 kernels, then three fully connected layers.
    The network was split across two GPUs: conv2, conv4 and conv5 see only the kernel maps on
    their own GPU (`groups=2`), conv3 and the dense layers see both. Local response
    normalisation and overlapping 3x3/2 max pooling follow conv1 and conv2; pooling follows
    conv5; dropout precedes fc1 and fc2. 60,965,224 parameters with 1000 classes (the paper:
    "60 million"). torchvision's `alexnet` is the later one-GPU variant of Krizhevsky 2014
    (64-192-384-256-256 kernels, no normalisation, 61,100,840 parameters).
    """

    WIDTHS = (96, 256, 384, 384, 256)
    GROUPS = (1, 2, 1, 2, 2)  # 2: the layer's kernels connect only to their own GPU's half

    def __init__(self, in_channels: int = 3, num_classes: int = 1000):
        super().__init__()
        # Padding 2 on conv1 turns a 224 px image into the paper's 55x55 maps.
        shapes = zip(self.WIDTHS, (11, 5, 3, 3, 3), (4, 1, 1, 1, 1), (2, 2, 1, 1, 1), self.GROUPS)
        layers = OrderedDict()
        cin = in_channels
        for i, (cout, k, stride, pad, g) in enumerate(shapes, 1):
            layers[f"conv{i}"] = nn.Conv2d(cin, cout, k, stride, pad, groups=g)
            layers[f"relu{i}"] = nn.ReLU()
            if i in (1, 2):
                # The paper's k=2, n=5, alpha=1e-4, beta=0.75; PyTorch divides alpha by n.
                layers[f"norm{i}"] = nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)
            if i in (1, 2, 5):
                layers[f"pool{i}"] = nn.MaxPool2d(3, 2)
            cin = cout
        self.features = nn.Sequential(layers)
        self.pool = nn.AdaptiveAvgPool2d(6)  # 6x6 already at 224 px: a no-op there
        self.classifier = nn.Sequential(
            OrderedDict(
                drop1=nn.Dropout(),
                fc1=nn.Linear(cin * 6 * 6, 4096),
                relu6=nn.ReLU(),
                drop2=nn.Dropout(),
                fc2=nn.Linear(4096, 4096),
                relu7=nn.ReLU(),
                fc3=nn.Linear(4096, num_classes),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def count_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
