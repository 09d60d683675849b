"""Decide what a file really is from its bytes.

Images are decoded by Pillow (a renamed text file or a truncated JPEG fails); videos are walked
box by box (MP4/QuickTime) or checked for an EBML WebM header, since decoding video would need
codecs we do not ship. Pixel bombs are refused before decoding.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
MP4_BRANDS_MIME = {b"qt  ": "video/quicktime"}
MSG_TOO_MANY_PIXELS = "图片分辨率过大，请压缩后再上传"


class NotEvidence(ValueError):
    """The bytes are not an image or video we accept; the message is for the buyer."""


@dataclass(frozen=True, slots=True)
class Sniffed:
    kind: str  # image | video
    mime: str
    extension: str
    width: int | None = None
    height: int | None = None


def _image(data: bytes, max_pixels: int) -> Sniffed | None:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format or ""
            width, height = probe.size
    except Image.DecompressionBombError as exc:  # Pillow's own guard, for the very largest claims
        raise NotEvidence(MSG_TOO_MANY_PIXELS) from exc
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    if fmt not in IMAGE_FORMATS:
        raise NotEvidence("只支持 JPG、PNG、WEBP、GIF 格式的图片")
    if width * height > max_pixels:
        raise NotEvidence(MSG_TOO_MANY_PIXELS)
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # verify() misses truncated pixel data; a full decode does not
    except Exception as exc:  # Pillow raises many types for corrupt data
        raise NotEvidence("图片文件已损坏，请重新拍摄或选择") from exc
    ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}[fmt]
    return Sniffed("image", IMAGE_FORMATS[fmt], ext, width, height)


def _iso_bmff(data: bytes) -> Sniffed | None:
    """MP4 / MOV: a chain of well-formed top-level boxes starting with ftyp and holding moov or mdat."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return None
    offset, seen = 0, set()
    while offset < len(data):
        if offset + 8 > len(data):
            raise NotEvidence("视频文件不完整，请重新录制或选择")
        size, box = struct.unpack(">I4s", data[offset:offset + 8])
        if size == 1:
            if offset + 16 > len(data):
                raise NotEvidence("视频文件不完整，请重新录制或选择")
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
        elif size == 0:
            size = len(data) - offset
        if size < 8 or offset + size > len(data) or not box.isascii():
            raise NotEvidence("视频文件已损坏，请重新录制或选择")
        seen.add(box)
        offset += size
    if not seen & {b"moov", b"mdat"}:
        raise NotEvidence("视频文件没有内容，请重新录制")
    brand = data[8:12]
    mime = MP4_BRANDS_MIME.get(brand, "video/mp4")
    return Sniffed("video", mime, "mov" if mime == "video/quicktime" else "mp4")


def _webm(data: bytes) -> Sniffed | None:
    if not data.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    if b"webm" not in data[:64]:
        raise NotEvidence("只支持 MP4、MOV、WEBM 格式的视频")
    return Sniffed("video", "video/webm", "webm")


def sniff(data: bytes, max_pixels: int) -> Sniffed:
    if not data:
        raise NotEvidence("文件是空的，请重新选择")
    for probe in (_iso_bmff, _webm):
        found = probe(data)
        if found:
            return found
    found = _image(data, max_pixels)
    if found:
        return found
    raise NotEvidence("只能上传图片（JPG、PNG、WEBP、GIF）或视频（MP4、MOV、WEBM）")
