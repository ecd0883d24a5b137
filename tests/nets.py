"""Small networks for tests, with batch-norm statistics as after training."""
import torch
from torch import nn

from resviz.config import NetConfig
from resviz.models import build


def trained_like(depth: int = 8, width: int = 4, channels: int = 3) -> nn.Module:
    """A seeded network whose BN running statistics are not the 0/1 defaults, so a test can tell
    whether an analysis changed them."""
    torch.manual_seed(0)
    net = build(NetConfig(depth=depth, width=width, in_channels=channels))
    g = torch.Generator().manual_seed(1)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.3, generator=g)
            m.running_var.uniform_(0.5, 2.0, generator=g)
    return net
