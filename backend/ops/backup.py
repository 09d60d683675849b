"""Backup and restore of the case database and the evidence uploads (docs/backups.md).

    python -m backend.cli backup [--out DIR] [--keep N]
    python -m backend.cli restore ARCHIVE [--force]
    python -m backend.cli verify-backup ARCHIVE

A backup is one tar: the database dump, the upload folder, and manifest.json (backup_manifest.py).
The database is dumped first and the uploads copied after it. Upload files are written before their
row is committed and never change or disappear, so every file the dump refers to is already on disk
when the folder is copied: the archive is never torn. Files uploaded after the dump are included too
(harmless orphans on restore); their rows are in the next backup.

Restore verifies the whole archive before it touches anything, refuses a target that holds data
unless forced, swaps the database in all-or-nothing, moves displaced upload files aside instead of
deleting them, and finally compares the result with the manifest.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from backend.ops.backup_archive import ArchiveWriter, BackupArchive
from backend.ops.backup_db import (
    DatabaseState,
    check_sqlite_copy,
    database_kind,
    dump_postgres,
    dump_sqlite,
    pg_tool,
    read_state,
    redacted,
    replace_sqlite,
    restore_postgres,
    sqlite_path,
)
from backend.ops.backup_manifest import (
    DATABASE_MEMBERS,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    UPLOADS_PREFIX,
    BackupError,
    DatabasePart,
    FileEntry,
    Manifest,
    ToolInfo,
    UploadsPart,
    safe_member_path,
)
from backend.ops.progress import Progress, human_size
from backend.settings import PROJECT_ROOT, Settings

__all__ = ["BackupError", "create_backup", "default_backup_dir", "restore_backup", "rotate_backups", "verify_backup"]

ARCHIVE_NAME = re.compile(r"^aftersales-backup-(\d{8}T\d{6}Z)(?:-(\d+))?\.tar$")
_CONTENT_ADDRESSED = re.compile(r"^[0-9a-f]{2}/([0-9a-f]{64})\.[a-z0-9]+$")


def default_backup_dir() -> Path:
    return Path(os.environ.get("BACKUP_DIR") or PROJECT_ROOT / "var" / "backups")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(now: datetime) -> str:
    return now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _migrations() -> tuple[str | None, set[str]]:
    """(head revision, every revision) of the code running now."""
    from alembic.script import ScriptDirectory

    from backend.db.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head(), {rev.revision for rev in script.walk_revisions()}


def list_upload_files(root: Path, progress: Progress | None = None) -> dict[str, Path]:
    """Upload files by path relative to `root`. Dot-entries are skipped: they are the storage's
    `.incoming-*` temporaries and this tool's staging and moved-aside folders."""
    found: dict[str, Path] = {}
    if not root.is_dir():
        return found
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            try:
                safe_member_path(relative)
            except ValueError:
                if progress:
                    progress.warn(f"skipping {path}: not a name the upload storage makes")
                continue
            if path.is_symlink() or not path.is_file():
                if progress:
                    progress.warn(f"skipping {path}: not a regular file")
                continue
            found[relative] = path
    return found


def _rows_line(counts: dict[str, int]) -> str:
    """'35 in 18 tables (agents 2, order_items 18, orders 15)': empty tables are left out."""
    listed = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()) if n)
    return f"{sum(counts.values())} in {len(counts)} tables" + (f" ({listed})" if listed else "")


# -- backup -------------------------------------------------------------------------------------------


def _archive_path(out_dir: Path, now: datetime) -> Path:
    base = f"aftersales-backup-{_stamp(now)}"
    candidate, n = out_dir / f"{base}.tar", 1
    while candidate.exists():  # two backups within one second
        n += 1
        candidate = out_dir / f"{base}-{n}.tar"
    return candidate


def create_backup(settings: Settings, out_dir: Path, *, progress: Progress | None = None,
                  now: datetime | None = None) -> Path:
    """Write one archive into `out_dir` and return its path."""
    progress = progress or Progress()
    now = now or _utc_now()
    url, upload_dir = settings.database_url, Path(settings.upload_dir)
    kind = database_kind(url)
    if kind == "postgresql":
        pg_tool("pg_dump")  # fail before writing anything
    out_dir = out_dir.absolute()
    if out_dir.is_relative_to(upload_dir.absolute()):
        raise BackupError(f"the backup folder {out_dir} is inside UPLOAD_DIR {upload_dir}: choose another --out")
    try:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise BackupError(f"cannot create the backup folder {out_dir}: {exc}") from None
    final = _archive_path(out_dir, now)
    progress.say(f"backup of {redacted(url)} and {upload_dir} → {final}")
    head, _ = _migrations()

    try:  # the dump waits beside the archive, in a private folder
        staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=".backup-work-"))
    except OSError as exc:
        raise BackupError(f"cannot write into the backup folder {out_dir}: {exc}") from None
    try:
        dump = staging / DATABASE_MEMBERS[kind]
        server = pg_dump_version = None
        if kind == "postgresql":
            state, server, pg_dump_version = dump_postgres(url, dump, progress)
        else:
            state = dump_sqlite(url, dump, progress)
        progress.say(f"  database: {human_size(dump.stat().st_size)}, revision {state.revision}; "
                     f"rows: {_rows_line(state.row_counts)}")

        files = list_upload_files(upload_dir, progress)
        missing = sorted(state.referenced_uploads - set(files))
        progress.say(f"  uploads: {len(files)} files ({human_size(sum(p.stat().st_size for p in files.values()))}) "
                     f"in {upload_dir}; {len(state.referenced_uploads)} referenced by the database"
                     + (f", {len(missing)} of them MISSING" if missing else ", all present"))
        for path in missing:
            progress.warn(f"upload {path} is referenced by the database but missing from {upload_dir}")

        with ArchiveWriter(final, progress) as writer:
            writer.expected = dump.stat().st_size + sum(path.stat().st_size for path in files.values())
            progress.start()
            database_entry = writer.add_file(dump, DATABASE_MEMBERS[kind])
            entries = [_add_upload(writer, relative, path, progress) for relative, path in files.items()]
            manifest = Manifest(
                format=FORMAT, format_version=FORMAT_VERSION, created_at=now,
                tool=ToolInfo(name="backend.ops.backup", format_version=FORMAT_VERSION,
                              python=platform.python_version(), pg_dump=pg_dump_version, code_head_revision=head),
                database=DatabasePart(kind=kind, file=database_entry, source=redacted(url), server_version=server,
                                      alembic_revision=state.revision, row_counts=state.row_counts),
                uploads=UploadsPart(source=str(upload_dir), files=entries, total_bytes=sum(e.size for e in entries),
                                    referenced=len(state.referenced_uploads), referenced_missing=missing),
            )
            writer.add_bytes(MANIFEST_NAME, manifest.model_dump_json(indent=2).encode())
            writer.commit()
    except OSError as exc:
        raise BackupError(f"backup failed while writing: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress.say(f"written {final} ({human_size(final.stat().st_size)})")
    return final


def _add_upload(writer: ArchiveWriter, relative: str, path: Path, progress: Progress) -> FileEntry:
    try:
        entry = writer.add_file(path, UPLOADS_PREFIX + relative)
    except OSError as exc:
        raise BackupError(f"cannot read upload {path}: {exc}") from None
    named = _CONTENT_ADDRESSED.match(relative)
    if named and named.group(1) != entry.sha256:  # stored under its hash: different bytes mean disk damage
        progress.warn(f"upload {path} does not match the sha256 in its name: the file on disk is damaged")
    return entry


def rotate_backups(out_dir: Path, keep: int, progress: Progress | None = None) -> list[Path]:
    """Delete all but the newest `keep` archives this tool named in `out_dir`; nothing else is touched."""
    progress = progress or Progress()
    archives = []
    for path in out_dir.iterdir():
        match = ARCHIVE_NAME.match(path.name)
        if match and path.is_file():
            archives.append(((match.group(1), int(match.group(2) or 1)), path))
    archives.sort()
    removed = [path for _, path in archives[:-keep]] if keep > 0 else []
    for path in removed:
        path.unlink()
        progress.say(f"rotated out {path.name}")
    return removed


# -- verify and restore -------------------------------------------------------------------------------


def verify_backup(archive_path: Path, *, progress: Progress | None = None) -> Manifest:
    """Check an archive completely without restoring it (e.g. after copying it off-site)."""
    progress = progress or Progress()
    archive = BackupArchive(archive_path)
    try:
        archive.verify(progress)
    finally:
        archive.close()
    manifest = archive.manifest
    progress.say(f"{archive_path} is complete: {manifest.database.kind} database at revision "
                 f"{manifest.database.alembic_revision} ({sum(manifest.database.row_counts.values())} rows), "
                 f"{len(manifest.uploads.files)} upload files, made {manifest.created_at.isoformat()}")
    return manifest


@dataclass
class RestoreSummary:
    manifest: Manifest
    state: DatabaseState
    moved_aside: list[str] = field(default_factory=list)
    aside_folder: Path | None = None
    previous_database: Path | None = None


def restore_backup(settings: Settings, archive_path: Path, *, force: bool = False,
                   progress: Progress | None = None, now: datetime | None = None) -> RestoreSummary:
    progress = progress or Progress()
    now = now or _utc_now()
    url, upload_dir = settings.database_url, Path(settings.upload_dir)
    kind = database_kind(url)
    if kind == "postgresql":
        pg_tool("pg_restore")
    archive = BackupArchive(archive_path)
    try:
        manifest = archive.manifest
        progress.say(f"restore of {archive_path} (made {manifest.created_at.isoformat()} from "
                     f"{manifest.database.source}) into {redacted(url)} and {upload_dir}")
        if manifest.database.kind != kind:
            raise BackupError(f"the archive holds a {manifest.database.kind} database but DATABASE_URL is {kind}")
        _refuse_unless_empty(url, upload_dir, force)
        _warn_about_revision(manifest, progress)
        summary = _restore(archive, settings, force=force, stamp=_stamp(now), progress=progress)
    except OSError as exc:  # e.g. UPLOAD_DIR not writable, disk full while staging: nothing was replaced
        raise BackupError(f"cannot write the restored files: {exc}") from None
    finally:
        archive.close()
    _check_result(summary, url, upload_dir, progress)
    return summary


def _refuse_unless_empty(url: str, upload_dir: Path, force: bool) -> None:
    state = read_state(url)
    files = list_upload_files(upload_dir)
    if force or (not state.non_empty_tables() and not files):
        return
    held = [f"{name}: {n}" for name, n in sorted(state.non_empty_tables().items())][:6]
    if files:
        held.append(f"{len(files)} upload files")
    raise BackupError("目标不是空的，未做任何改动 / the target is not empty, nothing was changed "
                      f"({', '.join(held)}). Restore into an empty database and upload folder, or add --force to "
                      "replace them (upload files not in the backup are moved aside, not deleted).")


def _warn_about_revision(manifest: Manifest, progress: Progress) -> None:
    head, known = _migrations()
    revision = manifest.database.alembic_revision
    if revision is not None and revision not in known:
        progress.warn(f"the backup's schema revision {revision} is unknown to this version of the application "
                      "(made by a newer one?): restore with the version that made it")


def _restore(archive: BackupArchive, settings: Settings, *, force: bool, stamp: str,
             progress: Progress) -> RestoreSummary:
    manifest = archive.manifest
    url, upload_dir = settings.database_url, Path(settings.upload_dir)
    created_upload_dir = not upload_dir.exists()
    upload_dir.mkdir(parents=True, exist_ok=True)
    # Staged beside their final places, so moving them in is a rename on the same file system.
    staging = upload_dir / f".restore-{stamp}"
    if manifest.database.kind == "sqlite":
        target = sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged_db = target.with_name(f".{target.name}.restore-{stamp}")
    else:
        staged_db = staging / manifest.database.file.path

    def destination(entry: FileEntry) -> Path:
        return staged_db if entry is manifest.database.file else staging / entry.path

    def discard() -> None:
        shutil.rmtree(staging, ignore_errors=True)
        staged_db.unlink(missing_ok=True)
        if created_upload_dir:
            shutil.rmtree(upload_dir, ignore_errors=True)

    try:
        archive.verify(progress, destination)
        if manifest.database.kind == "sqlite":
            check_sqlite_copy(staged_db)
        summary = RestoreSummary(manifest=manifest, state=DatabaseState(exists=True))
        if manifest.database.kind == "postgresql":
            restore_postgres(url, staged_db, progress)
        else:
            target = sqlite_path(url)
            aside = target.with_name(f"{target.name}.before-restore-{stamp}") if force and target.exists() else None
            progress.say(f"  database: replacing {target} in one rename")
            replace_sqlite(staged_db, target, aside)
            summary.previous_database = aside
    except BaseException:
        discard()
        raise
    # The database is restored: from here on, only renames inside UPLOAD_DIR.
    try:
        _place_uploads(manifest, staging / UPLOADS_PREFIX.rstrip("/"), upload_dir, force, stamp, summary, progress)
    except OSError as exc:
        raise BackupError(f"the database was restored but placing the upload files failed: {exc}; "
                          f"the remaining files are in {staging}") from None
    shutil.rmtree(staging, ignore_errors=True)
    return summary


def _same_file(path: Path, entry: FileEntry) -> bool:
    if path.stat().st_size != entry.size:
        return False
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest() == entry.sha256


def _place_uploads(manifest: Manifest, staged_root: Path, upload_dir: Path, force: bool, stamp: str,
                   summary: RestoreSummary, progress: Progress) -> None:
    aside_root = upload_dir / f".before-restore-{stamp}"

    def move_aside(relative: str) -> None:
        destination = aside_root / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(upload_dir / relative, destination)
        summary.moved_aside.append(relative)
        summary.aside_folder = aside_root

    progress.say(f"  uploads: placing {len(manifest.uploads.files)} files "
                 f"({human_size(manifest.uploads.total_bytes)}) into {upload_dir}")
    existing = list_upload_files(upload_dir)
    incoming = set()
    for entry in manifest.uploads.files:
        relative = entry.path[len(UPLOADS_PREFIX):]
        incoming.add(relative)
        final = upload_dir / relative
        if relative in existing:
            if _same_file(final, entry):
                continue
            move_aside(relative)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged_root / relative, final)
    if force:
        for relative in sorted(set(existing) - incoming):
            move_aside(relative)


def _check_result(summary: RestoreSummary, url: str, upload_dir: Path, progress: Progress) -> None:
    """Compare the restored system with the manifest; a difference is an error, never silence."""
    manifest = summary.manifest
    state = read_state(url)
    summary.state = state
    problems = []
    if state.revision != manifest.database.alembic_revision:
        problems.append(f"schema revision {state.revision}, backup {manifest.database.alembic_revision}")
    for name in sorted(set(manifest.database.row_counts) | set(state.non_empty_tables())):
        expected, found = manifest.database.row_counts.get(name, 0), state.row_counts.get(name, 0)
        if expected != found:
            problems.append(f"{name}: {found} rows, backup {expected}")
    for entry in manifest.uploads.files:
        path = upload_dir / entry.path[len(UPLOADS_PREFIX):]
        if not path.is_file() or path.stat().st_size != entry.size:
            problems.append(f"upload {entry.path} missing or of the wrong size")
    if problems:
        raise BackupError("the restore ran, but the result differs from the backup's manifest: "
                          + "; ".join(problems[:10]) + ". Is the backend still running against this target?")

    head, _ = _migrations()
    progress.say(f"restored: database at revision {state.revision}; rows: {_rows_line(state.row_counts)}")
    progress.say(f"restored: {len(manifest.uploads.files)} upload files ({human_size(manifest.uploads.total_bytes)}) "
                 f"into {upload_dir}")
    if summary.previous_database:
        progress.say(f"the previous database file is kept at {summary.previous_database}")
    if summary.moved_aside:
        progress.say(f"moved aside {len(summary.moved_aside)} upload files that are not in the backup: "
                     f"{summary.aside_folder} (delete it once you are satisfied)")
    if manifest.uploads.referenced_missing:
        progress.warn(f"{len(manifest.uploads.referenced_missing)} upload files were already missing when the "
                      "backup was made (see manifest.json: uploads.referenced_missing)")
    if state.revision != head:
        progress.say(f"next: `python -m backend.cli migrate` (the backup's schema is {state.revision}, "
                     f"this code's is {head}), then start the backend")
    else:
        progress.say("next: start the backend")
