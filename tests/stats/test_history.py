"""`seed-history`: repeatable demo history through the real service layer, with the abnormal SKU
whose alert the statistics page shows, and never in production."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from backend import settings as settings_module
from backend.db.models import Case, Handoff, Order, StatusOutbox
from backend.stats import history
from tests.stats.conftest import login
from tests.support.api import Api


def fingerprint(session: Session) -> tuple[Any, ...]:
    cases = session.scalars(select(Case).options(selectinload(Case.events)).order_by(Case.case_id)).all()
    return (
        session.scalar(select(func.count()).select_from(Order)),
        [(c.case_id, c.reason, c.remedy, c.status, c.refund_amount, [(e.action, e.at) for e in c.events])
         for c in cases],
        session.execute(select(Handoff.conversation_id, Handoff.reason, Handoff.created_at)
                        .order_by(Handoff.created_at, Handoff.conversation_id)).all(),
    )


def seed(api: Api, *, replace: bool = False) -> history.Report:
    state = api.client.app.state  # type: ignore[attr-defined]
    return history.seed_history(state.session_factory, state.policy, api.settings.upload_dir,
                                days=14, per_day=5, seed=7, now=api.clock.now, replace=replace)


def test_the_same_seed_gives_the_same_history_and_the_earbuds_alert(api: Api) -> None:
    report = seed(api)
    assert report.cases > 40 and report.handoffs > 0 and report.refused == 0
    assert {"completed", "awaiting_return"} <= set(report.statuses)
    factory = api.client.app.state.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        first = fingerprint(session)
        assert session.scalar(select(func.count()).select_from(StatusOutbox)) == 0  # nothing to push to buyers now
        reasons = {c.reason for c in session.scalars(select(Case))}
        assert len(reasons) >= 5

    with pytest.raises(ValueError, match="--replace"):
        seed(api)
    seed(api, replace=True)
    with factory() as session:
        assert fingerprint(session) == first

    stats = api.client.get("/api/v1/stats", headers=login(api, "zhang", "supervisor")).json()
    assert stats["volume"]["total"] == report.cases
    assert stats["refunds"]["count"] > 0 and stats["satisfaction"]["count"] > 0
    assert [a["sku"] for a in stats["alerts"] if a["kind"] == "sku_refund_rate"] == ["EARBUDS-X1"]


def test_history_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_module, "get_settings", lambda: SimpleNamespace(app_env="production"))
    with pytest.raises(SystemExit, match="production"):
        history.cli(days=10, per_day=5, seed=1, until=None, replace=False)
