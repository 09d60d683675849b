"""Evidence uploads."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class UploadOut(BaseModel):
    upload_id: str
    sha256: str
    kind: str
    mime: str
    size: int
    width: int | None
    height: int | None
    display_name: str
    created_at: datetime
