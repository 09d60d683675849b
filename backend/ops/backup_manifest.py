"""manifest.json of a backup archive: what is inside and what the restored system must look like.

The manifest is the contract between backup and restore. Restore trusts nothing in the archive until
every member matches its size and sha256 here, and afterwards compares the restored database with
the alembic revision and row counts recorded here. Member paths are validated strictly because
they become file paths on the restoring machine.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator


class BackupError(Exception):
    """An expected failure of backup or restore (missing tool, bad archive, refused target).

    The CLI prints its message and exits non-zero, without a traceback: the message is the whole story.
    """


FORMAT = "aftersales-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
UPLOADS_PREFIX = "uploads/"
DATABASE_MEMBERS = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}

_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$")


def safe_member_path(path: str) -> str:
    """Refuse anything that could escape the target folder or hide: absolute, '..', dot-files, odd characters."""
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or "\\" in path or any(not _SAFE_SEGMENT.match(p) for p in parts):
        raise ValueError(f"unsafe path in archive: {path!r}")
    if PurePosixPath(*parts).as_posix() != path:
        raise ValueError(f"unsafe path in archive: {path!r}")
    return path


class FileEntry(BaseModel):
    path: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("path")
    @classmethod
    def _safe(cls, value: str) -> str:
        return safe_member_path(value)


class DatabasePart(BaseModel):
    kind: Literal["sqlite", "postgresql"]
    file: FileEntry
    source: str  # the URL without its password: which database this came from
    server_version: str | None = None
    alembic_revision: str | None
    row_counts: dict[str, int]


class UploadsPart(BaseModel):
    source: str
    files: list[FileEntry]
    total_bytes: int
    # Distinct evidence files the dumped database refers to, and those of them missing from the folder.
    referenced: int
    referenced_missing: list[str]


class ToolInfo(BaseModel):
    name: str
    format_version: int
    python: str
    pg_dump: str | None = None
    code_head_revision: str | None = None  # the newest migration the backing-up code knew


class Manifest(BaseModel):
    format: Literal["aftersales-backup"]
    format_version: int
    created_at: datetime
    tool: ToolInfo
    database: DatabasePart
    uploads: UploadsPart

    @model_validator(mode="after")
    def _consistent(self) -> "Manifest":
        if self.format_version > FORMAT_VERSION:
            raise ValueError(f"format version {self.format_version} is newer than this tool ({FORMAT_VERSION}); "
                             "restore with the application version that made the backup")
        if self.database.file.path != DATABASE_MEMBERS[self.database.kind]:
            raise ValueError(f"unexpected database member {self.database.file.path!r}")
        paths = [entry.path for entry in self.uploads.files]
        if any(not p.startswith(UPLOADS_PREFIX) for p in paths) or len(set(paths)) != len(paths):
            raise ValueError("upload entries must be distinct paths under uploads/")
        return self

    def members(self) -> list[FileEntry]:
        """Every archive member the manifest vouches for (itself excluded)."""
        return [self.database.file, *self.uploads.files]
