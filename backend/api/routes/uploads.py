"""Evidence uploads: multipart in, content-checked, stored under their hash."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, UploadFile
from fastapi.responses import FileResponse

from backend.api.deps import ActorDep, NowDep, SessionDep, SettingsDep
from backend.db.models import Upload
from backend.errors import MSG_UPLOAD_NOT_FOUND, ServiceError
from backend.schemas.common import UPLOAD_ID_PATTERN, BuyerId
from backend.schemas.uploads import UploadOut
from backend.uploads.storage import read_blob, store

router = APIRouter(tags=["uploads"])
UploadIdPath = Annotated[str, Path(pattern=UPLOAD_ID_PATTERN)]
CHUNK = 1024 * 1024
MSG_TOO_LARGE = "文件过大，单个文件不能超过 {mb} MB"


def read_limited(file: UploadFile, limit: int) -> bytes:
    data = bytearray()
    while chunk := file.file.read(CHUNK):
        data += chunk
        if len(data) > limit:
            raise ServiceError(413, MSG_TOO_LARGE.format(mb=limit // (1024 * 1024) or 1))
    return bytes(data)


def upload_out(upload: Upload) -> UploadOut:
    return UploadOut.model_validate(upload, from_attributes=True)


def _visible(upload: Upload | None, buyer_scope: str | None) -> Upload:
    if upload is None or (buyer_scope is not None and upload.buyer_id != buyer_scope):
        raise ServiceError(404, MSG_UPLOAD_NOT_FOUND)
    return upload


@router.post("/uploads", response_model=UploadOut, status_code=201, summary="Store an evidence photo or video")
def post_upload(
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
    now: NowDep,
    file: Annotated[UploadFile, File(description="JPG/PNG/WEBP/GIF image or MP4/MOV/WEBM video")],
    buyer_id: Annotated[BuyerId | None, Form()] = None,
) -> UploadOut:
    owner = actor.buyer_scope or buyer_id
    data = read_limited(file, settings.max_upload_bytes)
    upload = store(session, settings.upload_dir, data, client_name=file.filename, buyer_id=owner,
                   max_pixels=settings.max_image_pixels, now=now)
    session.commit()
    return upload_out(upload)


@router.get("/uploads/{upload_id}", response_model=UploadOut)
def read_upload(upload_id: UploadIdPath, session: SessionDep, actor: ActorDep) -> UploadOut:
    return upload_out(_visible(session.get(Upload, upload_id), actor.buyer_scope))


@router.get("/uploads/{upload_id}/content", response_class=FileResponse, summary="The file itself")
def read_upload_content(upload_id: UploadIdPath, session: SessionDep, actor: ActorDep, settings: SettingsDep) -> FileResponse:
    upload = _visible(session.get(Upload, upload_id), actor.buyer_scope)
    return FileResponse(read_blob(settings.upload_dir, upload), media_type=upload.mime,
                        headers={"X-Content-Type-Options": "nosniff", "Content-Disposition": "inline"})
