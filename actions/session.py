"""Session start: remember the verified buyer the gateway put in the metadata."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        metadata: dict[str, Any] = tracker.get_slot("session_started_metadata") or {}
        events: list[EventType] = [SessionStarted()]
        if metadata.get("buyer_id"):
            events.append(SlotSet("buyer_id", str(metadata["buyer_id"])))
        events.append(ActionExecuted("action_listen"))
        return events
