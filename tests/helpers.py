"""What the tests share: the app's paths and timeouts, plotly figures read back out of an AppTest,
image files written in memory (including deliberately broken ones), small networks with trained
batch-norm statistics, a trained network's weights, finished run records (one, a run of given
errors, or a session's mix of experiments), the Inside page's path and figures, and the command
line run in this process."""

import base64
import io
import json
import os
import re
import struct
import time
import zlib
from collections import deque
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest
from torch import nn

from resviz.__main__ import main
from resviz.config import NetConfig, TrainConfig
from resviz.data import Dataset
from resviz.models import build, cpu_state
from resviz.runs import Run
from resviz.train import Trainer

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("RESVIZ_SCREENSHOTS", ROOT / "screenshots"))  # browser tests' PNGs
TIMEOUT = 60  # seconds: AppTest's 3 s default is too short for anything that touches torch

RUN = Run(
    net=NetConfig(depth=8, width=4),
    train=TrainConfig(steps=2),
    status="done",
    records=[
        {"step": 1, "train_loss": 2.3, "train_error": 0.9},
        {"step": 2, "train_loss": 2.1, "train_error": 0.8, "val_error": 0.85},
    ],
)


def command(argv: list[str], capsys) -> tuple[int, str]:
    """`python -m resviz ARGV` in this process (a fresh one spends seconds importing torch):
    its exit status and what it wrote to standard error."""
    try:
        status = main(argv)
    except SystemExit as e:  # argparse's own errors
        status = e.code
    return status, capsys.readouterr().err


def one_line_exit(argv: list[str], words: str, capsys) -> None:
    """Bad arguments: status 2 and one line on standard error that says `words`, no traceback."""
    status, err = command(argv, capsys)
    assert status == 2
    assert err.count("\n") == 1 and words in err and "Traceback" not in err, err


def over_budget(label: str, batch: int) -> re.Pattern:
    """The one sentence a job too large for the server's memory gets."""
    return re.compile(
        rf"{label} at batch {batch} needs about \d+\.\d GB to train; this server allows "
        r"(\d\.\d GB|\d+ MB) per run\. Lower the batch size, the width or the depth\."
    )


def one_network(at: AppTest, depth: int, width: int, batch: int) -> AppTest:
    """The Train page's custom form set to one network of this depth, width and batch."""
    at.slider(key="train_configs").set_value(1)
    at.selectbox(key="train_depth0").set_value(depth)
    at.number_input(key="train_width").set_value(width)
    at.number_input(key="train_batch").set_value(batch)
    return at


def train_button(at: AppTest):
    """The Train page's custom form's submit button, found by its label as a learner finds it."""
    (button,) = [b for b in at.button if b.label == "Train"]
    return button


def start_long_run(at: AppTest) -> None:
    """Submit the Train page's custom form for a run long enough to outlast the test."""
    at.number_input(key="train_steps").set_value(5000)
    at.number_input(key="train_width").set_value(4)
    train_button(at).click()
    at.run()


def figures(at: AppTest) -> dict[str, dict]:
    """Every plotly figure on the page, by its chart's key, in page order."""
    return {c.proto.id.rsplit("-", 1)[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def plotly_array(value) -> np.ndarray:
    """A figure's data array as sent: plotly 7 sends numpy arrays as base64 typed arrays."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(n) for n in str(value.get("shape", len(flat))).split(",")]
        return flat.reshape(shape).astype(float)
    return np.asarray(value, dtype=float)


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    """The bytes of `img` saved in `fmt`, as a learner's file would arrive."""
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk with a valid CRC: for files that lie about themselves in their header."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


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


def trained_state(net_cfg: NetConfig, cfg: TrainConfig, data: Dataset) -> dict[str, torch.Tensor]:
    """A network trained as the app trains it: its final weights, on the CPU."""
    trainer = Trainer(net_cfg, cfg, data)
    deque(trainer.run(), maxlen=0)  # every step; only the weights are kept
    return cpu_state(trainer.net)


def run_of(
    depth: int,
    residual: bool,
    train: list[float],
    val: dict[int, float],
    batch_norm: bool = True,
    seed: int = 0,
    width: int = 8,
) -> Run:
    records = [
        {"step": s, "train_error": e, "val_error": val.get(s)} for s, e in enumerate(train, start=1)
    ]
    return Run(
        net=NetConfig(depth=depth, residual=residual, batch_norm=batch_norm, width=width),
        train=TrainConfig(steps=len(train), seed=seed, batch_size=64),
        records=records,
        status="done",
    )


# The Inside page: its path, its plotly figures by key, and its first-layer filters as drawn.
INSIDE = "pages/inside.py"
INSIDE_SECTIONS = ["inside_maps", "inside_channels", "inside_attr", "inside_readouts"]


def filter_images(at) -> list[str]:
    """The first-layer filters as drawn: the page's two images sent as PNG data URIs (other
    images, photos, go through the media files), before and after training."""
    urls = [i.proto.imgs[0].url for i in at.get("image")]
    return [u for u in urls if u.startswith("data:image/png")]


def ended(ticket, timeout: float = 120):
    """A job's or ticket's last snapshot, once it has ended (failing after `timeout` s)."""
    end = time.monotonic() + timeout
    while ticket.active:
        assert time.monotonic() < end, "the job did not end"
        time.sleep(0.05)
    return ticket.snapshot()


def mixed_runs() -> list[Run]:
    """What a session collects: the Degradation preset's four (180 steps), a no-BN plain-56 of
    the same budget, and two 50-step runs. Each final validation error encodes its settings
    (depth / 1000, + 0.1 without BN, + 0.2 at 50 steps), so a plotted point tells its run."""

    def run(depth, residual, bn=True, steps=180):
        err = depth / 1000 + 0.1 * (not bn) + 0.2 * (steps == 50)
        return run_of(depth, residual, [err] * steps, {steps: err}, batch_norm=bn)

    return [
        run(20, False),
        run(56, False),
        run(20, True),
        run(56, True),
        run(56, False, False),
        run(20, True, steps=50),
        run(110, True, steps=50),
    ]
