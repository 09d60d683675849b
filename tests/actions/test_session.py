"""Session start: the verified buyer from the gateway's metadata is remembered."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet

from actions.session import ActionSessionStart


def test_a_new_session_remembers_the_buyer_from_the_session_metadata(run: Any, said: Any, stored_tracker: Any) -> None:
    events = run(ActionSessionStart(), stored_tracker("session_start"))

    assert events == [SessionStarted(), SlotSet("buyer_id", "b_1001"), ActionExecuted("action_listen")]
    assert said() == []


def test_a_numeric_buyer_id_is_kept_as_text(run: Any, stored_tracker: Any) -> None:
    tracker = stored_tracker("session_start")
    tracker.slots["session_started_metadata"] = {"buyer_id": 1001}

    assert run(ActionSessionStart(), tracker)[1] == SlotSet("buyer_id", "1001")


def test_a_new_session_without_a_verified_buyer_sets_no_buyer(run: Any) -> None:
    for metadata in (None, {}, {"channel": "web"}, {"buyer_id": ""}):
        tracker = Tracker("web:anon", {"session_started_metadata": metadata}, {}, [], False, None, {}, None)

        assert run(ActionSessionStart(), tracker) == [SessionStarted(), ActionExecuted("action_listen")], metadata
