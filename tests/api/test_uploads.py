"""Evidence uploads: judged by their bytes, stored once under their hash, served safely, kept per buyer.

The upload folder is shared by every test on one database, so tests compare the folder before and
after, and make bytes no other test makes (a colour or size of their own).
"""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.db.models import Upload
from tests.support.api import Api
from tests.support import media

NOT_EVIDENCE = "只能上传图片（JPG、PNG、WEBP、GIF）或视频（MP4、MOV、WEBM）"
IMAGE_BROKEN = "图片文件已损坏，请重新拍摄或选择"
VIDEO_BROKEN = "视频文件已损坏，请重新录制或选择"
VIDEO_INCOMPLETE = "视频文件不完整，请重新录制或选择"
VIDEO_EMPTY = "视频文件没有内容，请重新录制"
EMPTY = "文件是空的，请重新选择"
TOO_MANY_PIXELS = "图片分辨率过大，请压缩后再上传"
UPLOAD_NOT_FOUND = {"detail": "凭证文件不存在或已失效，请重新上传"}


# ---------------------------------------------------------------- helpers


def _post(api: Api, data: bytes, name: str = "photo.png", mime: str = "image/png", buyer_id: str = "b_1001"):  # type: ignore[no-untyped-def]
    return api.client.post("/api/v1/uploads", files={"file": (name, data, mime)}, headers=api.buyer(buyer_id))


def _post_raw_name(api: Api, filename: bytes, data: bytes):  # type: ignore[no-untyped-def]
    """A multipart body written by hand, so the file name reaches the server byte for byte."""
    boundary = b"----evidence-boundary-5f2a9c"
    body = (b"--" + boundary + b"\r\n"
            b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
            b"Content-Type: image/png\r\n\r\n" + data + b"\r\n--" + boundary + b"--\r\n")
    return api.client.post("/api/v1/uploads", content=body, headers={
        **api.buyer(), "Content-Type": "multipart/form-data; boundary=" + boundary.decode()})


def _files(api: Api) -> set[Path]:
    root = api.settings.upload_dir
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _rows(api: Api) -> int:
    with api.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        return session.scalar(select(func.count()).select_from(Upload)) or 0


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def _png_claiming(width: int, height: int) -> bytes:
    """A small real PNG whose IHDR (with a correct CRC) claims another size: a pixel bomb's header."""
    data = bytearray(media.png("olive", (8, 8)))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("photo.png", media.png("navy"))
    return buf.getvalue()


def _mp4_with_box_size(size: int) -> bytes:
    """media.mp4() with the size field of its last (mdat) box replaced."""
    data = bytearray(media.mp4(b"lying-box"))
    mdat = data.rindex(b"mdat") - 4
    data[mdat:mdat + 4] = struct.pack(">I", size)
    return bytes(data)


# ---------------------------------------------------------------- accepted files


@pytest.mark.parametrize(("data", "name", "kind", "mime", "size"), [
    (media.png("teal", (41, 31)), "photo.png", "image", "image/png", (41, 31)),
    (media.jpeg("maroon", (65, 49)), "IMG_0001.JPG", "image", "image/jpeg", (65, 49)),
    (media.mp4(b"accepted-clip"), "clip.mp4", "video", "video/mp4", (None, None)),
], ids=["png", "jpeg", "mp4"])
def test_a_real_png_jpeg_and_mp4_are_accepted_with_kind_mime_and_sha256(
        api: Api, data: bytes, name: str, kind: str, mime: str, size: tuple[int | None, int | None]) -> None:
    response = _post(api, data, name, mime)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["upload_id"].startswith("up_") and len(body["upload_id"]) == 35
    assert (body["kind"], body["mime"], body["size"]) == (kind, mime, len(data))
    assert body["sha256"] == _sha(data)
    assert (body["width"], body["height"]) == size
    assert body["display_name"] == name
    ext = {"image/png": "png", "image/jpeg": "jpg", "video/mp4": "mp4"}[mime]
    stored = api.settings.upload_dir / _sha(data)[:2] / f"{_sha(data)}.{ext}"
    assert stored.read_bytes() == data
    again = api.client.get(f"/api/v1/uploads/{body['upload_id']}", headers=api.buyer())
    assert again.status_code == 200
    assert {**again.json(), "created_at": None} == {**body, "created_at": None}
    assert datetime.fromisoformat(again.json()["created_at"]) == datetime.fromisoformat(body["created_at"]) == api.clock.now


def test_the_kind_comes_from_the_bytes_not_the_name_or_the_declared_type(api: Api) -> None:
    data = media.png("coral", (17, 13))
    response = _post(api, data, name="report.html", mime="text/html")
    assert response.status_code == 201, response.text
    assert (response.json()["kind"], response.json()["mime"]) == ("image", "image/png")
    content = api.client.get(f"/api/v1/uploads/{response.json()['upload_id']}/content", headers=api.buyer())
    assert content.headers["content-type"] == "image/png"


def test_the_same_bytes_uploaded_twice_give_two_uploads_but_one_stored_file(api: Api) -> None:
    data = media.png("gold", (23, 19))
    before = _files(api)
    first, second = _post(api, data, "a.png"), _post(api, data, "b.png")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["upload_id"] != second.json()["upload_id"]
    assert first.json()["sha256"] == second.json()["sha256"] == _sha(data)
    assert (first.json()["display_name"], second.json()["display_name"]) == ("a.png", "b.png")
    added = _files(api) - before
    assert added == {api.settings.upload_dir / _sha(data)[:2] / f"{_sha(data)}.png"}
    assert _rows(api) == 2


# ---------------------------------------------------------------- refused files


@pytest.mark.parametrize(("data", "name", "mime", "message"), [
    (b"just some notes, not a photo\n" * 20, "photo.jpg", "image/jpeg", NOT_EVIDENCE),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "header_then_garbage.png", "image/png", NOT_EVIDENCE),
    (media.png("purple", (300, 200))[:-200], "cut_off.png", "image/png", IMAGE_BROKEN),
    (media.jpeg("purple", (300, 200))[:-300], "cut_off.jpg", "image/jpeg", IMAGE_BROKEN),
    (_mp4_with_box_size(100_000), "too_long_box.mp4", "video/mp4", VIDEO_BROKEN),
    (_mp4_with_box_size(4), "tiny_box.mp4", "video/mp4", VIDEO_BROKEN),
    (media.mp4(b"cut")[:-3], "cut_off.mp4", "video/mp4", VIDEO_BROKEN),
    (media.mp4(b"x")[:28], "only_ftyp.mp4", "video/mp4", VIDEO_EMPTY),
    (media.mp4(b"x") + b"\x00\x00\x00", "trailing_bytes.mp4", "video/mp4", VIDEO_INCOMPLETE),
    (b"", "empty.png", "image/png", EMPTY),
    (b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>",
     "evidence.png", "image/png", NOT_EVIDENCE),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
     b"<script>alert(1)</script><rect width='10' height='10'/></svg>", "drawing.svg", "image/svg+xml", NOT_EVIDENCE),
    (_zip(), "photos.zip", "application/zip", NOT_EVIDENCE),
    (b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF", "receipt.pdf", "application/pdf", NOT_EVIDENCE),
], ids=["text_renamed_jpg", "png_header_then_garbage", "truncated_png", "truncated_jpeg", "mp4_box_longer_than_file",
        "mp4_box_shorter_than_header", "truncated_mp4", "mp4_without_content", "mp4_trailing_bytes", "empty_file",
        "html", "svg_with_script", "zip", "pdf"])
def test_a_file_that_is_not_a_sound_image_or_video_is_refused_and_nothing_is_kept(
        api: Api, data: bytes, name: str, mime: str, message: str) -> None:
    before = _files(api)
    response = _post(api, data, name, mime)
    assert response.status_code == 422, response.text
    assert response.json() == {"detail": message}
    assert _files(api) == before
    assert _rows(api) == 0


@pytest.mark.parametrize(("width", "height"), [(8000, 8000), (30000, 30000), (1, 60_000_000)])
def test_a_png_claiming_too_many_pixels_is_refused_before_it_is_decoded(api: Api, width: int, height: int) -> None:
    before = _files(api)
    response = _post(api, _png_claiming(width, height), "bomb.png")
    assert response.status_code == 422, response.text
    assert response.json() == {"detail": TOO_MANY_PIXELS}
    assert _files(api) == before and _rows(api) == 0


def test_a_png_with_a_sane_size_in_its_patched_header_is_still_judged_by_its_pixels(api: Api) -> None:
    """Control for the pixel-bomb test: the IHDR patch itself is sound, only the size matters."""
    response = _post(api, _png_claiming(8, 8), "same_size.png")
    assert response.status_code == 201, response.text
    assert (response.json()["width"], response.json()["height"]) == (8, 8)


def test_a_file_one_byte_over_max_upload_bytes_is_refused_with_413(api: Api) -> None:
    limit = api.settings.max_upload_bytes
    assert limit == 2 * 1024 * 1024
    before = _files(api)
    response = _post(api, b"\x00" * (limit + 1), "big.png")
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": "文件过大，单个文件不能超过 2 MB"}
    assert _files(api) == before and _rows(api) == 0


def test_a_file_of_exactly_max_upload_bytes_is_judged_by_content_not_refused_for_size(api: Api) -> None:
    limit = api.settings.max_upload_bytes
    response = _post(api, b"\x00" * limit, "zeros.png")
    assert response.status_code == 422
    assert response.json() == {"detail": NOT_EVIDENCE}


def test_an_upload_whose_content_length_is_far_over_the_limit_is_refused_before_reading(api: Api) -> None:
    before = _files(api)
    response = _post(api, b"\x00" * (3 * 1024 * 1024), "huge.png")
    assert response.status_code == 413
    assert response.json() == {"detail": "请求内容过大"}
    assert _files(api) == before and _rows(api) == 0


def test_an_upload_without_a_file_part_is_refused(api: Api) -> None:
    response = api.client.post("/api/v1/uploads", data={"buyer_id": "b_1001"}, headers=api.buyer())
    assert response.status_code == 422
    assert response.json()["detail"] == "请求内容不正确"
    assert ["body", "file"] in [e["loc"] for e in response.json()["errors"]]
    assert _rows(api) == 0


@pytest.mark.parametrize("body", [
    b"this is not multipart at all",
    b"--wrong-boundary\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc",
    b"----evidence-boundary-5f2a9c\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\r\nb.png\"\r\n\r\nx",
], ids=["not_multipart", "wrong_boundary", "line_break_in_header"])
def test_a_malformed_multipart_body_gets_a_4xx_with_a_chinese_message(api: Api, body: bytes) -> None:
    before = _files(api)
    response = api.client.post("/api/v1/uploads", content=body, headers={
        **api.buyer(), "Content-Type": "multipart/form-data; boundary=--evidence-boundary-5f2a9c"})
    assert response.status_code in (400, 422), response.text
    assert _has_chinese(response.json()["detail"]), response.json()
    assert _files(api) == before and _rows(api) == 0


# ---------------------------------------------------------------- file names


@pytest.mark.parametrize(("filename", "shown"), [
    (b"../../etc/passwd.png", "passwd.png"),
    (b"..\\..\\x.png", "x.png"),
    (b"/etc/cron.d/evil.png", "evil.png"),
    (b"C:\\Windows\\System32\\evil.png", "evil.png"),
    (b"a\x00b.png", "a_b.png"),
    (b"tab\there\x07bell\x1b[31m\x7f.png", "tab_here_bell_[31m_.png"),
    (b"<script>.png", "_script_.png"),
    (b"<img src=x onerror=alert(1)>.png", "_img src=x onerror=alert(1)_.png"),
    (b"..", "evidence.png"),
    (b"", "evidence.png"),
], ids=["dotdot_slash", "dotdot_backslash", "absolute", "windows_absolute", "nul", "control_chars", "script_tag", "img_onerror",
        "only_dots", "empty_name"])
def test_a_hostile_file_name_is_only_a_sanitised_label_and_the_file_is_stored_under_its_hash(
        api: Api, filename: bytes, shown: str) -> None:
    data = media.png("#%06x" % (zlib.crc32(filename) & 0xFFFFFF), (9, 7))
    before = _files(api)
    response = _post_raw_name(api, filename, data)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["display_name"] == shown
    assert not any(c in body["display_name"] for c in "/\\<>\x00\r\n")
    assert _files(api) - before == {api.settings.upload_dir / _sha(data)[:2] / f"{_sha(data)}.png"}
    outside = {p.name for p in api.settings.upload_dir.parent.rglob("*.png")} - {p.name for p in _files(api)}
    assert outside == set()
    assert not Path("/etc/passwd.png").exists() and not Path("/etc/cron.d/evil.png").exists()


def test_a_500_character_file_name_is_cut_to_a_bounded_label(api: Api) -> None:
    name = "证" * 250 + "x" * 246 + ".png"
    assert len(name) == 500
    data = media.png("#123456", (11, 7))
    response = _post(api, data, name)
    assert response.status_code == 201, response.text
    shown = response.json()["display_name"]
    assert 0 < len(shown) <= 100
    assert name.startswith(shown)
    again = api.client.get(f"/api/v1/uploads/{response.json()['upload_id']}", headers=api.buyer())
    assert again.json()["display_name"] == shown


# ---------------------------------------------------------------- serving and ownership


@pytest.mark.parametrize(("data", "name", "mime"), [
    (media.png("#0a0b0c", (13, 5)), "a.png", "image/png"),
    (media.jpeg("#0c0b0a", (13, 5)), "a.jpg", "image/jpeg"),
    (media.mp4(b"served"), "a.mp4", "video/mp4"),
], ids=["png", "jpeg", "mp4"])
def test_the_content_is_served_byte_for_byte_with_the_stored_mime_and_nosniff(
        api: Api, data: bytes, name: str, mime: str) -> None:
    upload_id = _post(api, data, name, "application/octet-stream").json()["upload_id"]
    response = api.client.get(f"/api/v1/uploads/{upload_id}/content", headers=api.buyer())
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == mime
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"] == "inline"
    as_service = api.client.get(f"/api/v1/uploads/{upload_id}/content", headers=api.service)
    assert as_service.status_code == 200 and as_service.content == data


def test_another_buyer_gets_404_for_the_metadata_and_the_content_as_for_an_unknown_upload(api: Api) -> None:
    upload_id = api.upload(media.png("#1a2b3c", (6, 6)), buyer_id="b_1001")
    for path in (f"/api/v1/uploads/{upload_id}", f"/api/v1/uploads/{upload_id}/content"):
        foreign = api.client.get(path, headers=api.buyer("b_2002"))
        assert foreign.status_code == 404, path
        assert foreign.json() == UPLOAD_NOT_FOUND
        unknown = api.client.get(path.replace(upload_id, "up_" + "0" * 32), headers=api.buyer("b_2002"))
        assert (unknown.status_code, unknown.json()) == (404, UPLOAD_NOT_FOUND)
        assert api.client.get(path, headers=api.buyer("b_1001")).status_code == 200


@pytest.mark.parametrize("upload_id", ["up_" + "f" * 32, "x" * 300, "%00", "..%2F..%2Fetc%2Fpasswd", "'%20OR%201=1--"],
                         ids=["unknown", "long", "nul", "dotdot", "sql"])
def test_an_upload_id_that_names_no_upload_gets_404_for_metadata_and_content(api: Api, upload_id: str) -> None:
    for suffix in ("", "/content"):
        response = api.client.get(f"/api/v1/uploads/{upload_id}{suffix}", headers=api.service)
        assert response.status_code in (404, 422), (suffix, response.text)
        if response.status_code == 404:
            assert response.json()["detail"] in (UPLOAD_NOT_FOUND["detail"], "请求的地址不存在")
        else:
            assert response.json()["detail"] == "请求内容不正确"


def test_a_buyer_cannot_store_an_upload_under_another_buyers_name(api: Api) -> None:
    response = api.client.post("/api/v1/uploads", files={"file": ("a.png", media.png("#abcdef", (5, 5)), "image/png")},
                               data={"buyer_id": "b_2002"}, headers=api.buyer("b_1001"))
    assert response.status_code == 201, response.text
    upload_id = response.json()["upload_id"]
    assert api.client.get(f"/api/v1/uploads/{upload_id}", headers=api.buyer("b_1001")).status_code == 200
    assert api.client.get(f"/api/v1/uploads/{upload_id}", headers=api.buyer("b_2002")).status_code == 404


def test_buyer_b_cannot_attach_buyer_as_upload_to_their_case(api: Api) -> None:
    api.order("2026111800000099", buyer_id="b_2002")
    case = api.client.post("/api/v1/cases", headers=api.buyer("b_2002"),
                           json=api.request(order_id="2026111800000099", buyer_id="b_2002")).json()
    events = len(api.case(case["case_id"])["events"])
    foreign = api.upload(media.png("#fedcba", (7, 7)), buyer_id="b_1001")
    response = api.materials(case["case_id"], [{"code": "defect_photo", "upload_id": foreign}], buyer_id="b_2002")
    assert response.status_code == 422
    assert response.json() == {"detail": "凭证文件不存在或已失效，请重新上传", "code": "defect_photo"}
    after = api.case(case["case_id"])
    assert after["materials"] == [] and len(after["events"]) == events
    assert after["status"] == "awaiting_materials"


def test_buyer_b_cannot_file_a_case_with_buyer_as_upload(api: Api) -> None:
    api.order("2026111800000099", buyer_id="b_2002")
    foreign = api.upload(media.png("#fedcbb", (7, 7)), buyer_id="b_1001")
    response = api.client.post("/api/v1/cases", headers=api.buyer("b_2002"), json=api.request(
        order_id="2026111800000099", buyer_id="b_2002", materials=[{"code": "defect_photo", "upload_id": foreign}]))
    assert response.status_code == 422
    assert response.json()["detail"] == "凭证文件不存在或已失效，请重新上传"
    assert api.client.get("/api/v1/cases", headers=api.service).json()["total"] == 0
