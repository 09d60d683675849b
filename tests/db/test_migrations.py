"""Alembic is the only way the schema is made: it must build it from empty, match the models
exactly, and tear it down again, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from backend.db.migrate import downgrade, upgrade
from backend.db.models import Base
from tests.support.databases import drop_postgres, fresh_postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url = fresh_postgres_url("migrations")
    yield url
    drop_postgres(url)


def _differences(url: str) -> list[object]:
    engine = create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    return diff


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    return names


def test_upgrade_builds_the_whole_schema_from_an_empty_database(empty_database: str) -> None:
    upgrade(empty_database)
    assert _tables(empty_database) == set(Base.metadata.tables) | {"alembic_version"}
    assert _differences(empty_database) == []


def test_downgrade_removes_everything_and_upgrade_rebuilds_it(empty_database: str) -> None:
    upgrade(empty_database)
    downgrade(empty_database, "base")
    assert _tables(empty_database) <= {"alembic_version"}
    upgrade(empty_database)
    assert _differences(empty_database) == []


def test_constraint_names_follow_the_naming_convention(empty_database: str) -> None:
    upgrade(empty_database)
    engine = create_engine(empty_database)
    inspector = inspect(engine)
    uniques = {u["name"] for u in inspector.get_unique_constraints("cases")}
    foreign = {f["name"] for f in inspector.get_foreign_keys("case_events")}
    engine.dispose()
    assert "uq_cases_open_key" in uniques
    assert "fk_case_events_case_id_cases" in foreign
