"""Production mode on one machine: the case backend on PostgreSQL with several workers, several Rasa
instances sharing a SQL tracker store on PostgreSQL and a Redis lock store, the action server with
several workers, and the gateway spreading conversations across the Rasa instances.

    .venv/bin/python scripts/prod.py [--backend-workers 2] [--rasa-instances 2] [--action-workers 2]
                                     [--port 8000] [--demo-orders]

Everything secret or site-specific comes from the environment, and the command refuses to start
while any of it is missing or still a development default (see `problems`):

    DATABASE_URL          postgresql+psycopg://user[:password]@host:port/db   (the case backend)
    RASA_TRACKER_DB_URL   postgresql://user[:password]@host:port/db           (Rasa's tracker store)
    REDIS_URL             redis://[:password@]host:port/db                    (gateway + Rasa lock store)
    CASE_API_TOKEN        >= 24 characters   (actions → backend)
    WIDGET_TOKEN_SECRET   >= 32 characters   (the shop signs buyers' widget tokens with it)
    RASA_TOKEN            >= 24 characters   (Rasa's HTTP API, used by the gateway)

Both databases are created when missing and the backend's schema is migrated before anything starts.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import MODEL, RASA, ROOT, Stack  # noqa: E402

DEV_VALUES = {"dev-service-token", "dev-widget-secret-not-for-production", "dev-rasa-token"}
MIN_LENGTHS = {"CASE_API_TOKEN": 24, "WIDGET_TOKEN_SECRET": 32, "RASA_TOKEN": 24}


def problems(env: dict[str, str]) -> list[str]:
    """What keeps production mode from starting, in words an operator can act on (empty: all set)."""
    found = []
    if not env.get("DATABASE_URL", "").startswith("postgresql"):
        found.append("DATABASE_URL must name the PostgreSQL database of the case backend "
                     "(postgresql+psycopg://user@host:5432/aftersales)")
    if urlsplit(env.get("RASA_TRACKER_DB_URL", "")).scheme not in ("postgresql", "postgres"):
        found.append("RASA_TRACKER_DB_URL must name the PostgreSQL database of Rasa's tracker store "
                     "(postgresql://user@host:5432/aftersales_rasa)")
    if urlsplit(env.get("REDIS_URL", "")).scheme != "redis":
        found.append("REDIS_URL must name the Redis shared by the backend workers and the Rasa lock store "
                     "(redis://127.0.0.1:6379/0)")
    for name, length in MIN_LENGTHS.items():
        value = env.get(name, "")
        if not value:
            found.append(f"{name} must be set (a random secret of at least {length} characters)")
        elif value in DEV_VALUES:
            found.append(f"{name} is the development default: set a secret of your own")
        elif len(value) < length:
            found.append(f"{name} is too short: at least {length} characters")
    return found


@dataclass
class Postgres:
    """The parts of a PostgreSQL URL that Rasa's SQL tracker store takes as separate settings."""

    host: str
    port: int
    db: str
    user: str
    password: str | None

    @classmethod
    def parse(cls, url: str) -> Postgres:
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 5432, parts.path.lstrip("/") or "postgres",
                   unquote(parts.username or "postgres"), unquote(parts.password) if parts.password else None)


def ensure_database(url: str) -> None:
    """Create the database if it is missing (PostgreSQL cannot do it in the URL's own connection)."""
    import psycopg
    from psycopg import sql

    pg = Postgres.parse(url.replace("+psycopg", ""))
    with psycopg.connect(host=pg.host, port=pg.port, user=pg.user, password=pg.password, dbname="postgres",
                         autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (pg.db,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(pg.db)))


def rasa_endpoints(actions_port: int, tracker_url: str, redis_url: str, prefix: str) -> str:
    """endpoints.yml of every Rasa instance. Passwords stay in the environment (Rasa expands ${...})."""
    pg = Postgres.parse(tracker_url)
    redis = urlsplit(redis_url)
    lines = [
        "action_endpoint:",
        f'  url: "http://127.0.0.1:{actions_port}/webhook"',
        "tracker_store:",
        "  type: SQL",
        '  dialect: "postgresql"',
        f'  url: "{pg.host}"',
        f"  port: {pg.port}",
        f'  db: "{pg.db}"',
        f'  username: "{pg.user}"',
    ]
    if pg.password:
        lines.append('  password: "${RASA_TRACKER_DB_PASSWORD}"')
    lines += [
        "lock_store:",
        '  type: "redis"',
        f'  url: "{redis.hostname or "127.0.0.1"}"',
        f"  port: {redis.port or 6379}",
        f"  db: {int(redis.path.lstrip('/') or 0)}",
        # Rasa takes an alphanumeric prefix only; the gateway's keys use REDIS_PREFIX with a colon.
        f'  key_prefix: "{re.sub(r"[^A-Za-z0-9]", "", prefix) or "aftersales"}rasa"',
    ]
    if redis.password:
        lines.append('  password: "${REDIS_PASSWORD}"')
    return "\n".join(lines) + "\n"


@dataclass
class ProdStack(Stack):
    backend_workers: int = 2
    action_workers: int = 2
    rasa_ports: list[int] = field(default_factory=lambda: [5005, 5006])
    run_dir: Path = ROOT / "var" / "prod"

    @property
    def rasa_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.rasa_ports]

    def start(self, timeout: float = 600) -> None:
        if not MODEL.exists():
            raise SystemExit("no trained model: run scripts/train.sh (or make train) first")
        env = {**os.environ, **self.env, "PYTHONPATH": str(ROOT), "APP_ENV": "production"}
        missing = problems(env)
        if missing:
            raise SystemExit("production mode refuses to start:\n  - " + "\n  - ".join(missing))
        self.rasa_token = env["RASA_TOKEN"]
        ensure_database(env["DATABASE_URL"])
        ensure_database(env["RASA_TRACKER_DB_URL"])
        self._run_cli(env, "migrate")
        if env.get("LOAD_DEMO_ORDERS") == "1":
            self._run_cli(env, "seed-demo")

        self.run_dir.mkdir(parents=True, exist_ok=True)
        metrics = self.run_dir / "metrics"  # prometheus_client's multiprocess files: stale ones would count twice
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir()
        self._spawn_backend({**env, "RASA_URL": ",".join(self.rasa_urls), "PROMETHEUS_MULTIPROC_DIR": str(metrics)})

        self._spawn("actions", [str(ROOT / ".venv/bin/python"), "-m", "rasa_sdk", "--actions", "actions",
                                "--port", str(self.actions_port)],
                    {**env, "CASE_BACKEND_URL": self.backend_url, "SANIC_HOST": "127.0.0.1",
                     "ACTION_SERVER_SANIC_WORKERS": str(self.action_workers)})

        endpoints = self.run_dir / "endpoints.yml"
        endpoints.write_text(rasa_endpoints(self.actions_port, env["RASA_TRACKER_DB_URL"], env["REDIS_URL"],
                                            env.get("REDIS_PREFIX", "aftersales")))
        tracker, redis = Postgres.parse(env["RASA_TRACKER_DB_URL"]), urlsplit(env["REDIS_URL"])
        rasa_env = {**env, "TF_CPP_MIN_LOG_LEVEL": "3", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
                    "RASA_TRACKER_DB_PASSWORD": tracker.password or "", "REDIS_PASSWORD": unquote(redis.password or "")}
        for i, port in enumerate(self.rasa_ports):
            self._spawn(f"rasa-{i + 1}", [*RASA, "run", "--enable-api", "--model",
                                          str(MODEL), "--endpoints", str(endpoints), "--interface", "127.0.0.1",
                                          "--port", str(port), "--auth-token", self.rasa_token, "--quiet"], rasa_env)
        self._wait_for([f"{self.backend_url}/readyz", f"http://127.0.0.1:{self.actions_port}/health"]
                       + [f"{url}/status?token={self.rasa_token}" for url in self.rasa_urls], timeout)

    def _spawn_backend(self, env: dict[str, str]) -> None:
        self._backend_env = env
        self._spawn("backend", [str(ROOT / ".venv/bin/python"), "-m", "uvicorn", "backend.asgi:app", "--host",
                                "127.0.0.1", "--port", str(self.backend_port), "--workers", str(self.backend_workers),
                                "--no-access-log"], env)
        self.processes.insert(0, self.processes.pop())

    def _run_cli(self, env: dict[str, str], command: str) -> None:
        import subprocess

        done = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "backend.cli", command], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"backend.cli {command} failed:\n{done.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="the case backend and gateway (default 8000)")
    parser.add_argument("--backend-workers", type=int, default=2)
    parser.add_argument("--rasa-instances", type=int, default=2)
    parser.add_argument("--action-workers", type=int, default=2)
    parser.add_argument("--demo-orders", action="store_true", help="load the demo orders (to try it out)")
    args = parser.parse_args()
    stack = ProdStack(backend_port=args.port, backend_workers=args.backend_workers,
                      action_workers=args.action_workers, rasa_ports=[5005 + i for i in range(args.rasa_instances)],
                      env={"LOAD_DEMO_ORDERS": "1"} if args.demo_orders else {}, log_dir=ROOT / "var" / "prod" / "logs")
    print("starting production mode (the Rasa instances load their model: a minute or two)…", flush=True)
    stack.start()
    print(f"Case backend + gateway: {stack.backend_url}   ({args.backend_workers} workers; /metrics, /readyz)")
    print(f"Agent console:          {stack.backend_url}/console/")
    for url in stack.rasa_urls:
        print(f"Rasa instance:          {url}   (status: {url}/status)")
    print(f"Action server:          http://127.0.0.1:{stack.actions_port}/health   ({args.action_workers} workers)")
    print(f"Logs:                   {stack.log_dir}")
    print("Press Ctrl+C to stop.", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
