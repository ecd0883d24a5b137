"""Read a learner's uploaded image safely: one grey or colour float array, or one sentence why
not; and turn it into a network's input.

Every failure raises `UploadError` whose message is a single sentence the page shows as it is.
Pillow only warns for images up to twice `Image.MAX_IMAGE_PIXELS` (a 24 KB PNG can claim 200
megapixels), so the pixel count is checked from the header before anything is decoded.

An upload is decoded once: the page reruns on every kernel edit, and a 56 KB PNG of 4,000 x
4,000 pixels took 3.5 s and 335 MB each time. The small grey result (or the refusal) is kept
by the file's content, for every session; the decode itself stays in 8-bit grey until the
image is shrunk (about 100 MB at its peak for that PNG).
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from .data import Dataset

FORMATS = ["PNG", "JPEG", "GIF", "BMP", "WEBP"]
EXTENSIONS = [f.lower() for f in FORMATS] + ["jpg"]  # the names an uploader accepts
MAX_BYTES = 5 * 2**20  # an image uploader passes it on as its max_upload_size
MAX_PIXELS = 16_000_000  # decoded size limit, checked before decoding
MAX_SIDE = 128  # the convolution lesson needs pixels you can see, not megapixels
MIN_SIDE = 8  # a 3x3 convolution then 2x2 pooling still leaves a few pixels
KEPT = 64  # decoded uploads kept: at most 128 x 128 float32 each (64 KB), 4 MB in all

_decoded: OrderedDict[tuple, np.ndarray | str] = OrderedDict()  # content -> grey, or why not
_lock = threading.Lock()


class UploadError(ValueError):
    """An upload that cannot be used; the message is one sentence for the learner."""


def read_image(
    data: bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS, max_side: int = MAX_SIDE
) -> np.ndarray:
    """The first frame of an uploaded image as grayscale (H, W) float32 in [0, 1], downsized:
    decoded the first time this content is seen, then a copy of what was kept."""
    if not data:
        raise UploadError("The uploaded file is empty; please choose an image file.")
    if len(data) > max_bytes:
        raise UploadError(
            f"The file is {len(data) / 2**20:.1f} MB; please upload an image of "
            f"at most {max_bytes / 2**20:.0f} MB."
        )
    key = (hashlib.blake2b(data, digest_size=16).digest(), max_pixels, max_side)
    with _lock:
        kept = _decoded.get(key)
        if kept is not None:
            _decoded.move_to_end(key)
    if kept is None:
        try:
            kept = _decode(data, max_pixels, max_side)
        except UploadError as err:
            kept = str(err)
        with _lock:
            _decoded[key] = kept
            while len(_decoded) > KEPT:
                _decoded.popitem(last=False)
    if isinstance(kept, str):
        raise UploadError(kept)
    return kept.copy()  # the caller may change it; the kept one stays as decoded


def _decode(data: bytes, max_pixels: int, max_side: int) -> np.ndarray:
    try:
        # The bomb warning becomes an error; catch_warnings is local to this call.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as img:  # reads the header only
                _check_size(img.size, max_pixels)
                img.seek(0)  # an animation: its first frame
                return to_grayscale(img, max_side)
    except UploadError:
        raise
    except UnidentifiedImageError:
        raise UploadError(
            f"This file is not an image in a supported format ({', '.join(FORMATS)})."
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(
            "The image claims more pixels than can be decoded safely, so it was not opened."
        ) from None
    except Exception:  # damaged files raise OSError, SyntaxError, ValueError, EOFError, zlib...
        raise UploadError(
            "The image file is damaged or truncated and could not be decoded."
        ) from None


def _check_size(size: tuple[int, int], max_pixels: int) -> None:
    w, h = size
    if w * h > max_pixels:
        raise UploadError(
            f"The image claims {w:,} x {h:,} pixels, more than the "
            f"{max_pixels / 1e6:g} megapixels allowed, so it was not decoded."
        )
    if min(w, h) < MIN_SIDE:
        raise UploadError(
            f"The image is only {w} x {h} pixels; please upload one at least "
            f"{MIN_SIDE} pixels on each side."
        )


def to_grayscale(img: Image.Image, max_side: int = MAX_SIDE) -> np.ndarray:
    """Any Pillow mode -> (H, W) float32 in [0, 1], shrunk so its longer side is <= max_side."""
    gray = _luminance(img)
    gray.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)  # keeps the aspect ratio
    scale = 255 if gray.mode == "L" else 1  # 8-bit grey, or 16-bit already scaled to [0, 1]
    return np.clip(np.asarray(gray, dtype=np.float32) / scale, 0.0, 1.0)


def _luminance(img: Image.Image) -> Image.Image:
    """Grey at full size: 8-bit ("L"), or float ("F") for 16-bit images."""
    if img.mode.startswith("I") or img.mode == "F":
        # 16-bit PNGs: convert("L") would clip everything above 255 to white.
        return Image.fromarray(np.asarray(img, dtype=np.float32) / 65535)
    if "A" in img.getbands() or "transparency" in img.info:
        # Transparent pixels show the page's white background, as in the browser.
        rgba = img.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white.convert("L")
    return img.convert("L")  # RGB, CMYK, palette, bilevel


def read_colour(data: bytes, max_side: int = MAX_SIDE) -> np.ndarray:
    """An upload as RGB (H, W, 3) float32 in [0, 1], shrunk like `read_image`, for colour
    networks; checked by `read_image` first, so a refused file is never decoded here."""
    read_image(data, max_side=max_side)
    with Image.open(io.BytesIO(data), formats=FORMATS) as img:
        img.seek(0)
        rgba = img.convert("RGBA")  # transparent pixels show the page's white, as in the browser
    rgb = Image.new("RGB", rgba.size, (255, 255, 255))
    rgb.paste(rgba, mask=rgba.getchannel("A"))
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(rgb, dtype=np.float32) / 255


def dark_ink(gray: np.ndarray) -> bool:
    """Whether an image (H, W) in [0, 1] is dark marks on a light background, read from its
    border (the paper around a drawing): its median above mid-grey."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return bool(np.median(border) > 0.5)


def prepare_upload(image: np.ndarray, data: Dataset, invert: bool = False) -> torch.Tensor:
    """An upload, grey (h, w) or colour (h, w, 3) in [0, 1], as the network's input: normalised
    (C, S, S).

    Padded to a square with its border colour (so nothing is cut off or stretched), resized to
    the dataset's size with antialiasing, and optionally inverted (MNIST digits are white on
    black; photos of ink are the opposite). A grey image fills every channel of a colour
    network; a colour one is made grey (its mean colour) for a grey network.
    """
    img = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
    img = img.permute(2, 0, 1) if img.ndim == 3 else img[None]  # (c, h, w)
    if data.info.channels == 1 and len(img) == 3:
        img = img.mean(0, keepdim=True)
    img = 1 - img if invert else img
    _, h, w = img.shape
    border = torch.cat([img[:, 0], img[:, -1], img[:, :, 0], img[:, :, -1]], 1).median(1).values
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    pad = (left, side - w - left, top, side - h - top)
    img = torch.stack([F.pad(ch, pad, value=float(b)) for ch, b in zip(img, border)])
    size = data.info.size
    img = F.interpolate(img[None], size=(size, size), mode="bilinear", antialias=True)
    img = img[0].clamp(0, 1).expand(data.info.channels, size, size)  # (C, S, S)
    mean, std = (torch.tensor(v).view(-1, 1, 1) for v in (data.mean, data.std))
    return (img - mean) / std
