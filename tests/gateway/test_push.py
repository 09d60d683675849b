"""Case updates pushed into the buyer's conversation: a system message with the progress card, for
changes the buyer did not make, taken from the status outbox exactly once even with several workers."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from backend.cases import lifecycle, scheduler
from backend.cases.lifecycle import Action
from backend.db.models import Case, CaseEvent, Conversation, StatusOutbox
from backend.gateway import push
from backend.main import create_app
from backend.vocab import CaseStatus, Party
from tests.gateway.conftest import BUYER, CONVERSATION, Gateway, gateway_settings
from tests.support import media
from tests.support.api import Clock

REVIEW = {"reason": "other", "remedy": "return_refund",
          "materials": [{"code": "description", "text": "鞋子左右两只颜色不一样"}]}
AUTO_APPROVED = {"reason": "no_reason", "remedy": "return_refund", "materials": [{"code": "intact_confirmation"}]}

Delivered = tuple[list[tuple[str, Any]], int]


def _deliver(gw: Gateway) -> Delivered:
    with gw.db() as session:
        return push.deliver_pending(session, gw.app.state.policy, gw.clock.now, gw.settings.return_address)


def _outbox(gw: Gateway) -> list[int]:
    """The event ids of the changes not pushed yet."""
    with gw.db() as session:
        return list(session.scalars(select(StatusOutbox.event_id).order_by(StatusOutbox.event_id)))


def _file_for_review(gw: Gateway, order_id: str = "2026111812345678") -> str:
    gw.api.order(order_id)
    filed = gw.api.file(order_id=order_id, **REVIEW)
    assert filed.status_code == 201 and filed.json()["status"] == "pending_review", filed.text
    return filed.json()["case_id"]


def _pushed(gw: Gateway, conversation_id: str = CONVERSATION) -> list[dict[str, Any]]:
    return [m for m in gw.transcript(conversation_id) if (m["custom"] or {}).get("type") == "progress_card"]


def _cases(delivered: list[tuple[str, Any]]) -> list[str]:
    return [row.custom["progress"]["case_id"] for _, row in delivered]


def test_a_merchants_decision_is_pushed_once_into_a_conversation_made_for_a_buyer_who_never_chatted(
        gw: Gateway) -> None:
    case_id = _file_for_review(gw)
    assert _outbox(gw) == []  # filing is no change of status: the bot told the buyer
    assert _deliver(gw) == ([], 0)
    approved = gw.api.act(case_id, "approve")
    assert approved.status_code == 200, approved.text
    status = approved.json()["status"]
    assert status == "awaiting_return"  # approved, then moved on by the system in the same moment
    assert len(_outbox(gw)) == 2

    delivered, taken = _deliver(gw)
    assert taken == 2 and [conversation for conversation, _ in delivered] == [CONVERSATION]  # one card, newest state
    assert _outbox(gw) == []
    with gw.db() as session:
        conversation = session.get(Conversation, CONVERSATION)
        assert conversation is not None and conversation.buyer_id == BUYER
    [message] = gw.transcript()
    assert (message["seq"], message["author"]) == (1, "system")
    assert message["text"].startswith(f"您的售后单 {case_id} 有新进度：待寄回商品。")
    card = message["custom"]["progress"]
    assert (card["case_id"], card["status"]) == (case_id, status)
    assert card["timeline"] and card["next_step"]["text"] in message["text"]
    progress = gw.client.get(f"/api/v1/cases/{case_id}/progress", headers=gw.api.buyer()).json()
    assert card == progress  # the same body as GET /cases/{id}/progress

    assert _deliver(gw) == ([], 0)  # nothing twice
    assert len(gw.transcript()) == 1


def test_changes_made_before_the_push_ever_ran_are_delivered_once_in_their_newest_state(gw: Gateway) -> None:
    """No cursor that starts at "now": the outbox holds what changed while no push ran."""
    moved_twice = _file_for_review(gw)
    rejected = _file_for_review(gw, "2026111800000002")
    assert gw.api.act(moved_twice, "approve").status_code == 200
    assert gw.api.act(moved_twice, "receive").status_code == 200
    assert gw.api.act(rejected, "reject", reason="图片不清晰").status_code == 200
    assert len(_outbox(gw)) == 4  # approve, proceed, receive; reject

    delivered, taken = _deliver(gw)
    assert taken == 4
    assert sorted(_cases(delivered)) == sorted([moved_twice, rejected])
    assert {row.custom["progress"]["case_id"]: row.custom["progress"]["status"] for _, row in delivered} == {
        moved_twice: "received", rejected: "rejected"}
    assert _deliver(gw) == ([], 0)
    assert [m["seq"] for m in _pushed(gw)] == [1, 2]


def test_the_push_goes_to_the_conversation_the_buyer_last_used(gw: Gateway) -> None:
    case_id = _file_for_review(gw)
    with gw.buyer() as sock:
        sock.say("我的售后怎么样了")
        sock.message_from("bot")
    gw.api.act(case_id, "reject", reason="图片不清晰")
    _deliver(gw)
    [card] = _pushed(gw)
    assert card["seq"] == 3 and card["custom"]["progress"]["status"] == "rejected"


def test_changes_the_buyer_made_are_not_pushed(gw: Gateway) -> None:
    case_id = _file_for_review(gw)
    cancelled = gw.api.act(case_id, "cancel", headers=gw.api.buyer())
    assert cancelled.status_code == 200, cancelled.text
    delivered, taken = _deliver(gw)
    assert delivered == [] and taken == 1  # taken from the outbox and passed over
    assert _outbox(gw) == [] and _deliver(gw) == ([], 0)
    with gw.db() as session:
        assert session.get(Conversation, CONVERSATION) is None


def test_notes_and_other_events_without_a_status_change_are_not_pushed(gw: Gateway) -> None:
    case_id = _file_for_review(gw)
    assert gw.api.act(case_id, "note", reason="已联系买家").status_code == 200
    assert _outbox(gw) == []  # no outbox row at all
    assert _deliver(gw) == ([], 0)


def test_filing_an_automatically_approved_case_is_not_pushed_back_to_the_buyer(gw: Gateway) -> None:
    gw.api.order()
    filed = gw.api.file(**AUTO_APPROVED)
    assert filed.json()["status"] == "awaiting_return"
    # The system's PROCEED in the same moment as the buyer's filing is the buyer's own change.
    assert _deliver(gw) == ([], 1)
    assert _deliver(gw) == ([], 0)


def test_a_change_the_system_makes_of_its_own_accord_is_pushed(gw: Gateway) -> None:
    gw.api.order()
    case_id = gw.api.file(**AUTO_APPROVED).json()["case_id"]
    _deliver(gw)
    gw.clock.advance(days=60)  # the buyer never sent the item back
    report = scheduler.sweep(gw.app.state.session_factory, gw.app.state.policy, gw.clock.now)
    assert report.closed == [case_id]
    delivered, taken = _deliver(gw)
    assert taken == 1 and _cases(delivered) == [case_id]
    assert delivered[0][1].custom["progress"]["status"] == "closed_timeout"


def test_a_change_by_the_system_right_after_a_merchants_is_pushed(gw: Gateway) -> None:
    """Same moment, but not after the buyer: the merchant's approval, moved on by the system."""
    case_id = _file_for_review(gw)
    gw.api.act(case_id, "approve")
    with gw.db() as session:
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)).all()
        assert [(e.actor_role, e.action, e.at == events[-1].at) for e in events[1:]] == [
            ("merchant", "approve", True), ("system", "proceed", True)]
    assert _cases(_deliver(gw)[0]) == [case_id]


def test_the_buyer_supplying_the_missing_materials_is_not_pushed_back_to_them(gw: Gateway) -> None:
    gw.api.order()
    filed = gw.api.file(materials=[{"code": "description", "text": "鞋底开胶了，走路进水"}])
    assert filed.json()["status"] == "awaiting_materials", filed.text
    case_id = filed.json()["case_id"]
    gw.clock.advance(hours=2)  # the buyer comes back with the photos later
    photo, video = gw.api.upload(), gw.api.upload(media.mp4(), name="clip.mp4")
    supplied = gw.api.materials(case_id, [{"code": "defect_photo", "upload_id": photo},
                                          {"code": "defect_video", "upload_id": video}])
    assert supplied.status_code == 200 and supplied.json()["status"] == "awaiting_return", supplied.text
    delivered, taken = _deliver(gw)
    assert taken == 2
    assert delivered == []  # the bot answered the upload itself


def _many_rejected_cases(gw: Gateway, buyers: list[str]) -> list[str]:
    """One case per buyer in `buyers` (in event id order), each filed by the buyer and rejected by the
    merchant: one change worth telling each. Written straight to the database: the API would take a
    request per step."""
    model = _file_for_review(gw)
    assert gw.api.act(model, "reject", reason="图片不清晰").status_code == 200
    _deliver(gw)
    count = len(buyers)
    orders = [f"20261118{9000 + n // 100:08d}" for n in range(count)]  # an order has at most 200 items
    for order_id in sorted(set(orders)):
        gw.api.order(order_id, items=[
            {"item_id": str(n), "sku": f"SKU-{n}", "title": f"商品{n}", "category": "shoes", "quantity": 1,
             "unit_price": "99.00", "flags": [], "warranty_days": 0} for n in range(count) if orders[n] == order_id])
    now = gw.clock.now
    with gw.db() as session:
        base = session.get(Case, model)
        assert base is not None
        ids = []
        for n, buyer in enumerate(buyers):
            case = Case(case_id=f"ASX{n:06d}", order_id=orders[n], item_id=str(n), buyer_id=buyer,
                        reason=base.reason, remedy=base.remedy, quantity=1, status=CaseStatus.PENDING_REVIEW.value,
                        decision=base.decision, policy_version=base.policy_version, item_paid=base.item_paid,
                        filed_at=now, created_at=now, updated_at=now, events=[], materials=[])
            lifecycle.record(case, action=Action.FILE, actor=Party.BUYER, actor_id=buyer, at=now,
                             from_status=None, to_status=CaseStatus.PENDING_REVIEW)
            lifecycle.apply(case, Action.REJECT, actor=Party.MERCHANT, actor_id="service", at=now, reason="图片不清晰")
            session.add(case)
            session.flush()  # event ids in list order
            ids.append(case.case_id)
        session.commit()
    assert len(_outbox(gw)) == count
    return ids


BATCH = 20


@dataclass
class Workers:
    batches: dict[str, list[Delivered]]
    errors: list[BaseException]

    def cases(self, name: str | None = None, batch: int | None = None) -> list[str]:
        names = [name] if name else list(self.batches)
        return [c for n in names for i, (delivered, _) in enumerate(self.batches[n])
                if batch is None or i == batch for c in _cases(delivered)]


def _two_workers_in_step(gw: Gateway, monkeypatch: pytest.MonkeyPatch, steps: int) -> Workers:
    """Two threads, each with its own session, calling deliver_pending until it returns nothing. Before
    each of the first `steps` events of its first batch a worker waits for the other: both hold a batch
    (and whatever that batch has written so far) at the same time."""
    monkeypatch.setattr(push, "BATCH", BATCH)  # several batches each without hundreds of cases
    real = push._worth_telling
    meet = threading.Barrier(2, timeout=20)
    workers: dict[int, int] = {}  # thread -> events seen

    def worth_telling(event: CaseEvent, case: Case) -> bool:
        me = threading.get_ident()
        if me in workers and workers[me] < steps:
            workers[me] += 1
            meet.wait()
        return real(event, case)

    monkeypatch.setattr(push, "_worth_telling", worth_telling)
    result = Workers({"a": [], "b": []}, [])

    def worker(name: str) -> None:
        workers[threading.get_ident()] = 0
        try:
            while True:
                delivered, taken = _deliver(gw)
                result.batches[name].append((delivered, taken))
                if taken == 0:
                    return
        except BaseException as exc:  # noqa: BLE001 - reported by the test, from its own thread
            result.errors.append(exc)
            meet.abort()

    threads = [threading.Thread(target=worker, args=(name,)) for name in result.batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads)
    return result


def test_two_workers_delivering_at_once_deliver_each_change_once(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """More changes than two batches, both workers holding a batch at the same time. On PostgreSQL SKIP
    LOCKED gives them different rows; on SQLite both read the same rows, and the one whose delete comes
    up short rolls back."""
    # Four buyers per batch, none shared between batches (see the deadlock test below for shared ones).
    changed = _many_rejected_cases(gw, [f"b_{3000 + n // 5}" for n in range(3 * BATCH + 10)])
    workers = _two_workers_in_step(gw, monkeypatch, steps=1)
    assert workers.errors == []
    leftover: list[str] = []
    while (left := _deliver(gw))[1]:  # a worker that lost the race on SQLite stopped early: finish off
        leftover += _cases(left[0])

    assert Counter(workers.cases() + leftover) == Counter(changed)  # every change once, none twice
    assert _outbox(gw) == []
    first_a, first_b = set(workers.cases("a", 0)), set(workers.cases("b", 0))
    if gw.home.url.startswith("postgresql"):  # both delivered a full batch at the same time, different rows
        assert len(first_a) == len(first_b) == BATCH and not first_a & first_b
    else:  # one of them won, the other wrote nothing
        assert sorted([len(first_a), len(first_b)]) == [0, BATCH]
    with gw.db() as session:
        buyers = dict(session.execute(select(Case.case_id, Case.buyer_id).where(Case.case_id.in_(changed))).all())
    for buyer in set(buyers.values()):
        pushed = _pushed(gw, f"web:{buyer}")
        assert [m["seq"] for m in pushed] == list(range(1, 6))  # no gaps: nothing rolled back shows
        assert sorted(m["custom"]["progress"]["case_id"] for m in pushed) == sorted(
            c for c, b in buyers.items() if b == buyer)


def test_two_workers_whose_batches_share_buyers_do_not_deadlock(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL the two batches are disjoint (SKIP LOCKED) and lock conversations in buyer order; on
    SQLite both take the same batch and one rolls back. Either way: no error, each change once."""
    # The first batch alternates buyers x, y; the second y, x.
    buyers = [("b_4001", "b_4002")[(n + n // BATCH) % 2] for n in range(2 * BATCH)]
    changed = _many_rejected_cases(gw, buyers)
    # Both hold their batch before either writes: taken in event order, they would lock x and y crosswise.
    workers = _two_workers_in_step(gw, monkeypatch, steps=1)
    assert workers.errors == []
    assert Counter(workers.cases()) == Counter(changed)


def test_an_event_committed_after_a_later_one_is_still_pushed(gw: Gateway) -> None:
    """Event ids are not commit order: the outbox has no cursor that could skip the slower transaction."""
    slow_case = _file_for_review(gw)
    fast_case = _file_for_review(gw, "2026111800000002")
    postgres = gw.home.url.startswith("postgresql")
    with gw.db() as slow:  # a request that has written its change but not committed yet
        case = slow.scalars(select(Case).where(Case.case_id == slow_case).options(selectinload(Case.events))).one()
        lifecycle.apply(case, Action.REJECT, actor=Party.MERCHANT, actor_id="service", at=gw.clock.now,
                        reason="图片不清晰")
        slow.flush()  # the event has its id now
        slow_id = case.events[-1].id
        if postgres:  # SQLite has one writer at a time: there, nothing else can commit meanwhile
            assert gw.api.act(fast_case, "reject", reason="图片不清晰").status_code == 200  # a later id, committed first
            [fast_id] = _outbox(gw)  # the slow change is not visible yet
            assert fast_id > slow_id
            assert _cases(_deliver(gw)[0]) == [fast_case]
        else:
            assert _deliver(gw) == ([], 0)  # not committed: not seen
        slow.commit()
    delivered, taken = _deliver(gw)
    assert _cases(delivered) == [slow_case] and taken == 1
    assert _deliver(gw) == ([], 0)
    assert sorted(m["custom"]["progress"]["case_id"] for m in _pushed(gw)) == sorted(
        [slow_case, fast_case] if postgres else [slow_case])


def _pushing_app(gw: Gateway) -> TestClient:
    """A second app on the same database with the push loop on."""
    home = gw.home
    settings = gateway_settings(home.url, home.tmp, gw.rasa.url, PUSH_ENABLED=True, PUSH_INTERVAL_SECONDS=0.05)
    return TestClient(create_app(settings, clock=Clock(gw.clock.now)))


def _wait_for_empty_outbox(gw: Gateway) -> None:
    deadline = time.monotonic() + 5
    while _outbox(gw):
        assert time.monotonic() < deadline, "the push loop never emptied the outbox"
        time.sleep(0.02)


def test_the_live_push_loop_delivers_to_an_open_socket(gw: Gateway) -> None:
    case_id = _file_for_review(gw)
    with _pushing_app(gw) as pushing, gw.buyer(client=pushing) as sock:
        gw.api.act(case_id, "approve")
        card = sock.expect("message")["message"]
        assert card["author"] == "system" and card["custom"]["type"] == "progress_card"
        assert card["custom"]["progress"]["case_id"] == case_id
        _wait_for_empty_outbox(gw)
        assert sock.quiet(0.3) == []  # once
    assert len(_pushed(gw)) == 1


def test_the_live_push_loop_delivers_what_changed_while_it_was_off(gw: Gateway) -> None:
    case_id = _file_for_review(gw)
    gw.api.act(case_id, "reject", reason="图片不清晰")
    with _pushing_app(gw):
        _wait_for_empty_outbox(gw)
        time.sleep(0.2)  # a few more rounds of the loop
    [card] = _pushed(gw)
    assert card["custom"]["progress"]["status"] == "rejected"
