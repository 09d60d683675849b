"""Content-addressed evidence storage in a local folder (an object-store bucket in production
mounts the same way). Paths come only from the sha256, so a client's file name cannot steer them."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
import unicodedata
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from backend.db.models import Upload
from backend.uploads.sniff import sniff

_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>:\"/\\|?*]+")


def display_name(client_name: str | None, extension: str) -> str:
    """A harmless label for consoles: base name only, no control or path characters, bounded."""
    base = (client_name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", _UNSAFE.sub("_", base)).strip(" .")[:100]
    return base or f"evidence.{extension}"


def blob_path(root: Path, sha256: str, extension: str) -> Path:
    return root / sha256[:2] / f"{sha256}.{extension}"


def store(session: Session, root: Path, data: bytes, *, client_name: str | None, buyer_id: str | None,
          max_pixels: int, now: datetime) -> Upload:
    """Check the bytes, write them once under their hash (atomically), record the upload."""
    sniffed = sniff(data, max_pixels)
    digest = hashlib.sha256(data).hexdigest()
    path = blob_path(root, digest, sniffed.extension)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    upload = Upload(
        upload_id=f"up_{secrets.token_hex(16)}",
        sha256=digest,
        kind=sniffed.kind,
        mime=sniffed.mime,
        size=len(data),
        width=sniffed.width,
        height=sniffed.height,
        buyer_id=buyer_id,
        display_name=display_name(client_name, sniffed.extension),
        created_at=now,
    )
    session.add(upload)
    session.flush()
    return upload


def read_blob(root: Path, upload: Upload) -> Path:
    extension = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
                 "video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}[upload.mime]
    return blob_path(root, upload.sha256, extension)
