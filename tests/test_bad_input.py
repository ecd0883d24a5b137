"""One test per row of docs/BAD_INPUT.md's uploads and addresses (tests/test_faults.py has the
rest): every bad input gets its exact sentence, and in the app the session's other runs and
settings survive it. The bad inputs are generated here.
"""

import json
import re
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from resviz.config import NetConfig
from resviz.data import DATASETS
from resviz.runs import dumps
from resviz.session import SessionWork
from resviz.ui.query import DEFAULT_WIDTH, literal, parse, session_id
from resviz.ui.state import manager
from resviz.uploads import UploadError, read_image
from tests.helpers import ROOT, RUN, TIMEOUT, encode, png_chunk

# --- generated bad inputs -----------------------------------------------------------------------


def _claims(w: int, h: int) -> bytes:
    """A decompression bomb: a ~60-byte PNG whose header declares w x h 8-bit grey pixels."""
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + png_chunk(b"IEND", b"")
    )


def _noise_png(side: int) -> bytes:
    return encode(Image.effect_noise((side, side), 60).convert("L"))


BAD_IMAGES = {  # row -> (file, the exact sentence read_image gives)
    "not an image": (
        b"hello, this is a text file\n" * 10,
        "This file is not an image in a supported format (PNG, JPEG, GIF, BMP, WEBP).",
    ),
    "0 bytes": (b"", "The uploaded file is empty; please choose an image file."),
    "truncated": (
        _noise_png(64)[:400],
        "The image file is damaged or truncated and could not be decoded.",
    ),
    "decompression bomb": (
        _claims(100_000, 100_000),
        "The image claims more pixels than can be decoded safely, so it was not opened.",
    ),
    "huge dimensions": (
        _claims(5_000, 5_000),
        "The image claims 5,000 x 5,000 pixels, more than the 16 megapixels "
        "allowed, so it was not decoded.",
    ),
    "over 5 MB": (
        b"\x89PNG" + b"\0" * (6 * 2**20),
        "The file is 6.0 MB; please upload an image of at most 5 MB.",
    ),
    "too small": (
        encode(Image.new("L", (2, 3))),
        "The image is only 2 x 3 pixels; please upload one at least 8 pixels on each side.",
    ),
}


def _rgba() -> bytes:
    img = Image.new("RGBA", (16, 16), (0, 0, 0, 0))  # transparent, with an opaque black left half
    img.paste((0, 0, 0, 255), (0, 0, 8, 16))
    return encode(img)


def _cmyk() -> bytes:
    img = Image.new("CMYK", (16, 16), (0, 0, 0, 0))  # no ink: white; full black ink on the left
    img.paste((0, 0, 0, 255), (0, 0, 8, 16))
    return encode(img, "JPEG", quality=95)


def _gif() -> bytes:
    frames = [Image.new("L", (16, 16), v) for v in (0, 255)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def _sixteen_bit() -> bytes:
    levels = np.array([[0, 16384, 32768, 65535]], np.uint16).repeat(8, 0).repeat(4, 1)  # (8, 16)
    return encode(Image.fromarray(levels))


ODD_IMAGES = {  # row -> (file, what the learner sees in grey: left half, right half)
    "16-bit": (_sixteen_bit(), (0.125, 0.75)),  # 0, 1/4 | 1/2, 1 of 65535: not clipped to white
    "RGBA": (_rgba(), (0.0, 1.0)),  # transparency shows the page's white
    "CMYK": (_cmyk(), (0.0, 1.0)),
    "animated GIF": (_gif(), (0.0, 0.0)),  # the first (black) frame
}


def _run_text(*drop: str, **changes) -> str:
    d = json.loads(dumps(RUN))
    d.update(changes)
    for key in drop:
        del d[key]
    return json.dumps(d, separators=(",", ":"))


BAD_RUN_FILES = {  # row -> (name, content, exact sentence)
    "malformed JSON": (
        "x.json",
        b"{oops",
        "x.json: this file is not valid JSON, so it is not a ResViz run file.",
    ),
    "not a JSON object": (
        "x.json",
        b"[1, 2]",
        "x.json: this is not a ResViz run file (expected a JSON object).",
    ),
    "wrong schema version": (
        "x.json",
        _run_text(schema=7).encode(),
        "x.json: this run file has schema version 7; this ResViz reads version 1.",
    ),
    "a field missing": (
        "x.json",
        _run_text("net").encode(),
        "x.json: this run file is incomplete (it has no 'net' field).",
    ),
    "an unknown setting": (
        "x.json",
        _run_text(net={"depth": 20, "colour": "red"}).encode(),
        "x.json: this run file is invalid (its net or train settings have "
        "unknown or malformed fields).",
    ),
    "invalid configuration": (
        "x.json",
        _run_text(net={"depth": 21}).encode(),
        "x.json: this run file is incomplete or invalid (depth must be "
        "6n+2 (8, 14, 20, 32, 44, 56, 110 ...), not 21).",
    ),
    "NaN learning rate": (
        "x.json",
        _run_text(train={"lr": "NaN"}).replace('"NaN"', "NaN").encode(),
        "x.json: this run file is incomplete or invalid (learning "
        "rate must be a number, not None).",
    ),
    "malformed records": (
        "x.json",
        _run_text(records=[{"step": 1, "train_error": "low"}]).encode(),
        "x.json: this run file is invalid (record 1's train_error must be a number, not 'low').",
    ),
    "an infinite step (the brick)": (
        "brick.json",
        _run_text().replace('"step":1,', '"step":1e999,').encode(),
        "brick.json: this run file is invalid (record 1's step must "
        "be a whole number, not infinity).",
    ),
    "steps out of order": (
        "x.json",
        _run_text(records=[{"step": 2}, {"step": 1}]).encode(),
        "x.json: this run file is invalid (record 2's step 1 does not come "
        "after the step before it (2)).",
    ),
    "an error rate above 100%": (
        "x.json",
        _run_text(records=[{"step": 1, "val_error": 3}]).encode(),
        "x.json: this run file is invalid (record 1's val_error must be at most 1.0, not 3).",
    ),
    "an unknown dataset": (
        "x.json",
        _run_text(train={"dataset": "imagenet"}).encode(),
        "x.json: this run file's dataset 'imagenet' is not one ResViz knows "
        f"({', '.join(DATASETS)}).",
    ),
    "markdown in the name": (
        "x.json",
        _run_text(name="# ![x](http://e.x/i.png)\n").encode(),
        "x.json: this run file is invalid (name may hold only letters, "
        "digits, spaces and - _ . , ( ) + = ' / # % ? ; (no web address), "
        "not '# ![x](http://e.x/i.png)\\n').",
    ),
    "a probe of 600 layers": (
        "x.json",
        _run_text(records=[{"step": 1, "grad_norms": {f"l{i}": 1.0 for i in range(600)}}]).encode(),
        "x.json: this run file is invalid (record 1's grad_norms has more than 512 entries).",
    ),
    "nested too deeply": (
        "x.json",
        b"[" * 5_000 + b"]" * 5_000,
        "x.json: this file is nested too deeply to be a ResViz run file.",
    ),
    "445,000 tiny records (4.9 MB)": (
        "x.json",
        _run_text(records=[{"step": 1}] * 445_000).encode(),
        "x.json: this run file has 445,000 records; at most 20,000 can be read here.",
    ),
    "a million empty objects": (
        "x.json",
        b'{"schema":1,"x":[' + b"{}," * 1_000_000 + b"{}]}",
        "x.json: this file holds more JSON objects and lists than a run "
        "file of 20,000 records can, so it is not read.",
    ),
    "huge file": (
        "big.json",
        b" " * (21 * 2**20),
        "big.json: this run file is 21.0 MB; run files of at most 20 MB can be uploaded.",
    ),
}


# --- uploaded images ----------------------------------------------------------------------------


@pytest.mark.parametrize("row", BAD_IMAGES)
def test_a_bad_image_gets_its_sentence(row):
    data, sentence = BAD_IMAGES[row]
    with pytest.raises(UploadError) as err:
        read_image(data)
    assert str(err.value) == sentence


@pytest.mark.parametrize("row", ODD_IMAGES)
def test_an_odd_image_mode_is_read_as_the_right_grey(row):
    data, (left, right) = ODD_IMAGES[row]
    grey = read_image(data)
    assert grey.shape[1] == 16 and grey.dtype == np.float32
    assert grey[:, 1:7].mean() == pytest.approx(left, abs=0.05)
    assert grey[:, 9:15].mean() == pytest.approx(right, abs=0.05)


@pytest.fixture
def conv_page(open_page):
    """The Convolutions page with a non-default kernel chosen, set to upload an image."""
    at = open_page("pages/convolutions.py")
    at.selectbox(key="conv_preset").set_value("Laplacian (all edges)")
    at.run()
    at.radio(key="conv_source").set_value("Upload")
    at.run()
    return at


@pytest.mark.parametrize(
    "row",
    ["not an image", "0 bytes", "truncated", "decompression bomb", "huge dimensions", "too small"],
)
def test_a_bad_image_in_the_app_shows_its_sentence_and_keeps_the_settings(conv_page, row):
    at = conv_page
    preset = at.selectbox(key="conv_preset").value
    at.file_uploader(key="conv_upload").upload("photo.png", BAD_IMAGES[row][0], "image/png")
    at.run()
    assert not at.exception
    assert [w.value for w in at.warning] == [
        f"{BAD_IMAGES[row][1]} Showing a dataset image instead."
    ]
    assert at.selectbox(key="conv_preset").value == preset  # the learner's kernel is kept
    assert at.number_input(key="conv_index").value == 0  # the dataset image is drawn instead


# --- uploaded run files -------------------------------------------------------------------------


@pytest.mark.parametrize("row", BAD_RUN_FILES)
def test_a_bad_run_file_gets_its_sentence(tmp_path, row):
    name, content, sentence = BAD_RUN_FILES[row]
    work = SessionWork(manager(), tmp_path / "s")
    assert work.add_upload(name, content) == sentence
    assert work.history() == []


def test_nan_infinite_and_huge_values_load_as_gaps_and_numbers(tmp_path):
    text = (
        _run_text()
        .replace('"train_loss":2.3', '"train_loss":NaN')
        .replace('"train_error":0.8', '"train_error":1e999')
        .replace('"train_loss":2.1', '"train_loss":1e308')
    )
    work = SessionWork(manager(), tmp_path / "s")
    assert work.add_upload("odd.json", text.encode()) is None
    (run,) = work.history()
    assert [r["train_loss"] for r in run.records] == [None, 1e308]  # NaN: a gap; 1e308 kept
    assert run.records[1]["train_error"] is None  # infinity: a gap


def test_a_name_with_dot_dot_stays_in_the_sessions_folder(tmp_path):
    work = SessionWork(manager(), tmp_path / "runs" / "s")
    assert work.add_upload("../../../etc/passwd.json", dumps(RUN).encode()) is None
    assert [p.parent for p in (tmp_path / "runs").rglob("*") if p.is_file()] == [work.folder]


@pytest.fixture
def trained_page(open_page, train_custom):
    """The Train page of a session with one finished run in its history."""
    at = train_custom(open_page("pages/train.py"), steps=10, depths=(8,))
    assert len(at.session_state["work"].history()) == 1
    return at


@pytest.mark.slow
def test_bad_run_files_in_the_app_show_their_sentence_and_keep_the_history(trained_page):
    at = trained_page
    for row in (
        "malformed JSON",
        "wrong schema version",
        "a field missing",
        "invalid configuration",
        "malformed records",
        "huge file",
        "an infinite step (the brick)",
        "markdown in the name",
    ):
        name, content, sentence = BAD_RUN_FILES[row]
        at.file_uploader(key="train_upload").set_value((name, content, "application/json"))
        at.run()
        assert not at.exception
        assert [e.value for e in at.error] == [literal(sentence)], row
        # The finished run is kept.
        assert len(at.multiselect(key="train_compare").options) == 1, row
    assert at.session_state["work"].job.snapshot().state == "done"


# --- URL query parameters -----------------------------------------------------------------------

QUERIES = {  # row -> (query, the exact note)
    "garbage depth": (
        {"depth": "abc"},
        "Ignored `depth=abc`: CIFAR-style depths are 6n+2: 8, 14, 20, 32, 44, 56 or 110; using 20.",
    ),
    "depth out of range": (
        {"depth": "21"},
        "Ignored `depth=21`: CIFAR-style depths are 6n+2: 8, 14, 20, 32, 44, 56 or 110; using 20.",
    ),
    "width out of range": (
        {"width": "99999"},
        "Ignored `width=99999`: width must be a whole number of channels from 1 to 512; "
        f"using {DEFAULT_WIDTH['cifar']}.",
    ),
    "unknown parameter": (
        {"dpeth": "56"},
        "Ignored `dpeth`: the builder reads only family, depth, width, arch, bn, shortcut.",
    ),
}


@pytest.mark.parametrize("row", QUERIES)
def test_a_bad_query_parameter_falls_back_with_its_note(row):
    params, note = QUERIES[row]
    assert parse(params) == (NetConfig(width=DEFAULT_WIDTH["cifar"]), [note])  # the presets'


@pytest.mark.parametrize("row", ["garbage depth", "width out of range"])
def test_a_bad_query_parameter_in_the_app_shows_its_note(row):
    from streamlit.testing.v1 import AppTest

    params, note = QUERIES[row]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/build.py")
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception
    assert [i.value for i in at.info] == [note]
    assert at.title[0].value == "Build a network"


@pytest.mark.parametrize("raw", ["../../etc", "ABCDEF0123456789", "x" * 40, ""])
def test_a_bad_session_id_starts_a_new_session_with_a_note(raw):
    sid, note = session_id(raw)
    assert re.fullmatch(r"[0-9a-f]{32}", sid) and sid != raw
    shown = raw.replace("`", "")[: 30 - len("session=")]
    assert note == (
        f"Ignored `session={shown}`: a session id is 12 to 32 hexadecimal digits; "
        f"this is a new session with no runs yet."
    )


def test_a_session_id_that_is_not_hex_never_names_a_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RESVIZ_RUNS", str(tmp_path))
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["session"] = "../../escape"
    at.run()  # Home: the session starts here, and says why the address was not used
    assert [w.value for w in at.warning] == [session_id("../../escape")[1]]
    work = at.session_state["work"]
    assert work.folder.parent == tmp_path and re.fullmatch(r"[0-9a-f]{32}", work.id)
