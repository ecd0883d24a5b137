"""Frozen, validated configurations: what network to build and how to train it.

Every check raises `ConfigError` with a sentence a learner can act on; the app and the
command line show that sentence as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

ARCHS = ("plain", "residual")  # ARCHS[residual]: a network's kind on the command line and in links
IS_RESIDUAL = dict(zip(ARCHS, (False, True)))  # and back: IS_RESIDUAL[ARCHS[r]] == r
FAMILIES = ("cifar", "imagenet")
SHORTCUTS = ("A", "B")
SCHEDULES = ("cosine", "step", "constant")
PRECISIONS = ("fp32", "bf16")
IMAGENET_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}  # He et al. 2016, Table 1
DEFAULT_WIDTH = {"cifar": 16, "imagenet": 64}
CIFAR_DEPTHS = (8, 14, 20, 32, 44, 56, 110)  # the 6n+2 depths the pages offer; any 6n+2 builds
EVAL_BATCH = 250  # images per forward pass when a run evaluates (resviz.train)
# The four kinds of network the lessons compare at each depth: (residual, batch norm).
VARIANTS = ((False, True), (True, True), (False, False), (True, False))


class ConfigError(ValueError):
    """A configuration a learner asked for that cannot be built; the message says what can."""


@dataclass(frozen=True)
class NetConfig:
    """A plain or residual network.

    `width` is the number of channels of the first stage; later stages double it
    (16/32/64 for the paper's CIFAR networks, 64/128/256/512 for the ImageNet ones).
    """

    family: str = "cifar"
    depth: int = 20
    residual: bool = True
    batch_norm: bool = True
    width: int | None = None
    shortcut: str = "A"
    in_channels: int = 1
    num_classes: int = 10
    small_input: bool = True  # ImageNet family only: a 3x3 stem without max pooling for 28-32 px

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ConfigError(f"family must be one of {', '.join(FAMILIES)}, not {self.family!r}")
        if self.width is None:
            object.__setattr__(self, "width", DEFAULT_WIDTH[self.family])
        _check_int("depth", self.depth)
        if self.family == "cifar" and (self.depth < 8 or (self.depth - 2) % 6):
            raise ConfigError(
                f"depth must be 6n+2 ({', '.join(map(str, CIFAR_DEPTHS))} ...), not {self.depth}"
            )
        if self.family == "imagenet" and self.depth not in IMAGENET_BLOCKS:
            raise ConfigError(f"ImageNet-style depth must be 18 or 34, not {self.depth}")
        _check_int("width", self.width)
        if not 1 <= self.width <= 512:
            raise ConfigError(f"width must be between 1 and 512 channels, not {self.width}")
        if self.shortcut not in SHORTCUTS:
            raise ConfigError(
                f"shortcut must be 'A' (zero-padding) or 'B' (projection), not {self.shortcut!r}"
            )
        _check_int("in_channels", self.in_channels)
        if self.in_channels not in (1, 3):
            raise ConfigError(f"input channels must be 1 or 3, not {self.in_channels}")
        _check_int("num_classes", self.num_classes)
        if not 2 <= self.num_classes <= 1000:
            raise ConfigError(f"classes must be between 2 and 1000, not {self.num_classes}")

    @property
    def stage_blocks(self) -> tuple[int, ...]:
        """Blocks per stage: depth is data (6n+2 -> [n, n, n]; 18 -> [2, 2, 2, 2])."""
        if self.family == "cifar":
            n = (self.depth - 2) // 6
            return (n, n, n)
        return IMAGENET_BLOCKS[self.depth]

    @property
    def label(self) -> str:
        return kind_label(self.residual, self.batch_norm, self.depth)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainConfig:
    """How to train: data, budget, optimiser (SGD with momentum), schedule, probes."""

    dataset: str = "mnist-5k"
    steps: int = 200
    batch_size: int = 64
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_steps: int = 0
    eval_every: int = 20
    probe_every: int = 10
    augment: bool = True
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"  # "bf16": autocast matmuls and convolutions to bfloat16
    channels_last: bool = True  # (B, H, W, C) in memory: faster convolutions on CPU and GPU

    def __post_init__(self) -> None:
        _check_int("steps", self.steps)
        if not 1 <= self.steps <= 1_000_000:
            raise ConfigError(f"steps must be between 1 and 1,000,000, not {self.steps}")
        _check_int("batch size", self.batch_size)
        if not 1 <= self.batch_size <= 4096:
            raise ConfigError(f"batch size must be between 1 and 4096, not {self.batch_size}")
        for name in ("lr", "momentum", "weight_decay"):  # a run file may hold null or text here
            _check_number(
                name.replace("_", " ").replace("lr", "learning rate"), getattr(self, name)
            )
        if not 0 < self.lr <= 10:
            raise ConfigError(f"learning rate must be above 0 and at most 10, not {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), not {self.momentum}")
        if not 0 <= self.weight_decay <= 0.1:
            raise ConfigError(f"weight decay must be in [0, 0.1], not {self.weight_decay}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(
                f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}"
            )
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}"
            )
        for name in ("warmup_steps", "eval_every", "probe_every", "seed"):
            _check_int(name.replace("_", " "), getattr(self, name))
        if not 0 <= self.warmup_steps < self.steps:
            raise ConfigError("warm-up steps must be at least 0 and fewer than the steps")
        if self.eval_every < 1 or self.probe_every < 1:
            raise ConfigError("evaluation and probe intervals must be at least 1 step")
        if self.seed < 0:
            raise ConfigError(f"seed must be 0 or more, not {self.seed}")

    def to_dict(self) -> dict:
        return asdict(self)


def kind_label(residual: bool, batch_norm: bool, depth: int | None = None) -> str:
    """A network's name, "ResNet-56, no BN"; without a depth, its kind alone ("ResNet, no BN")."""
    kind = "ResNet" if residual else "plain"
    return f"{kind}{'' if depth is None else f'-{depth}'}{'' if batch_norm else ', no BN'}"


def _check_number(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, not {value!r}")


def _check_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, not {value!r}")
