"""Handing over to a person, fallbacks and the satisfaction rating."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, EventType, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import texts
from actions.backend_client import BackendError, BackendUnavailable, call, client
from actions.common import ask_rating, buyer_of

HANDOFF_AFTER_FALLBACKS = 2
REASON_BY_INTENT = {"request_human": "requested", "complain": "complaint", "nlu_fallback": "fallback"}


def case_summary(tracker: Tracker, case: dict[str, Any] | None, vocab: dict[str, dict[str, str]]) -> str:
    """What an agent needs first, in Chinese: the case or the request so far, and the last words."""
    lines: list[str] = []
    if case:
        decision = case.get("decision", {})
        lines += [f"售后单：{case['case_id']}（{case['status_label']}）",
                  f"订单：{case['order_id']}  商品：{case['item_title']}",
                  f"问题：{vocab['reasons'].get(case['reason'], case['reason'])}  "
                  f"诉求：{vocab['remedies'].get(case['remedy'], case['remedy'])}",
                  f"决定：{decision.get('decision')}（{'、'.join(r['id'] for r in decision.get('rules', []))}）",
                  f"已交凭证：{'、'.join(m['label'] for m in case.get('materials', [])) or '无'}"]
        missing = "、".join(m["label"] for m in decision.get("missing_materials", []))
        if missing:
            lines.append(f"尚缺凭证：{missing}")
    else:
        for slot, label in (("order_id", "订单"), ("item_id", "商品编号"), ("reason", "问题"), ("remedy", "诉求")):
            value = tracker.get_slot(slot)
            if value:
                shown = vocab.get("reasons" if slot == "reason" else "remedies", {}).get(value, value) \
                    if slot in ("reason", "remedy") else value
                lines.append(f"{label}：{shown}")
    said = [e.get("text") for e in tracker.events
            if e.get("event") == "user" and e.get("text") and not str(e.get("text")).startswith("/")][-5:]
    lines.append("买家最近说：" + " / ".join(t[:100] for t in said if t))
    return "\n".join(lines)[:3900]


class Handoff(Action):
    """Creates the handoff with a summary, tells the buyer, and pauses the bot until handed back."""

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        buyer = buyer_of(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        metadata = tracker.latest_message.get("metadata") or {}
        case_id = tracker.get_slot("case_id")
        try:
            vocab = await call(client().vocabulary)
            case = None
            if case_id and buyer:  # only a verified buyer's own case goes with the handoff
                try:
                    case = await call(client().case, case_id, buyer)
                except BackendError:
                    case = None  # a mistyped or foreign case number must not block reaching a person
            body = {"conversation_id": tracker.sender_id[:128], "channel": str(metadata.get("channel") or "web"),
                    "buyer_id": buyer, "case_id": case_id if case else None,
                    "reason": REASON_BY_INTENT.get(intent or "", "requested"),
                    "summary": case_summary(tracker, case, vocab)}
            await call(client().handoff, body, buyer)
        except (BackendError, BackendUnavailable):
            dispatcher.utter_message(text=texts.HANDOFF_FAILED)
            return []
        dispatcher.utter_message(text=texts.HANDOFF)
        stop_form = [ActiveLoop(None), SlotSet("requested_slot", None)] if tracker.active_loop_name else []
        return [*stop_form, ConversationPaused()]


class CountFallback(Action):
    """A message the NLU did not understand: ask to rephrase; the second in a row: hand over.

    Also Rasa's core fallback (no policy is confident what to do next): then the turn is undone
    (UserUtteranceReverted) so the conversation goes on as if the message had not been sent.
    """

    def name(self) -> str:
        return "action_count_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        intents = [(e.get("parse_data") or {}).get("intent", {}).get("name")
                   for e in tracker.events if e.get("event") == "user"]
        if not intents or intents[-1] != "nlu_fallback":
            dispatcher.utter_message(text=texts.REPHRASE)
            return [UserUtteranceReverted()]
        if len(intents) >= HANDOFF_AFTER_FALLBACKS and intents[-HANDOFF_AFTER_FALLBACKS:] == ["nlu_fallback"] * HANDOFF_AFTER_FALLBACKS:
            return await Handoff().run(dispatcher, tracker, domain)
        dispatcher.utter_message(text=texts.REPHRASE)
        return []


class RecordRating(Action):
    def name(self) -> str:
        return "action_record_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        rating = tracker.get_slot("rating")
        if rating not in {"1", "2", "3", "4", "5"}:
            ask_rating(dispatcher)
            return []
        case_id, buyer = tracker.get_slot("case_id"), buyer_of(tracker)
        if case_id and buyer:  # the completed case the rating was asked for: it is stored with it
            text = (tracker.latest_message.get("text") or "").strip()
            comment = text[:500] if len(text) > 2 and not text.startswith("/") else None
            try:
                await call(client().transition, case_id, "rate", buyer, rating=int(rating), reason=comment)
            except BackendUnavailable:
                dispatcher.utter_message(text=texts.RATING_NOT_SAVED)
                return []
            except BackendError as exc:
                if exc.status == 409:  # rated before
                    dispatcher.utter_message(text=exc.message)
                    return []
                # Not a completed case of theirs: the rating is about the chat, thanked but not stored.
        dispatcher.utter_message(text=texts.RATING_THANKS.format(rating=rating))
        return []
