"""ResViz engine: plain and residual networks, offline data, live training with probes.

Nothing here imports streamlit (only `resviz.ui` does); use it from a notebook or a script.
"""

from .config import ConfigError, NetConfig, TrainConfig
from .models import AlexNet, Net, build, count_params
from .runs import Run, RunFileError
from .summary import summarize, totals
from .train import Trainer, evaluate, train

__all__ = [
    "AlexNet",
    "ConfigError",
    "Net",
    "NetConfig",
    "Run",
    "RunFileError",
    "TrainConfig",
    "Trainer",
    "build",
    "count_params",
    "evaluate",
    "summarize",
    "totals",
    "train",
]
