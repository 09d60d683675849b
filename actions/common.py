"""Helpers every action shares: who the buyer is, labels, formatting, turning failures into words."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.backend_client import BackendUnavailable, call, client

CASE_ID_RE = re.compile(r"AS[0-9]{10,14}")


def buyer_of(tracker: Tracker) -> str | None:
    """The verified buyer: set by the gateway in the metadata, kept in the buyer_id slot."""
    buyer = tracker.get_slot("buyer_id")
    if buyer:
        return str(buyer)
    metadata = tracker.latest_message.get("metadata") or {}
    value = metadata.get("buyer_id")
    return str(value) if value else None


def require_buyer(dispatcher: CollectingDispatcher, tracker: Tracker) -> str | None:
    """The verified buyer, or None after telling the visitor to sign in first.

    Without a buyer the backend would see the service itself (merchant authority): an anonymous
    visitor who types someone's case number must never read or change that case.
    """
    buyer = buyer_of(tracker)
    if not buyer:
        dispatcher.utter_message(text=texts.VERIFY_FIRST)
    return buyer


def attachments_of(tracker: Tracker) -> list[dict[str, Any]]:
    metadata = tracker.latest_message.get("metadata") or {}
    items = metadata.get("attachments") or []
    return [a for a in items if isinstance(a, dict) and isinstance(a.get("upload_id"), str)]


async def labels() -> dict[str, dict[str, str]]:
    """Chinese labels of reasons, remedies and materials, from the policy file via the backend."""
    return await call(client().vocabulary)


def format_due(iso: str | None) -> str:
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso)
    return f"{moment.month}月{moment.day}日 {moment:%H:%M}"


def idempotency_key(tracker: Tracker, *parts: str) -> str:
    """Same conversation, same request → same key, so a retried turn never files twice."""
    digest = hashlib.sha256("|".join((tracker.sender_id, *parts)).encode()).hexdigest()[:40]
    return f"bot-{digest}"


def say_backend_down(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(text=texts.BACKEND_DOWN)


def case_id_in(tracker: Tracker) -> str | None:
    """A case id the buyer wrote in this message (entity, or the AS… pattern in the text)."""
    for entity in tracker.latest_message.get("entities", []):
        if entity.get("entity") == "case_id":
            return str(entity["value"])
    found = CASE_ID_RE.search(tracker.latest_message.get("text") or "")
    return found.group(0) if found else None


def ask_rating(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(text=texts.ASK_RATING, buttons=[
        {"title": title, "payload": f'/rate_service{{"rating": "{value}"}}'} for title, value in texts.RATING_BUTTONS])


__all__ = ["BackendUnavailable", "ask_rating", "attachments_of", "buyer_of", "case_id_in", "format_due",
           "idempotency_key", "labels", "require_buyer", "say_backend_down"]
