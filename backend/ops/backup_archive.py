"""The archive file: an uncompressed tar written once and read back with distrust.

Uncompressed because evidence files (JPEG, MP4) and custom-format dumps are already compressed.
The manifest is the last member: a truncated archive has none and is refused as incomplete. The
archive is written under a dot-name and renamed when complete, so a crash never leaves a file
that rotation or an operator could mistake for a backup.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from pydantic import ValidationError

from backend.ops.backup_manifest import MANIFEST_NAME, BackupError, FileEntry, Manifest
from backend.ops.progress import Progress, human_size

CHUNK = 1024 * 1024
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


class _HashingReader:
    """Feeds tarfile while hashing and counting, so each file is read once."""

    def __init__(self, fh: BinaryIO, on_chunk: Callable[[int], None]) -> None:
        self.fh, self.on_chunk, self.digest = fh, on_chunk, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.digest.update(data)
        self.on_chunk(len(data))
        return data


class ArchiveWriter:
    """`with ArchiveWriter(path) as w: w.add_file(…); …; w.commit()` — anything but commit() removes the file."""

    def __init__(self, final: Path, progress: Progress) -> None:
        self.final = final
        self.partial = final.with_name(f".{final.name}.partial")
        self.progress = progress
        self.written = 0
        self.expected = 0  # total bytes the caller will add, for "x of y" progress
        fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # personal data: owner only
        self._file = os.fdopen(fd, "wb")
        self._tar = tarfile.open(fileobj=self._file, mode="w", format=tarfile.PAX_FORMAT)
        self._committed = False

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if not self._committed:
            self._tar.close()
            self._file.close()
            self.partial.unlink(missing_ok=True)

    def _info(self, member: str, size: int, mtime: float) -> tarfile.TarInfo:
        info = tarfile.TarInfo(member)
        info.size, info.mtime, info.mode = size, int(mtime), 0o600
        return info

    def add_file(self, source: Path, member: str) -> FileEntry:
        with open(source, "rb") as fh:
            stat = os.fstat(fh.fileno())

            def counted(n: int) -> None:
                self.written += n
                of = f" of {human_size(self.expected)}" if self.expected else ""
                self.progress.tick(f"{human_size(self.written)}{of} written")

            reader = _HashingReader(fh, counted)
            self._tar.addfile(self._info(member, stat.st_size, stat.st_mtime), reader)  # type: ignore[arg-type]
        return FileEntry(path=member, size=stat.st_size, sha256=reader.digest.hexdigest())

    def add_bytes(self, member: str, data: bytes) -> None:
        self._tar.addfile(self._info(member, len(data), time.time()), io.BytesIO(data))

    def commit(self) -> None:
        self._tar.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.partial, self.final)
        self._committed = True


class BackupArchive:
    """An archive opened for reading: members listed and the manifest parsed, nothing trusted yet."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise BackupError(f"no such archive: {path}")
        self.path = path
        try:
            self._tar = tarfile.open(path, "r:*")
            members = self._tar.getmembers()
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise BackupError(f"{path} is not a readable backup archive (damaged or truncated?): {exc}") from None
        try:
            self.members = {m.name: m for m in members}
            if len(self.members) != len(members):
                raise BackupError(f"{path} holds the same member twice: not an archive made by this tool")
            self.manifest = self._read_manifest()
            self._check_member_list()
        except BaseException:
            self._tar.close()
            raise

    def close(self) -> None:
        self._tar.close()

    def _read_manifest(self) -> Manifest:
        member = self.members.get(MANIFEST_NAME)
        if member is None:
            raise BackupError(f"{self.path} has no {MANIFEST_NAME}: the archive is incomplete (truncated copy?) "
                              "or not a backup made by this tool")
        if not member.isfile() or member.size > MAX_MANIFEST_BYTES:
            raise BackupError(f"{MANIFEST_NAME} in {self.path} is not a plain file of a sensible size")
        try:
            data = self._read_all(member)
            return Manifest.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "manifest"
            raise BackupError(f"{MANIFEST_NAME} in {self.path} is invalid: {where}: {first['msg']}") from None

    def _read_all(self, member: tarfile.TarInfo) -> bytes:
        try:
            fh = self._tar.extractfile(member)
            assert fh is not None
            data = fh.read()
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise BackupError(f"cannot read {member.name} from {self.path} (truncated?): {exc}") from None
        if len(data) != member.size:
            raise BackupError(f"{member.name} in {self.path} is cut short: the archive is truncated")
        return data

    def _check_member_list(self) -> None:
        expected = {entry.path for entry in self.manifest.members()}
        present = set(self.members) - {MANIFEST_NAME}
        if missing := sorted(expected - present):
            raise BackupError(f"{len(missing)} file(s) listed in the manifest are missing from {self.path} "
                              f"(truncated?), e.g. {missing[0]}")
        if extra := sorted(present - expected):
            raise BackupError(f"{self.path} holds file(s) the manifest does not list, e.g. {extra[0]}: "
                              "refusing an archive that was modified")
        for name in expected:
            if not self.members[name].isfile():
                raise BackupError(f"{name} in {self.path} is not a regular file: refusing the archive")

    def verify(self, progress: Progress, destination: Callable[[FileEntry], Path] | None = None) -> None:
        """Check every member's size and sha256 against the manifest; with `destination`, also write
        each member there. Raises on the first mismatch; the caller removes what was written."""
        entries = self.manifest.members()
        total = sum(entry.size for entry in entries)
        progress.say(f"  verifying {len(entries)} files ({human_size(total)}) against the manifest")
        progress.start()
        done = 0
        for entry in entries:
            member = self.members[entry.path]
            if member.size != entry.size:
                raise BackupError(f"{entry.path}: {member.size} bytes in the archive, {entry.size} in the manifest "
                                  "— the archive is damaged or was modified")
            target = destination(entry) if destination else None
            digest, length = self._copy(member, target, lambda n: progress.tick(
                f"verified {human_size(done + n)} of {human_size(total)}"))
            if length != entry.size:
                raise BackupError(f"{entry.path} is cut short: the archive is truncated")
            if digest != entry.sha256:
                raise BackupError(f"checksum mismatch for {entry.path}: the archive is damaged or was modified "
                                  f"(sha256 {digest}, manifest {entry.sha256})")
            done += entry.size

    def _copy(self, member: tarfile.TarInfo, target: Path | None,
              on_progress: Callable[[int], None]) -> tuple[str, int]:
        digest, length = hashlib.sha256(), 0
        out = None
        try:
            fh = self._tar.extractfile(member)
            assert fh is not None
            if target is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                out = open(target, "wb")
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                length += len(chunk)
                if out is not None:
                    out.write(chunk)
                on_progress(length)
        except (tarfile.TarError, EOFError) as exc:
            raise BackupError(f"cannot read {member.name} from {self.path} (truncated?): {exc}") from None
        except OSError as exc:
            raise BackupError(f"cannot write {target}: {exc}") from None
        finally:
            if out is not None:
                out.close()
        return digest.hexdigest(), length
