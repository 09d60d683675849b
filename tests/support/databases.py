"""Throw-away PostgreSQL databases for tests, created beside the admin database.

One database per purpose and process, so parallel runs and the migration tests never drop a
database another test is using.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _admin(statement: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(statement))
    admin.dispose()


def fresh_postgres_url(purpose: str) -> str:
    """Create an empty database beside the admin one (one per purpose and process) and return its URL."""
    name = f"aftersales_{purpose}_{os.getpid()}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres(url: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
