"""Command line for operators: migrate, load demo data, manage agents, run a deadline sweep, serve.

    python -m backend.cli migrate
    python -m backend.cli seed-demo
    python -m backend.cli seed-history --days 90 [--per-day 40] [--seed 2026] [--until YYYY-MM-DD] [--replace]
    python -m backend.cli create-agent --username li --display-name 李客服 [--supervisor]  (password from stdin or AGENT_PASSWORD)
    python -m backend.cli sweep
    python -m backend.cli backup [--out DIR] [--keep N]  /  restore ARCHIVE [--force]  /  verify-backup ARCHIVE
    python -m backend.cli serve --port 8000 --workers 2
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from backend.settings import DEV_AGENT_PASSWORD, get_settings


def _factory():  # type: ignore[no-untyped-def]
    from backend.db.session import make_engine, make_session_factory

    return make_session_factory(make_engine(get_settings().database_url))


def cmd_migrate(_: argparse.Namespace) -> None:
    from backend.db.migrate import upgrade

    upgrade(get_settings().database_url)
    print("database schema is at head")


def cmd_seed_demo(_: argparse.Namespace) -> None:
    from backend.agents import create_agent
    from backend.demo import demo_orders
    from backend.main import utc_now
    from backend.orders.service import upsert_order

    settings = get_settings()
    now = utc_now()
    factory = _factory()
    with factory() as session:
        orders = demo_orders(now)
        for order in orders:
            upsert_order(session, order.order_id, order, now)
        if settings.app_env != "production":
            create_agent(session, "agent", DEV_AGENT_PASSWORD, display_name="演示主管", role="supervisor", now=now)
            create_agent(session, "kefu", DEV_AGENT_PASSWORD, display_name="客服小李", role="agent", now=now)
        session.commit()
    print(f"loaded {len(orders)} demo orders (buyer b_1001)")
    if settings.app_env != "production":
        print(f"demo agents: agent (supervisor) and kefu, password {DEV_AGENT_PASSWORD}")


def cmd_seed_history(args: argparse.Namespace) -> None:
    from backend.stats.history import cli

    cli(args.days, args.per_day, args.seed, args.until, args.replace)


def cmd_create_agent(args: argparse.Namespace) -> None:
    from backend.agents import create_agent
    from backend.errors import ServiceError
    from backend.main import utc_now

    password = os.environ.get("AGENT_PASSWORD") or sys.stdin.readline().rstrip("\n")
    if password == DEV_AGENT_PASSWORD and get_settings().app_env == "production":
        sys.exit("refusing the documented demo password in production")
    factory = _factory()
    with factory() as session:
        try:
            create_agent(session, args.username, password, display_name=args.display_name or args.username,
                         role="supervisor" if args.supervisor else "agent", now=utc_now())
        except ServiceError as exc:
            sys.exit(exc.message)
        session.commit()
    print(f"agent {args.username} saved")


def cmd_sweep(_: argparse.Namespace) -> None:
    from backend.cases.scheduler import sweep
    from backend.main import utc_now
    from backend.policy.config import load_policy

    report = sweep(_factory(), load_policy(get_settings().policy_file), utc_now())
    print(f"closed={len(report.closed)} reminded={len(report.reminded)} flagged={len(report.flagged)} "
          f"handed_over={len(report.handed_over)} skipped={report.skipped}")


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("a whole number ≥ 1")
    return int(value)


def cmd_backup(args: argparse.Namespace) -> None:
    from backend.ops.backup import BackupError, create_backup, default_backup_dir, rotate_backups

    out = args.out or default_backup_dir()
    try:
        create_backup(get_settings(), out)
        if args.keep:
            rotate_backups(out, args.keep)
    except BackupError as exc:
        sys.exit(f"backup failed: {exc}")
    except KeyboardInterrupt:
        sys.exit("backup interrupted: no archive was written")


def cmd_restore(args: argparse.Namespace) -> None:
    from backend.ops.backup import BackupError, restore_backup

    try:
        restore_backup(get_settings(), args.archive, force=args.force)
    except BackupError as exc:
        sys.exit(f"restore failed: {exc}")
    except KeyboardInterrupt:
        sys.exit("restore interrupted: the output above says how far it got")


def cmd_verify_backup(args: argparse.Namespace) -> None:
    from backend.ops.backup import BackupError, verify_backup

    try:
        verify_backup(args.archive)
    except BackupError as exc:
        sys.exit(f"verification failed: {exc}")


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from backend.observability.logs import logging_config

    settings = get_settings()  # fail before forking workers when the environment is wrong
    uvicorn.run("backend.asgi:app", host=args.host, port=args.port, workers=args.workers,
                log_level=settings.log_level.lower(), log_config=logging_config(settings.log_format, settings.log_level))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="backend.cli", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate").set_defaults(func=cmd_migrate)
    sub.add_parser("seed-demo").set_defaults(func=cmd_seed_demo)
    history = sub.add_parser("seed-history", help="months of demo after-sales history for the statistics page")
    history.add_argument("--days", type=int, default=90)
    history.add_argument("--per-day", type=int, default=40, help="about this many requests a day")
    history.add_argument("--seed", type=int, default=2026)
    history.add_argument("--until", help="last day (YYYY-MM-DD), for a repeatable run; default: now")
    history.add_argument("--replace", action="store_true", help="delete an earlier history run first")
    history.set_defaults(func=cmd_seed_history)
    agent = sub.add_parser("create-agent")
    agent.add_argument("--username", required=True)
    agent.add_argument("--display-name")
    agent.add_argument("--supervisor", action="store_true")
    agent.set_defaults(func=cmd_create_agent)
    sub.add_parser("sweep").set_defaults(func=cmd_sweep)
    backup = sub.add_parser("backup", help="archive the database and the uploads (docs/backups.md)")
    backup.add_argument("--out", type=Path, metavar="DIR", help="folder for the archive (default: BACKUP_DIR or var/backups)")
    backup.add_argument("--keep", type=_positive, metavar="N", help="then delete all but the newest N archives in that folder")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="restore an archive into DATABASE_URL and UPLOAD_DIR")
    restore.add_argument("archive", type=Path)
    restore.add_argument("--force", action="store_true", help="replace a target that already holds data")
    restore.set_defaults(func=cmd_restore)
    verify_backup = sub.add_parser("verify-backup", help="check an archive completely without restoring it")
    verify_backup.add_argument("archive", type=Path)
    verify_backup.set_defaults(func=cmd_verify_backup)
    serve = sub.add_parser("serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
