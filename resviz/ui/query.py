"""The Build page's network in the URL, so a teacher can share it: /builder?depth=56&arch=plain.

`parse` is pure (testable without Streamlit): every value it cannot use falls back to the
default and leaves one sentence saying what was ignored and why. Every page also carries
`?session=<hex id>`, the folder of this session's runs; `session_id` checks it, and `write`
keeps it. Text from a URL, a file name or a run file is shown with `literal`: as typed, never
as markdown.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

import streamlit as st

from ..config import ARCHS, CIFAR_DEPTHS, IMAGENET_BLOCKS, IS_RESIDUAL, SHORTCUTS, NetConfig
from ..presets import PRESETS

DEPTHS = {"cifar": CIFAR_DEPTHS, "imagenet": tuple(IMAGENET_BLOCKS)}
DEFAULT_DEPTH = {"cifar": NetConfig().depth, "imagenet": DEPTHS["imagenet"][0]}
# The width the presets train (small enough to train live on a CPU), so the network Build opens
# on is one a preset trains; the paper's widths (16, 64) are a click away.
DEFAULT_WIDTH = {
    # `or 0` for the type checker: a built NetConfig always has its width
    family: min(n.width or 0 for p in PRESETS.values() for n in p.nets if n.family == family)
    for family in DEPTHS
}
FAMILY_TITLES = {"cifar": "CIFAR-style", "imagenet": "ImageNet-style"}
DEPTH_RULE = {"cifar": "6n+2: ", "imagenet": ""}
MAX_WIDTH = 512  # NetConfig refuses wider networks
KEYS = ("family", "depth", "width", "arch", "bn", "shortcut")
SESSION_KEY = "session"
CLASSROOM_KEY = "classroom"  # classroom=1: the projector's layout, kept by a reload
PRESET_KEY = "preset"  # a teacher's link: /training?preset=degradation runs or follows it
# 32 hex digits: 128 random bits, so a session's runs cannot be found by guessing its address.
# Only hex is accepted, so the id can never name a path outside the runs folder.
_SESSION_ID = re.compile(r"[0-9a-f]{12,32}")
_SWITCHES = {  # URL text -> value, the default, and why anything else is refused
    "arch": (IS_RESIDUAL, True, "arch must be plain or residual"),
    "bn": ({"0": False, "1": True}, True, "bn must be 0 (off) or 1 (on)"),
    "shortcut": (
        {s: s for s in SHORTCUTS},
        "A",
        "shortcut must be A (zero-padding) or B (projection)",
    ),
}


def parse(params: Mapping[str, str]) -> tuple[NetConfig, list[str]]:
    """The network a query string describes, and one note per value that was ignored."""
    notes = [
        f"Ignored {_shown(k)}: the builder reads only {', '.join(KEYS)}."
        for k in params
        if k not in (*KEYS, SESSION_KEY, CLASSROOM_KEY)
    ]
    # A bare ?depth=34 can only mean the ImageNet-style network.
    bare_imagenet = "family" not in params and _int(params.get("depth")) in DEPTHS["imagenet"]
    family = _checked(
        params,
        "family",
        {f: f for f in DEPTHS},
        "imagenet" if bare_imagenet else "cifar",
        "family must be cifar or imagenet",
        notes,
    )
    depths = DEPTHS[family]
    depth = _checked(
        params,
        "depth",
        {str(d): d for d in depths},
        DEFAULT_DEPTH[family],
        f"{FAMILY_TITLES[family]} depths are {DEPTH_RULE[family]}"
        f"{', '.join(map(str, depths[:-1]))} or {depths[-1]}",
        notes,
    )
    width = _checked(
        params,
        "width",
        {str(w): w for w in range(1, MAX_WIDTH + 1)},
        DEFAULT_WIDTH[family],
        f"width must be a whole number of channels from 1 to {MAX_WIDTH}",
        notes,
    )
    on = {
        key: _checked(params, key, choices, default, why, notes)
        for key, (choices, default, why) in _SWITCHES.items()
    }
    return NetConfig(family, depth, on["arch"], on["bn"], width, on["shortcut"]), notes


def _checked(
    params: Mapping[str, str], key: str, choices: dict, default, why: str, notes: list[str]
):
    """choices[the URL's value], case-insensitive; the default, and a note, if it has none."""
    raw = params.get(key)
    if raw is None:
        return default
    value = {text.lower(): v for text, v in choices.items()}.get(raw.strip().lower())
    if value is None:
        used = next(text for text, v in choices.items() if v == default)
        notes.append(f"Ignored {_shown(key, raw)}: {why}; using {used}.")
        return default
    return value


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.strip().isdigit() else None


# CommonMark shows a backslash-escaped ASCII punctuation mark as the mark itself.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# GitHub-style autolinks are found in the text after escapes are undone: a word joiner (U+2060,
# invisible) after "www", inside "://" and before "@" keeps them from matching.
_AUTOLINK = re.compile(r"(?i)(www)(?=\.)|(?<=:)(?=//)|(?=@)")


def literal(text: str) -> str:
    """`text` for st.markdown, st.error and the like, shown as typed: no link, image, heading,
    emphasis, HTML, formula or colour (each mark backslash-escaped, newlines made spaces)."""
    text = _AUTOLINK.sub(lambda m: (m[1] or "") + "\u2060", " ".join(text.splitlines()))
    return _PUNCTUATION.sub(r"\\\1", text)


def _shown(key: str, raw: str | None = None) -> str:
    # Inside backticks, so markdown in a hand-typed URL is shown, not rendered; kept short.
    text = key if raw is None else f"{key}={raw}"
    return "`" + text.replace("`", "")[:30] + "`"


def session_id(raw: str | None) -> tuple[str, str | None]:
    """The URL's session id if it is one, else a new one and a sentence saying why."""
    if raw is not None and _SESSION_ID.fullmatch(raw.strip()):
        return raw.strip(), None
    new = uuid.uuid4().hex
    if raw is None:
        return new, None
    return new, (
        f"Ignored {_shown(SESSION_KEY, raw)}: a session id is 12 to 32 hexadecimal "
        f"digits; this is a new session with no runs yet."
    )


def to_params(cfg: NetConfig) -> dict[str, str]:
    """The URL form of a network; `parse(to_params(cfg))` gives it back (dataset aside)."""
    return {
        "family": cfg.family,
        "depth": str(cfg.depth),
        "width": str(cfg.width),
        "arch": ARCHS[cfg.residual],
        "bn": str(int(cfg.batch_norm)),
        "shortcut": cfg.shortcut,
    }


def read() -> tuple[NetConfig, list[str]]:
    """The network in this page's URL and the notes on what was ignored."""
    return parse(st.query_params.to_dict())


def write(cfg: NetConfig) -> None:
    """Put `cfg` in the address bar, so copying the URL shares this exact network.

    The session id stays (a reload keeps the session's runs and job); anyone given the whole
    address shares that session, as with any page's address.
    """
    params = to_params(cfg)
    for key in (SESSION_KEY, CLASSROOM_KEY):
        if (value := st.query_params.get(key)) is not None:
            params[key] = value
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
