"""Image files written in memory for the upload tests, including deliberately broken ones."""
import io
import struct
import zlib

from PIL import Image


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    """The bytes of `img` saved in `fmt`, as a learner's file would arrive."""
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk with a valid CRC: for files that lie about themselves in their header."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
