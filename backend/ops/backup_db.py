"""The database half of a backup: a consistent dump, a restore, and what a database holds.

PostgreSQL is dumped with `pg_dump --format=custom` inside an exported snapshot: the row counts and
the list of referenced upload files are read in that same snapshot, so the manifest describes
exactly what the dump holds even while the service keeps writing. SQLite is copied with the online
backup API (a plain file copy of a WAL database can be torn). Restores never leave a half-written
database: pg_restore runs in a single transaction, and a SQLite file is swapped in with one rename.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, create_engine, func, inspect, make_url, select, table, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from backend.db.models import Upload
from backend.ops.backup_manifest import BackupError
from backend.ops.progress import Progress, human_size
from backend.uploads.storage import read_blob

Kind = Literal["sqlite", "postgresql"]
VERSION_TABLE = "alembic_version"


@dataclass
class DatabaseState:
    """What a database holds: its schema revision, rows per table, and the upload files it refers to."""

    exists: bool
    revision: str | None = None
    row_counts: dict[str, int] = field(default_factory=dict)
    referenced_uploads: set[str] = field(default_factory=set)  # paths relative to UPLOAD_DIR

    def non_empty_tables(self) -> dict[str, int]:
        return {name: n for name, n in self.row_counts.items() if n}


def database_kind(url: str) -> Kind:
    backend = make_url(url).get_backend_name()
    if backend in ("sqlite", "postgresql"):
        return backend  # type: ignore[return-value]
    raise BackupError(f"unsupported database {backend!r}: only SQLite and PostgreSQL are backed up")


def redacted(url: str) -> str:
    """The URL without its password, for manifests and console lines."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"{url} is an in-memory database: there is nothing to back up or restore")
    return Path(database)


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """`postgresql+psycopg://u:p@h/db?sslmode=…` → a libpq URI for pg_dump/pg_restore, the password in
    PGPASSWORD (an argument would show in `ps` to every user of the machine)."""
    parsed = make_url(url)
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    dsn = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return dsn, env


def pg_tool(name: str) -> str:
    """Path of pg_dump/pg_restore: PG_BIN_DIR first (a client matching the server), else PATH."""
    folder = os.environ.get("PG_BIN_DIR")
    found = shutil.which(name, path=folder) if folder else shutil.which(name)
    if not found:
        where = f"in PG_BIN_DIR={folder}" if folder else "on PATH"
        raise BackupError(f"{name} not found {where}: install the PostgreSQL client tools (the server's major "
                          "version or newer, e.g. apt-get install postgresql-client-15) or set PG_BIN_DIR")
    return found


def tool_version(path: str) -> str:
    result = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    return result.stdout.strip() or result.stderr.strip()


# -- reading a database -------------------------------------------------------------------------------


def _state_of(conn: Connection) -> DatabaseState:
    names = sorted(inspect(conn).get_table_names())
    state = DatabaseState(exists=True)
    for name in names:
        if name == VERSION_TABLE:
            state.revision = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
            continue
        state.row_counts[name] = conn.execute(select(func.count()).select_from(table(name))).scalar_one()
    if "uploads" in names:
        for sha256, mime in conn.execute(text("SELECT DISTINCT sha256, mime FROM uploads")):
            try:
                state.referenced_uploads.add(read_blob(Path(), Upload(sha256=sha256, mime=mime)).as_posix())
            except KeyError:  # a type this code cannot name: report it by hash rather than guess a path
                state.referenced_uploads.add(f"{sha256[:2]}/{sha256}.?")
    return state


def read_state(url: str) -> DatabaseState:
    """The current content of the database at `url`, without creating anything (a missing SQLite file
    stays missing)."""
    if database_kind(url) == "sqlite" and not sqlite_path(url).exists():
        return DatabaseState(exists=False)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return _state_of(conn)
    except SQLAlchemyError as exc:
        message = _first_line(exc)
        if "does not exist" in message and database_kind(url) == "postgresql":
            message += " (create it first: createdb -h HOST -U OWNER NAME)"
        raise BackupError(f"cannot read the database {redacted(url)}: {message}") from None
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["?"])[0]


# -- dumping ------------------------------------------------------------------------------------------


def dump_sqlite(url: str, dest: Path, progress: Progress) -> DatabaseState:
    """Copy the live database with the online backup API, in one step (one read transaction: a
    consistent copy that never restarts, however busy the writers), then describe the copy."""
    source_path = sqlite_path(url)
    if not source_path.exists():
        raise BackupError(f"the SQLite database {source_path} does not exist")
    progress.say(f"  database: copying {source_path} ({human_size(source_path.stat().st_size)}) "
                 "with the SQLite online backup API")
    source = sqlite3.connect(source_path, timeout=30)
    copy = sqlite3.connect(dest)
    try:
        source.backup(copy, pages=-1)
        # A self-contained file in the archive: no -wal beside it. The service switches WAL on again.
        copy.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy the SQLite database {source_path}: {exc}") from None
    finally:
        copy.close()
        source.close()
    return read_state(f"sqlite:///{dest}")


def dump_postgres(url: str, dest: Path, progress: Progress) -> tuple[DatabaseState, str, str]:
    """pg_dump in a snapshot exported by a repeatable-read transaction that we read the manifest's
    facts in; returns (state, server version, pg_dump version)."""
    pg_dump = pg_tool("pg_dump")
    version = tool_version(pg_dump)
    dsn, env = libpq(url)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            server = conn.execute(text("SHOW server_version")).scalar_one()
            state = _state_of(conn)
            progress.say(f"  database: pg_dump --format=custom of {redacted(url)} (server {server}, {version})")
            _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={dest}", f"--dbname={dsn}"],
                 env, progress, watch=dest, what="pg_dump")
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot read the database {redacted(url)}: {_first_line(exc)}") from None
    finally:
        engine.dispose()
    return state, server, version


def _run(command: list[str], env: dict[str, str], progress: Progress, *, watch: Path | None, what: str) -> None:
    """Run a PostgreSQL client tool, showing the growing output size; its stderr becomes the error."""
    with tempfile.TemporaryFile(mode="w+") as errors:
        try:
            process = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=errors)
        except OSError as exc:
            raise BackupError(f"cannot run {command[0]}: {exc}") from None
        progress.start()
        started = time.monotonic()
        try:
            while process.poll() is None:
                time.sleep(0.2)
                if watch is not None and watch.exists():
                    progress.tick(f"{what}: {human_size(watch.stat().st_size)} so far")
                elif watch is None:
                    progress.tick(f"{what}: running for {time.monotonic() - started:.0f} s")
        except BaseException:  # interrupted: never leave the tool running on its own
            process.kill()
            process.wait()
            raise
        errors.seek(0)
        message = errors.read().strip()
    if process.returncode != 0:
        raise BackupError(f"{what} failed (exit {process.returncode}): {message or 'no message'}")


# -- restoring ----------------------------------------------------------------------------------------


def restore_postgres(url: str, dump: Path, progress: Progress) -> None:
    """All or nothing: with --single-transaction a failure rolls the target back to what it was."""
    pg_restore = pg_tool("pg_restore")
    dsn, env = libpq(url)
    progress.say(f"  database: pg_restore into {redacted(url)} ({human_size(dump.stat().st_size)} dump, "
                 "one transaction)")
    try:
        _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
              "--exit-on-error", f"--dbname={dsn}", str(dump)], env, progress, watch=None, what="pg_restore")
    except BackupError as exc:
        raise BackupError(f"{exc}\nthe target database was rolled back and is unchanged") from None


def check_sqlite_copy(path: Path) -> None:
    connection = sqlite3.connect(path)
    try:
        result = connection.execute("PRAGMA quick_check").fetchone()
    except sqlite3.Error as exc:
        raise BackupError(f"the database in the archive cannot be opened: {exc}") from None
    finally:
        connection.close()
    if not result or result[0] != "ok":
        raise BackupError(f"the database in the archive fails SQLite's quick_check: {result}")


def release_sqlite(target: Path) -> None:
    """Fold the target's WAL into the file and make sure nobody else has it open.

    Replacing the main file under a live -wal would let SQLite replay the old log into the restored
    file. When the last connection closes, SQLite deletes -wal: if it is still there after ours
    closed, another process (the backend) is using the database.
    """
    connection = sqlite3.connect(target, timeout=5)
    try:
        busy = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open the target database {target}: {exc}") from None
    finally:
        connection.close()
    wal = target.with_name(target.name + "-wal")
    if busy or wal.exists():
        raise BackupError(f"the database {target} is in use by another process ({wal.name} is open): "
                          "stop the backend (and any other user of the file) before restoring")


def replace_sqlite(staged: Path, target: Path, aside: Path | None) -> None:
    """Swap the verified copy in with one rename; the old file is kept (hard link) at `aside`."""
    if target.exists():
        release_sqlite(target)
        if aside is not None:
            try:
                os.link(target, aside)
            except OSError:
                shutil.copy2(target, aside)
        target.with_name(target.name + "-shm").unlink(missing_ok=True)
    os.replace(staged, target)
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
