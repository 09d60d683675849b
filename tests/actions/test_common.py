"""Helpers every action shares: the buyer, attachments, dates and idempotency keys."""

from __future__ import annotations

import re
from typing import Any

import pytest

from actions.common import attachments_of, buyer_of, format_due, idempotency_key


def test_the_buyer_comes_from_the_slot_first(make_tracker: Any) -> None:
    tracker = make_tracker(buyer="b_1001", metadata={"buyer_id": "b_2002"})

    assert buyer_of(tracker) == "b_1001"


def test_the_buyer_comes_from_the_message_metadata_when_the_slot_is_empty(make_tracker: Any) -> None:
    assert buyer_of(make_tracker(buyer=None, metadata={"buyer_id": "b_2002"})) == "b_2002"
    assert buyer_of(make_tracker(buyer=None, metadata={})) is None


def test_only_attachments_with_an_upload_id_count(make_tracker: Any) -> None:
    good = {"upload_id": "up_" + "a" * 32, "material": None}
    tracker = make_tracker(metadata={"attachments": [good, {"material": "defect_photo"}, "up_x", {"upload_id": 7}]})

    assert attachments_of(tracker) == [good]


@pytest.mark.parametrize(("iso", "shown"), [
    ("2026-11-27T23:59:59+08:00", "11月27日 23:59"),
    ("2026-01-05T08:05:00+08:00", "1月5日 08:05"),
    (None, ""),
])
def test_a_due_date_is_shown_the_chinese_way(iso: str | None, shown: str) -> None:
    assert format_due(iso) == shown


def test_the_idempotency_key_depends_on_the_conversation_and_the_request_only(make_tracker: Any) -> None:
    one = idempotency_key(make_tracker(sender_id="web:a"), "2026111812345678", "1", "quality", "exchange")

    assert one == idempotency_key(make_tracker(sender_id="web:a", text="确认"), "2026111812345678", "1", "quality",
                                  "exchange")
    assert one != idempotency_key(make_tracker(sender_id="web:b"), "2026111812345678", "1", "quality", "exchange")
    assert one != idempotency_key(make_tracker(sender_id="web:a"), "2026111812345678", "1", "quality", "repair")
    assert re.fullmatch(r"bot-[0-9a-f]{40}", one)  # the backend takes printable ASCII up to 128
