"""Backups are only worth what their restore gives back: real data made through the API, the real
CLI in a subprocess, a restore into a second, empty database and upload folder, and the same rows,
the same case JSON and the same upload bytes on the other side — on SQLite and on PostgreSQL.
Damaged archives and occupied targets must be refused before anything is touched."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from backend.db.migrate import alembic_config, upgrade
from backend.db.models import Base, Upload
from backend.db.session import make_engine, make_session_factory
from backend.main import create_app
from backend.ops.backup import create_backup, rotate_backups
from backend.ops.backup_db import read_state
from backend.ops.progress import Progress
from backend.settings import Settings
from backend.uploads.storage import read_blob, store
from tests.support import media
from tests.support.api import NOW, TOKEN, Api, Clock
from tests.support.databases import drop_postgres, fresh_postgres_url

ROOT = Path(__file__).resolve().parents[2]
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
PYTHON = ROOT / ".venv" / "bin" / "python"
_numbers = itertools.count()


@dataclass
class Target:
    """A database plus an upload folder: what backup reads and restore writes."""

    kind: str
    url: str
    upload_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {"DATABASE_URL": self.url, "UPLOAD_DIR": str(self.upload_dir), "APP_ENV": "test",
                "CASE_API_TOKEN": TOKEN, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), **extra}

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(PYTHON), "-m", "backend.cli", *args], cwd=ROOT, env=self.env(**env),
                                capture_output=True, text=True, timeout=300)
        assert "Traceback" not in result.stderr, result.stderr  # expected failures are one clear message
        return result

    def settings(self) -> Settings:
        return Settings(DATABASE_URL=self.url, UPLOAD_DIR=self.upload_dir, CASE_API_TOKEN=TOKEN,
                        SCHEDULER_ENABLED=False, APP_ENV="test", PUSH_ENABLED=False, RASA_URL="http://127.0.0.1:9")

    def files(self) -> dict[str, bytes]:
        """Every file under the upload folder, hidden ones included (staging leftovers would show)."""
        if not self.upload_dir.exists():
            return {}
        return {p.relative_to(self.upload_dir).as_posix(): p.read_bytes()
                for p in sorted(self.upload_dir.rglob("*")) if p.is_file()}

    def visible_files(self) -> dict[str, bytes]:
        return {name: data for name, data in self.files().items() if not name.startswith(".")}


class Targets:
    """Fresh, empty targets of one engine; PostgreSQL databases are dropped at the end."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind, self.tmp = kind, tmp
        self.made: list[Target] = []

    def new(self) -> Target:
        n = next(_numbers)
        if self.kind == "sqlite":
            url = f"sqlite:///{self.tmp / f'db{n}' / 'cases.db'}"
        else:
            url = fresh_postgres_url(f"backup{n}")
        target = Target(self.kind, url, self.tmp / f"uploads{n}")
        self.made.append(target)
        return target

    def drop_all(self) -> None:
        for target in self.made:
            if target.kind == "postgresql":
                drop_postgres(target.url)


@contextmanager
def running_api(target: Target) -> Iterator[Api]:
    clock = Clock()
    settings = target.settings()
    with TestClient(create_app(settings, clock=clock)) as client:
        yield Api(client, clock, settings)


def rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order: 'the same data' in the strictest sense."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        result = {table.name: [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))]
                  for table in Base.metadata.sorted_tables}
    engine.dispose()
    return result


def manifest_of(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive) as tar:
        fh = tar.extractfile("manifest.json")
        assert fh is not None
        return json.loads(fh.read())


def assert_untouched(target: Target) -> None:
    """Nothing was written: no database content, no upload folder content, no staging leftovers."""
    if target.kind == "sqlite":
        folder = Path(target.url.removeprefix("sqlite:///")).parent
        assert not folder.exists() or list(folder.iterdir()) == []
    else:
        assert read_state(target.url).row_counts == {}
    assert target.files() == {}


@dataclass
class Source:
    target: Target
    archive: Path
    case_id: str
    case_json: dict[str, Any]
    uploads: dict[str, bytes]  # upload_id → bytes as served by the API
    rows: dict[str, list[tuple[Any, ...]]]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def targets(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    made = Targets(request.param, tmp_path_factory.mktemp(f"backup-{request.param}"))
    yield made
    made.drop_all()


@pytest.fixture(scope="module")
def source(targets: Targets) -> Source:
    """A case with a photo and a video, a note by the merchant and one stray upload; then a backup by the CLI."""
    target = targets.new()
    upgrade(target.url)
    with running_api(target) as api:
        api.order()
        case_id = api.complete_quality_case()
        assert api.act(case_id, "note", reason="已联系买家，等待寄回", actor_role="merchant").status_code == 200
        api.upload(media.jpeg(), name="另一张.jpg")
        case_json = api.case(case_id)
        upload_ids = [m["upload_id"] for m in case_json["materials"] if m.get("upload_id")]
        assert len(upload_ids) == 2
        uploads = {uid: api.client.get(f"/api/v1/uploads/{uid}/content", headers=api.service).content
                   for uid in upload_ids}
    out = targets.tmp / "archives"
    result = target.cli("backup", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert ("pg_dump --format=custom" if target.kind == "postgresql" else "online backup API") in result.stdout
    (archive,) = out.glob("aftersales-backup-*.tar")
    return Source(target, archive, case_id, case_json, uploads, rows(target.url))


def test_the_manifest_describes_the_database_and_every_upload_file(source: Source) -> None:
    manifest = manifest_of(source.archive)
    database = manifest["database"]
    assert database["kind"] == source.target.kind
    assert database["alembic_revision"] == HEAD
    assert database["row_counts"]["cases"] == 1
    assert database["row_counts"]["uploads"] == 3
    assert database["row_counts"]["case_events"] == len(source.case_json["events"])
    assert database["row_counts"] == {name: len(table_rows) for name, table_rows in source.rows.items()}
    on_disk = {p.relative_to(source.target.upload_dir).as_posix(): p.read_bytes()
               for p in source.target.upload_dir.rglob("*") if p.is_file()}
    assert {f["path"]: (f["size"], f["sha256"]) for f in manifest["uploads"]["files"]} == {
        f"uploads/{name}": (len(data), hashlib.sha256(data).hexdigest()) for name, data in on_disk.items()}
    assert manifest["uploads"]["referenced"] == 3 and manifest["uploads"]["referenced_missing"] == []
    assert manifest["created_at"] and manifest["tool"]["format_version"] == 1
    assert "password" not in json.dumps(manifest)
    assert oct(source.archive.stat().st_mode & 0o777) == "0o600"  # buyers' personal data: owner only


def test_a_restore_into_an_empty_target_gives_back_the_same_rows_case_and_bytes(targets: Targets,
                                                                               source: Source) -> None:
    target = targets.new()
    result = target.cli("restore", str(source.archive))
    assert result.returncode == 0, result.stderr
    assert "verifying" in result.stdout and f"restored: database at revision {HEAD}" in result.stdout

    assert rows(target.url) == source.rows
    assert target.visible_files() == {p.relative_to(source.target.upload_dir).as_posix(): p.read_bytes()
                                      for p in source.target.upload_dir.rglob("*") if p.is_file()}
    assert not [name for name in target.files() if name.startswith(".")]  # no staging left behind
    with running_api(target) as api:
        assert api.case(source.case_id) == source.case_json
        for upload_id, data in source.uploads.items():
            served = api.client.get(f"/api/v1/uploads/{upload_id}/content", headers=api.service)
            assert served.status_code == 200 and served.content == data
        # Sequences came back too: the restored database takes new events after the old ones.
        assert api.act(source.case_id, "note", reason="恢复后的备注", actor_role="merchant").status_code == 200
        events = api.case(source.case_id)["events"]
        assert len(events) == len(source.case_json["events"]) + 1


def test_verify_backup_checks_an_archive_without_restoring_it(source: Source, tmp_path: Path) -> None:
    result = source.target.cli("verify-backup", str(source.archive))
    assert result.returncode == 0, result.stderr
    assert "is complete" in result.stdout


def _tampered(archive: Path, dest: Path) -> Path:
    """A copy of the archive with one byte of one upload file changed, the manifest left as it was."""
    shutil.copy(archive, dest)
    with tarfile.open(dest) as tar:
        member = next(m for m in tar.getmembers() if m.name.startswith("uploads/"))
    with open(dest, "r+b") as fh:
        fh.seek(member.offset_data + member.size // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))
    return dest


def test_a_tampered_archive_is_refused_and_the_target_is_not_touched(targets: Targets, source: Source,
                                                                      tmp_path: Path) -> None:
    tampered = _tampered(source.archive, tmp_path / "tampered.tar")
    target = targets.new()
    result = target.cli("restore", str(tampered))
    assert result.returncode != 0
    assert "checksum mismatch for uploads/" in result.stderr
    assert_untouched(target)
    verify = target.cli("verify-backup", str(tampered))
    assert verify.returncode != 0 and "checksum mismatch" in verify.stderr


def test_a_truncated_or_foreign_archive_is_refused_clearly(targets: Targets, source: Source, tmp_path: Path) -> None:
    data = source.archive.read_bytes()
    with tarfile.open(source.archive) as tar:
        manifest_at = tar.getmember("manifest.json").offset_data
    target = targets.new()
    cases = [
        ("half.tar", data[: len(data) // 2], "truncated"),
        ("most.tar", data[: manifest_at + 100], "truncated"),  # cut inside the manifest, the last member
        ("headers.tar", data[:manifest_at - 512], "truncated"),  # cut before the manifest's header
    ]
    if targets.kind == "sqlite":  # reading the archive does not depend on the engine: once is enough
        cases += [("notes.tar", "这不是备份".encode() * 100, "not a readable backup archive"),
                  ("empty.tar", b"", "not a readable backup archive")]
    for name, content, expected in cases:
        path = tmp_path / name
        path.write_bytes(content)
        result = target.cli("restore", str(path))
        assert result.returncode != 0, name
        assert expected in result.stderr, (name, result.stderr)
        assert_untouched(target)
    missing = target.cli("restore", str(tmp_path / "nowhere.tar"))
    assert missing.returncode != 0 and "no such archive" in missing.stderr


def test_a_target_holding_data_is_refused_without_force_and_replaced_with_it(targets: Targets, source: Source) -> None:
    target = targets.new()
    assert target.cli("restore", str(source.archive)).returncode == 0
    with running_api(target) as api:  # the target moves on after the restore: a new order, a new upload
        api.order("2026111899999999")
        api.upload(media.png("green"), name="later.png")
    before_rows, before_files = rows(target.url), target.visible_files()

    refused = target.cli("restore", str(source.archive))
    assert refused.returncode == 1
    assert "not empty" in refused.stderr and "--force" in refused.stderr and "目标不是空的" in refused.stderr
    assert rows(target.url) == before_rows and target.visible_files() == before_files

    forced = target.cli("restore", str(source.archive), "--force")
    assert forced.returncode == 0, forced.stderr
    assert rows(target.url) == source.rows
    # The upload the backup does not know is moved aside, never deleted.
    extra = set(before_files) - {p.relative_to(source.target.upload_dir).as_posix()
                                 for p in source.target.upload_dir.rglob("*") if p.is_file()}
    assert len(extra) == 1
    aside = [name for name in target.files() if name.startswith(".before-restore-")]
    assert [name.split("/", 1)[1] for name in aside] == sorted(extra)
    assert "moved aside 1 upload files" in forced.stdout
    if target.kind == "sqlite":
        assert "previous database file is kept" in forced.stdout


def test_a_sqlite_database_in_use_is_not_replaced(targets: Targets, source: Source) -> None:
    if targets.kind != "sqlite":
        pytest.skip("SQLite only: PostgreSQL restores in one transaction")
    target = targets.new()
    assert target.cli("restore", str(source.archive)).returncode == 0
    path = Path(target.url.removeprefix("sqlite:///"))
    holder = sqlite3.connect(path)
    try:
        holder.execute("PRAGMA journal_mode=WAL")
        holder.execute("SELECT count(*) FROM cases").fetchone()
        refused = target.cli("restore", str(source.archive), "--force")
    finally:
        holder.close()
    assert refused.returncode == 1 and "in use by another process" in refused.stderr
    assert rows(target.url) == source.rows


def test_postgres_errors_are_one_clear_line(targets: Targets, source: Source, tmp_path: Path) -> None:
    if targets.kind != "postgresql":
        pytest.skip("PostgreSQL only")
    no_tools = source.target.cli("backup", "--out", str(tmp_path / "x"), PATH="/nonexistent")
    assert no_tools.returncode == 1 and "pg_dump not found" in no_tools.stderr
    assert not (tmp_path / "x").exists() or not list((tmp_path / "x").iterdir())
    sqlite_target = Target("sqlite", f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "up")
    wrong_kind = sqlite_target.cli("restore", str(source.archive))
    assert wrong_kind.returncode == 1 and "holds a postgresql database but DATABASE_URL is sqlite" in wrong_kind.stderr
    nowhere = Target("postgresql", source.target.url.rsplit("/", 1)[0] + "/aftersales_no_such_db", tmp_path / "up")
    missing_db = nowhere.cli("restore", str(source.archive))
    assert missing_db.returncode == 1 and "does not exist" in missing_db.stderr and "createdb" in missing_db.stderr


def test_a_backup_taken_while_the_service_writes_is_consistent(targets: Targets) -> None:
    """Uploads and their rows keep arriving during the backup: the restored database must match the
    manifest exactly and every upload it refers to must be in the restored folder."""
    target = targets.new()
    upgrade(target.url)
    stop, written = threading.Event(), []

    def writer() -> None:
        engine = make_engine(target.url)
        factory = make_session_factory(engine)
        n = 0
        while not stop.is_set():
            with factory() as session:
                upload = store(session, target.upload_dir, media.png(size=(8 + n % 60, 8 + n // 60)),
                               client_name=f"{n}.png", buyer_id="b_1001", max_pixels=10**7, now=NOW)
                session.commit()
                written.append(upload.upload_id)
            n += 1
        engine.dispose()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            stop.wait(0.05)
        result = target.cli("backup", "--out", str(targets.tmp / "busy"))
    finally:
        stop.set()
        thread.join()
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    (archive,) = (targets.tmp / "busy").glob("*.tar")
    manifest = manifest_of(archive)
    assert 20 <= manifest["database"]["row_counts"]["uploads"] <= len(written)

    restored = targets.new()
    outcome = restored.cli("restore", str(archive))
    assert outcome.returncode == 0, outcome.stderr  # restore itself compares rows with the manifest
    engine = create_engine(restored.url, poolclass=NullPool)
    with engine.connect() as conn:
        uploads = [Upload(sha256=sha, mime=mime) for sha, mime in conn.execute(select(Upload.sha256, Upload.mime))]
    engine.dispose()
    assert len(uploads) == manifest["database"]["row_counts"]["uploads"]
    for upload in uploads:
        path = read_blob(restored.upload_dir, upload)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == upload.sha256


def test_a_referenced_upload_missing_on_disk_is_reported(targets: Targets, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    target = targets.new()
    upgrade(target.url)
    engine = make_engine(target.url)
    with make_session_factory(engine)() as session:
        upload = store(session, target.upload_dir, media.png("purple"), client_name="a.png", buyer_id="b_1001",
                       max_pixels=10**7, now=NOW)
        session.commit()
    engine.dispose()
    lost = read_blob(target.upload_dir, upload)
    lost.unlink()
    archive = create_backup(target.settings(), tmp_path / "out", progress=Progress())
    assert "referenced by the database but missing" in capsys.readouterr().err
    expected = lost.relative_to(target.upload_dir).as_posix()
    assert manifest_of(archive)["uploads"]["referenced_missing"] == [expected]


def test_keep_rotates_only_this_tools_archives(source: Source, tmp_path: Path) -> None:
    out = tmp_path / "rotating"
    out.mkdir()
    old = [out / "aftersales-backup-20200101T000000Z.tar", out / "aftersales-backup-20200102T000000Z.tar",
           out / "aftersales-backup-20200102T000000Z-2.tar"]
    for path in old:
        path.write_bytes(b"old")
    unrelated = [out / "notes.txt", out / "aftersales-backup-manual.tar", out / ".aftersales-backup-x.tar.partial"]
    for path in unrelated:
        path.write_text("keep me")
    result = source.target.cli("backup", "--out", str(out), "--keep", "2")
    assert result.returncode == 0, result.stderr
    remaining = {p.name for p in out.iterdir()}
    new = remaining - {p.name for p in old} - {p.name for p in unrelated}
    assert len(new) == 1  # the archive just written…
    assert remaining == new | {old[2].name} | {p.name for p in unrelated}  # …the newest old one, and the rest untouched
    assert rotate_backups(out, 5) == []
    bad = source.target.cli("backup", "--out", str(out), "--keep", "0")
    assert bad.returncode == 2 and "whole number" in bad.stderr


def test_a_failing_postgres_restore_changes_nothing(targets: Targets, source: Source) -> None:
    if targets.kind != "postgresql":
        pytest.skip("PostgreSQL only")
    target = targets.new()
    assert target.cli("restore", str(source.archive)).returncode == 0
    engine = create_engine(target.url, poolclass=NullPool)
    with engine.begin() as conn:  # something pg_restore --clean cannot drop, and a change it would undo
        conn.exec_driver_sql("CREATE VIEW open_cases AS SELECT * FROM cases")
        conn.exec_driver_sql("UPDATE orders SET return_address = 'changed after the backup'")
    engine.dispose()
    (target.upload_dir / "ab").mkdir(exist_ok=True)
    (target.upload_dir / "ab" / "later.png").write_bytes(b"later")
    before_rows, before_files = rows(target.url), target.files()

    failed = target.cli("restore", str(source.archive), "--force")
    assert failed.returncode == 1
    assert "pg_restore failed" in failed.stderr and "rolled back and is unchanged" in failed.stderr
    assert rows(target.url) == before_rows and target.files() == before_files
