"""What a run file may hold: every field's type, range and size, checked in one pass.

A run file is untrusted input: an upload, a shared link's folder, a file an older ResViz wrote.
`check` takes the parsed JSON and returns a plain dict every page can draw, or raises
`SchemaError` with one sentence naming the first field that is wrong. Structure is fixed (file ->
records -> record -> probe -> number), so nothing can nest deeper; strings, probes and the list
of records have caps. Measurements must be finite numbers in range or null; a non-finite one
(1e999 parses as infinity) becomes a gap. A step must be a whole number, and steps must rise.
"""

from __future__ import annotations

import json
import math
import re
from enum import StrEnum
from typing import Annotated, Literal, NotRequired

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    with_config,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

VERSION = 1


class Status(StrEnum):
    """Where a run is, and a training job (which also waits, queued, before it starts)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    FAILED = "failed"


STATUSES = tuple(s.value for s in Status if s is not Status.QUEUED)  # what a run file may say
# Runs that ended on their own: served to whoever asks for the same run and skipped by a sweep's
# rerun; a stopped or failed run is trained again.
FINISHED = frozenset({Status.DONE, Status.DIVERGED})
# The per-layer probes a record may carry (layer name -> number, every few steps), in the order
# the pages offer them.
PROBES = {
    "block_grad_norms": "RMS of dL/dx, the gradient entering each block, per element",
    "grad_norms": "RMS of dL/dW, each layer's weight gradient, per parameter",
    "act_std": "std of each 3x3 layer's response (after BN, before ReLU/addition)",
}
MAX_STEPS = 1_000_000  # TrainConfig's limit: one record a step
MAX_LAYERS = 512  # entries in one probe (ResNet-110 with projections has 112 layers)
MAX_SETTINGS = 32  # entries in net, train or env
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # one line: no newline can start a heading or a list
_LAYER = r"^[A-Za-z0-9_.]+$"  # a torch module name such as stage1.block1.conv1


class SchemaError(ValueError):
    """A run file that breaks the schema; the message is one sentence (no final full stop)."""


def _gap(value: object) -> object:
    """Infinity and NaN (JSON's 1e999, or NaN where a float parser allows it) are gaps."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _measure(low: float, high: float = math.inf) -> object:
    return Annotated[Annotated[StrictFloat, Field(ge=low, le=high)] | None, BeforeValidator(_gap)]


Share = _measure(0.0, 1.0)  # an error rate
Amount = _measure(0.0)  # a loss, a rate, seconds, a norm
_NAME = re.compile(r"[\w .,()+='/#%?;-]*")  # no markup: no [ ] < > ! * ` : @ $ ~ | \ { }


def _name(value: object) -> str:
    """A run's name is shown in sentences, legends and lists: plain words only, so that no page
    can render it as a link, an image, HTML or emphasis (the pages show it literally too)."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "must be text")
    if len(value) > 100:
        raise PydanticCustomError("name_length", "is longer than 100 characters")
    if not _NAME.fullmatch(value) or "www." in value.lower():
        raise PydanticCustomError(
            "name_characters",
            "may hold only letters, digits, spaces "
            "and - _ . , ( ) + = ' / # % ? ; (no web address)",
        )
    return value


Name = Annotated[str, PlainValidator(_name)]
Key = Annotated[StrictStr, Field(max_length=40, pattern=_PRINTABLE)]


def _scalar(longest: int):
    """A setting: null, true/false, a number or a short text (one check, so one sentence)."""

    def check(value: object) -> object:
        if (
            value is None
            or isinstance(value, (bool, int, float))
            or (isinstance(value, str) and len(value) <= longest)
        ):
            return value
        raise PydanticCustomError(
            "setting", f"must be a number, true or false, or text of at most {longest} characters"
        )

    return Annotated[object, PlainValidator(check)]


Settings = Annotated[dict[Key, _scalar(40)], Field(max_length=MAX_SETTINGS)]
Probe = Annotated[
    dict[Annotated[StrictStr, Field(max_length=100, pattern=_LAYER)], Amount],
    Field(max_length=MAX_LAYERS),
]


@with_config(ConfigDict(extra="forbid"))
class Record(TypedDict):
    """One training step; every measurement may be missing or null (not measured there)."""

    step: Annotated[StrictInt, Field(ge=1, le=MAX_STEPS)]
    epoch: NotRequired[Amount]
    train_loss: NotRequired[Amount]
    train_error: NotRequired[Share]
    val_loss: NotRequired[Amount]
    val_error: NotRequired[Share]
    lr: NotRequired[Amount]
    images_per_s: NotRequired[Amount]
    elapsed: NotRequired[Amount]
    grad_norms: NotRequired[Probe | None]
    block_grad_norms: NotRequired[Probe | None]
    act_std: NotRequired[Probe | None]
    diverged: NotRequired[StrictBool]
    message: NotRequired[Annotated[StrictStr, Field(max_length=500, pattern=_PRINTABLE)]]


# A record's numbers with one value a step (or null): what a curve can plot.
Measurement = Literal[
    "epoch", "train_loss", "train_error", "val_loss", "val_error", "lr", "images_per_s", "elapsed"
]


def _rising(records: list[dict]) -> list[dict]:
    for i in range(1, len(records)):
        if records[i]["step"] <= records[i - 1]["step"]:
            raise PydanticCustomError(
                "steps_order",
                "record {n}'s step {step} does not come after the step before it ({before})",
                {"n": i + 1, "step": records[i]["step"], "before": records[i - 1]["step"]},
            )
    return records


class RunFile(BaseModel):
    """A whole run file; `net` and `train` are checked again by NetConfig and TrainConfig."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    version: Literal[1] = Field(alias="schema")
    name: Name = ""
    created: Annotated[StrictStr, Field(max_length=40, pattern=r"^[0-9A-Za-z:. +-]*$")] = ""
    status: Literal[STATUSES] = "done"
    message: Annotated[StrictStr, Field(max_length=500, pattern=_PRINTABLE)] = ""
    env: Annotated[dict[Key, _scalar(100)], Field(max_length=MAX_SETTINGS)] = {}
    net: Settings
    train: Settings
    records: Annotated[list[Record], Field(max_length=MAX_STEPS), AfterValidator(_rising)]


def check(d: object) -> dict:
    """The parsed JSON of a run file as a dict of valid fields, or `SchemaError`."""
    if not isinstance(d, dict):
        raise SchemaError("this is not a ResViz run file (expected a JSON object)")
    version = d.get("schema")
    if type(version) is not int:  # not even true, which equals 1 in Python
        raise SchemaError(
            f"this run file has no schema version (this ResViz reads version {VERSION})"
        )
    if version != VERSION:
        raise SchemaError(
            f"this run file has schema version {shown(version)}; this ResViz "
            f"reads version {VERSION}"
        )
    try:
        valid = RunFile.model_validate(d)
    except ValidationError as err:
        raise SchemaError(_sentence(err.errors(include_url=False)[0])) from None
    return {
        "schema": VERSION,
        **{k: getattr(valid, k) for k in RunFile.model_fields if k != "version"},
    }


_EXPECTED = {  # pydantic's error type -> what the field must be
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "dict_type": "must be a JSON object",
    "list_type": "must be a list",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "string_pattern_mismatch": "holds characters that are not allowed",
    "literal_error": "must be one of {expected}",
}
_TOO_BIG = {
    "too_long": "has more than {max_length} entries",
    "string_too_long": "is longer than {max_length} characters",
}


def _sentence(e: dict) -> str:
    """One pydantic error as the sentence a learner sees."""
    loc, kind = e["loc"], e["type"]
    ctx = {k: _number(v) for k, v in e.get("ctx", {}).items()}
    if kind == "missing":
        return (
            f"this run file is incomplete (it has no {loc[0]!r} field)"
            if len(loc) == 1
            else f"this run file is incomplete ({_where(loc)} is missing)"
        )
    if kind == "extra_forbidden":
        return (
            f"this run file is invalid ({_where(loc[:-1])} has an unknown field {shown(loc[-1])})"
        )
    if kind == "steps_order":
        return f"this run file is invalid ({e['msg']})"
    if kind in _TOO_BIG:
        return f"this run file is invalid ({_where(loc)} {_TOO_BIG[kind].format(**ctx)})"
    if loc[-1] == "[key]":  # a name in a dict: a layer or a setting
        where, kind = f"a name in {_where(loc[:-2])}", "string_pattern_mismatch"
    else:
        where = _where(loc)
    what = _EXPECTED[kind].format(**ctx) if kind in _EXPECTED else e["msg"]
    return f"this run file is invalid ({where} {what}, not {shown(e['input'])})"


def _where(loc: tuple) -> str:
    """('records', 0, 'grad_norms', 'stem.conv') -> "record 1's grad_norms['stem.conv']"."""
    if not loc:
        return "it"
    if loc[0] == "records" and len(loc) > 1:
        rest = "".join(f"[{shown(k)}]" for k in loc[3:])
        return f"record {loc[1] + 1}" + (f"'s {loc[2]}{rest}" if len(loc) > 2 else "")
    return str(loc[0]) + "".join(
        f".{k}" if i == 0 else f"[{shown(k)}]" for i, k in enumerate(loc[1:])
    )


def _number(v: object) -> str:
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def shown(value: object) -> str:
    """A value from the file, short: infinity and NaN by name, text quoted, 30 characters."""
    if isinstance(value, float) and not math.isfinite(value):
        text = "NaN" if math.isnan(value) else ("infinity" if value > 0 else "-infinity")
    elif isinstance(value, (dict, list)):
        text = "a JSON object" if isinstance(value, dict) else "a list"
    elif isinstance(value, str):
        text = repr(value)
    else:
        text = json.dumps(value)
    return text if len(text) <= 30 else text[:29] + "…"
