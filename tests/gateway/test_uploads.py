"""Buyer uploads from the widget: the widget token decides the owner; the content is checked."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.db.models import Upload
from tests.gateway.conftest import UPLOAD_BURST, Gateway
from tests.support import media

CJK = re.compile(r"[\u4e00-\u9fff]")


def _stored(gw: Gateway) -> tuple[int, list[Path]]:
    """Upload rows (this test's) and blob files (the folder is shared by the session's tests)."""
    with gw.db() as session:
        rows = session.scalar(select(func.count()).select_from(Upload)) or 0
    root = gw.settings.upload_dir
    return rows, sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_real_jpeg_is_stored_for_the_buyer_of_the_token(gw: Gateway) -> None:
    data = media.jpeg()
    response = gw.upload(data, name="C:\\相册\\开胶.jpg", token=gw.token())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["upload_id"].startswith("up_")
    assert (body["kind"], body["mime"], body["size"]) == ("image", "image/jpeg", len(data))
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["display_name"] == "开胶.jpg"  # base name only
    assert gw.client.get(f"/api/v1/uploads/{body['upload_id']}", headers=gw.api.buyer()).status_code == 200
    assert gw.client.get(f"/api/v1/uploads/{body['upload_id']}", headers=gw.api.buyer("b_2002")).status_code == 404
    content = gw.client.get(f"/api/v1/uploads/{body['upload_id']}/content", headers=gw.service)
    assert content.content == data


def test_a_real_png_and_mp4_are_accepted_with_their_kind(gw: Gateway) -> None:
    png = gw.upload(media.png(), name="a.png", token=gw.token(), mime="image/png").json()
    video = gw.upload(media.mp4(), name="clip.mp4", token=gw.token(), mime="video/mp4").json()
    assert (png["kind"], png["mime"]) == ("image", "image/png")
    assert (video["kind"], video["mime"]) == ("video", "video/mp4")


@pytest.mark.parametrize("data, name, mime", [
    pytest.param("鞋子照片".encode() * 50, "photo.jpg", "image/jpeg", id="text-named-jpg"),
    pytest.param(b"\xff\xd8\xff\xe0" + b"\x00" * 200, "photo.jpg", "image/jpeg", id="jpeg-magic-only"),
    pytest.param(b"<svg onload=alert(1)></svg>", "x.svg", "image/svg+xml", id="svg"),
    pytest.param(b"MZ\x90\x00" + b"\x00" * 100, "photo.png", "image/png", id="executable"),
    pytest.param(b"", "empty.jpg", "image/jpeg", id="empty"),
])
def test_a_file_that_is_not_a_real_image_or_video_is_refused_and_nothing_is_stored(
        gw: Gateway, data: bytes, name: str, mime: str) -> None:
    before = _stored(gw)
    response = gw.upload(data, name=name, token=gw.token(), mime=mime)
    assert response.status_code in (415, 422), response.text
    assert CJK.search(response.json()["detail"])
    assert _stored(gw) == before and before[0] == 0


def test_a_file_over_the_size_limit_gets_413(gw: Gateway) -> None:
    limit, before = gw.settings.max_upload_bytes, _stored(gw)
    response = gw.upload(media.jpeg("olive") + b"\x00" * limit, token=gw.token())
    assert response.status_code == 413
    assert CJK.search(response.json()["detail"])
    assert _stored(gw) == before and before[0] == 0


@pytest.mark.parametrize("authorization", [
    pytest.param(None, id="missing"),
    pytest.param("Bearer ", id="empty"),
    pytest.param("Basic Yjp4", id="not-bearer"),
    pytest.param("Bearer not.a.jwt", id="garbage"),
    pytest.param("forged", id="forged-signature"),
    pytest.param("expired", id="expired"),
    pytest.param("service", id="service-token"),
])
def test_an_upload_without_a_valid_widget_token_gets_401(gw: Gateway, authorization: str | None) -> None:
    headers: dict[str, str] = {}
    before = _stored(gw)
    if authorization == "forged":
        header, payload, signature = gw.token().split(".")
        headers["Authorization"] = f"Bearer {header}.{payload}.{signature[::-1]}"
    elif authorization == "expired":
        token = gw.token(hours=1)
        gw.clock.advance(hours=2)
        headers["Authorization"] = f"Bearer {token}"
    elif authorization == "service":
        headers.update(gw.service)
    elif authorization is not None:
        headers["Authorization"] = authorization
    response = gw.client.post("/gateway/uploads", files={"file": ("p.jpg", media.jpeg("navy"), "image/jpeg")},
                              headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "登录已过期或无效，请刷新页面后重试"}
    assert _stored(gw) == before and before[0] == 0


def test_an_anonymous_token_cannot_upload(gw: Gateway) -> None:
    before = _stored(gw)
    response = gw.upload(media.jpeg("navy"), token=gw.anonymous()["token"])
    assert response.status_code == 403 and response.json() == {"detail": "请先登录后再上传图片或视频"}
    assert _stored(gw) == before and before[0] == 0


def test_uploads_beyond_the_burst_get_429_for_that_buyer_only(gw: Gateway) -> None:
    token = gw.token()
    for n in range(UPLOAD_BURST):
        assert gw.upload(media.png(size=(20 + n, 20)), name="p.png", token=token, mime="image/png").status_code == 201
    flood = gw.upload(media.png(size=(99, 20)), name="p.png", token=token, mime="image/png")
    assert flood.status_code == 429 and flood.json() == {"detail": "上传太频繁了，请稍后再试"}
    assert _stored(gw)[0] == UPLOAD_BURST
    assert gw.upload(media.jpeg(), token=gw.token("b_2002")).status_code == 201
