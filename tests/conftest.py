"""Shared fixtures: the real app over a real database, on SQLite and on PostgreSQL.

The schema is built by Alembic (as in production), once per database per test session; each test
starts from empty tables and a frozen clock it may move. Defined here, once, so every test folder
uses the same two apps.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.db.migrate import upgrade
from backend.db.models import Base
from backend.main import create_app
from backend.settings import Settings
from tests.support.api import NOW, TOKEN, Api, Clock
from tests.support.databases import drop_postgres, fresh_postgres_url
from tests.support.stack import MODEL, ROOT, Stack, free_port
from tests.support.stack import TOKEN as STACK_TOKEN


def _database_url(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'cases.db'}"
    return fresh_postgres_url("api")


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app_client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Clock, Settings, str]]:
    tmp = tmp_path_factory.mktemp(request.param)
    url = _database_url(request.param, tmp)
    upgrade(url)
    settings = Settings(DATABASE_URL=url, UPLOAD_DIR=tmp / "uploads", CASE_API_TOKEN=TOKEN, SCHEDULER_ENABLED=False,
                        APP_ENV="test", MAX_UPLOAD_BYTES=2 * 1024 * 1024, PUSH_ENABLED=False,
                        RASA_URL="http://127.0.0.1:9")
    clock = Clock()
    app = create_app(settings, clock=clock)
    with TestClient(app) as client:
        yield client, clock, settings, url
    if request.param == "postgresql":
        drop_postgres(url)


@pytest.fixture
def api(app_client: tuple[TestClient, Clock, Settings, str]) -> Iterator[Api]:
    client, clock, settings, url = app_client
    clock.now = NOW
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    yield Api(client, clock, settings)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The real assistant (backend with the gateway, action server, Rasa) on free ports, once per test
    session, for the end-to-end and browser tests."""
    if not MODEL.exists():
        pytest.fail("no trained model: the test command trains it first (scripts/train.sh)")
    tmp = tmp_path_factory.mktemp("stack")
    env = {"DATABASE_URL": f"sqlite:///{tmp / 'cases.db'}", "UPLOAD_DIR": str(tmp / "uploads"),
           "CASE_API_TOKEN": STACK_TOKEN, "SCHEDULER_ENABLED": "false", "APP_ENV": "test"}
    python = str(ROOT / ".venv/bin/python")
    for command in ("migrate", "seed-demo"):
        subprocess.run([python, "-m", "backend.cli", command], cwd=ROOT, env={**env, "PATH": "/usr/bin:/bin"},
                       check=True, capture_output=True)
    for attempt in range(3):  # a free port can be taken by another process before our server binds it
        running = Stack(backend_port=free_port(), actions_port=free_port(), rasa_port=free_port(), env=env,
                        log_dir=tmp / f"logs-{attempt}")
        try:
            running.start()
            break
        except RuntimeError:
            if attempt == 2:
                raise
    yield running
    running.stop()
