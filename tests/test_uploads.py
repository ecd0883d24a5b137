"""Uploads: every bad file gets one sentence, every odd mode becomes the right grayscale."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from resviz.uploads import UploadError, read_image
from tests.helpers import encode, png_chunk


def _bomb_png(w: int = 100_000, h: int = 100_000) -> bytes:
    """A 60-byte PNG whose header claims w x h 8-bit gray pixels."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + png_chunk(b"IEND", b"")
    )


def _one_sentence(msg: str) -> bool:
    return msg.endswith(".") and msg.count(". ") == 0 and "Traceback" not in msg


BAD = {
    "not an image": (b"hello, this is a text file\n" * 10, "not an image"),
    "empty": (b"", "empty"),
    "truncated png": (
        encode(Image.effect_noise((64, 64), 40).convert("L"))[:400],
        "damaged or truncated",
    ),
    # Pillow's own limit raises above 179 megapixels and only warns between 89 and 179: both
    # must stop; below Pillow's limits, ours (16 megapixels) stops the decode.
    "bomb, Pillow error": (_bomb_png(100_000, 100_000), "claims more pixels"),
    "bomb, Pillow warning": (_bomb_png(10_000, 10_000), "claims more pixels"),
    "bomb, our limit": (_bomb_png(5_000, 5_000), "claims 5,000 x 5,000 pixels"),
    "huge bmp header": (
        encode(Image.new("L", (16, 16)), "BMP")[:18]
        + struct.pack("<ii", 60_000, 60_000)
        + encode(Image.new("L", (16, 16)), "BMP")[26:],
        "claims",
    ),
    "too small": (encode(Image.new("L", (2, 3))), "only 2 x 3 pixels"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_uploads_get_one_sentence(name):
    data, words = BAD[name]
    with pytest.raises(UploadError) as err:
        read_image(data)
    msg = str(err.value)
    assert words in msg
    assert _one_sentence(msg), msg


def test_too_many_bytes_is_refused_before_decoding():
    with pytest.raises(UploadError, match=r"at most 1 MB") as err:
        read_image(b"\0" * (2**20 + 1), max_bytes=2**20)
    assert _one_sentence(str(err.value))


def test_sixteen_bit_png_keeps_its_grey_levels():
    # convert("L") would clip every 16-bit value above 255 to white; we scale by 65535.
    levels = np.array([[0, 16384, 32768, 65535]], np.uint16).repeat(8, 0).repeat(4, 1)  # (8, 16)
    img = Image.fromarray(levels)
    assert img.mode == "I;16"
    got = read_image(encode(img))
    assert got[:, 2] == pytest.approx(0, abs=1e-3)
    assert got[:, 6] == pytest.approx(0.25, abs=1e-3)
    assert got[:, 10] == pytest.approx(0.5, abs=1e-3)
    assert got[:, 14] == pytest.approx(1, abs=1e-3)


def test_rgba_transparency_shows_white_background():
    img = Image.new("RGBA", (16, 16), (0, 0, 0, 0))  # fully transparent...
    img.paste((0, 0, 0, 255), (0, 0, 8, 16))  # ...except an opaque black left half
    got = read_image(encode(img))
    assert got[:, :7].max() == pytest.approx(0, abs=1e-3)
    assert got[:, 9:].min() == pytest.approx(1, abs=1e-3)


def test_cmyk_jpeg_becomes_grayscale():
    img = Image.new("CMYK", (16, 16), (0, 0, 0, 0))  # no ink: white
    img.paste((0, 0, 0, 255), (0, 0, 8, 16))  # full black ink on the left half
    got = read_image(encode(img, "JPEG", quality=95))
    assert got.shape == (16, 16) and got.dtype == np.float32
    assert got[:, :6].mean() < 0.05 and got[:, 10:].mean() > 0.95


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("L", (16, 16), v) for v in (0, 255)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert read_image(data).max() < 0.01


def test_large_image_is_downsized_keeping_aspect():
    got = read_image(encode(Image.new("RGB", (1000, 500), (255, 255, 255))), max_side=100)
    assert got.shape == (50, 100)
    assert got.min() == pytest.approx(1, abs=1e-3)


def test_an_upload_is_decoded_once_for_every_rerun(monkeypatch):
    import resviz.uploads as uploads

    calls = []
    real = uploads._decode
    monkeypatch.setattr(uploads, "_decode", lambda *a: calls.append(1) or real(*a))
    data = encode(Image.effect_noise((300, 200), 40).convert("L"))
    first = read_image(data)
    first[:] = 0  # the page's copy; the kept image stays as decoded
    again = read_image(data)
    assert again.shape == (85, 128) and again.max() > 0
    for _ in range(2):  # a refusal is kept too: the same sentence, no second decode
        with pytest.raises(UploadError, match="damaged or truncated"):
            read_image(data[:400])
    assert len(calls) == 2


def test_a_huge_image_is_read_as_its_grey():
    # 4,000 x 4,000 red: the 56 KB PNG took 335 MB as float32 at full size.
    got = read_image(encode(Image.new("RGB", (4000, 4000), (200, 30, 30))))
    assert got.shape == (128, 128)
    assert got.mean() == pytest.approx((0.299 * 200 + 0.587 * 30 + 0.114 * 30) / 255, abs=1 / 255)
