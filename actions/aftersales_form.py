"""The after-sales form: which order, which item, what went wrong, what the buyer wants.

Each slot is checked against the backend as it arrives, so the buyer hears about an unknown
order or a remedy the policy does not allow at once, with buttons for what is possible.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import texts
from actions.backend_client import BackendError, BackendUnavailable, call, client
from actions.common import buyer_of, labels, say_backend_down

ORDER_RE = re.compile(r"^[0-9]{16}$")


async def _order(tracker: Tracker) -> dict[str, Any] | None:
    """The order in the order_id slot, None when unknown; BackendUnavailable propagates."""
    order_id = tracker.get_slot("order_id")
    if not order_id:
        return None
    try:
        return await call(client().order, str(order_id), buyer_of(tracker))
    except BackendError:
        return None


def eligibility_request(tracker: Tracker, remedy: str | None) -> dict[str, Any]:
    request = {"order_id": tracker.get_slot("order_id"), "item_id": tracker.get_slot("item_id"),
               "buyer_id": buyer_of(tracker) or "", "reason": tracker.get_slot("reason")}
    if remedy:
        request["remedy"] = remedy
    return request


class AskOrderId(Action):
    def name(self) -> str:
        return "action_ask_order_id"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        buyer = buyer_of(tracker)
        if buyer:
            try:
                orders = [o for o in await call(client().buyer_orders, buyer, 8) if o["status"] != "cancelled"][:5]
            except (BackendError, BackendUnavailable):
                orders = []
            if orders:
                buttons = [{"title": f"{o['items'][0]['title']}（{o['order_id'][-6:]}）",
                            "payload": f'/inform{{"order_id": "{o["order_id"]}"}}'} for o in orders]
                dispatcher.utter_message(text=texts.ASK_ORDER_WITH_BUTTONS, buttons=buttons)
                return []
        dispatcher.utter_message(text=texts.ASK_ORDER_ID)
        return []


class AskItemId(Action):
    def name(self) -> str:
        return "action_ask_item_id"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            order = await _order(tracker)
        except BackendUnavailable:
            say_backend_down(dispatcher)
            return []
        buttons = [{"title": i["title"], "payload": f'/inform{{"item_id": "{i["item_id"]}"}}'}
                   for i in (order or {}).get("items", [])]
        dispatcher.utter_message(text=texts.ASK_ITEM, buttons=buttons)
        return []


class AskReason(Action):
    def name(self) -> str:
        return "action_ask_reason"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            reasons = (await labels())["reasons"]
        except (BackendError, BackendUnavailable):
            dispatcher.utter_message(text=texts.ASK_REASON)
            return []
        buttons = [{"title": label, "payload": f'/inform{{"reason": "{code}"}}'} for code, label in reasons.items()]
        dispatcher.utter_message(text=texts.ASK_REASON, buttons=buttons)
        return []


class AskRemedy(Action):
    """Offers exactly the remedies the policy allows for this request, as buttons."""

    def name(self) -> str:
        return "action_ask_remedy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            decision = await call(client().eligibility, eligibility_request(tracker, None), buyer_of(tracker))
            remedies = (await labels())["remedies"]
        except BackendUnavailable:
            say_backend_down(dispatcher)
            return []
        except BackendError as exc:
            dispatcher.utter_message(text=exc.message)
            return []
        if not decision.get("allowed_remedies"):
            # Nothing is allowed: end the form; action_confirm_case explains why, in one place.
            return [SlotSet("requested_slot", None), ActiveLoop(None)]
        buttons = [{"title": remedies[r], "payload": f'/inform{{"remedy": "{r}"}}'}
                   for r in decision["allowed_remedies"]]
        dispatcher.utter_message(text=texts.ASK_REMEDY, buttons=buttons)
        return []


class ValidateAftersalesForm(FormValidationAction):
    def name(self) -> str:
        return "validate_aftersales_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> list[str]:
        return domain_slots

    async def validate_order_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        order_id = str(value or "").strip()
        if not buyer_of(tracker):
            # Case actions need a verified buyer: without one, every call would run with the
            # service's own authority. The gateway verifies buyers (signed token, linked account).
            dispatcher.utter_message(text=texts.VERIFY_FIRST)
            return {"order_id": None, "requested_slot": None}
        if not ORDER_RE.match(order_id):
            dispatcher.utter_message(text=texts.ORDER_FORMAT)
            return {"order_id": None}
        try:
            order = await call(client().order, order_id, buyer_of(tracker))
        except BackendUnavailable:
            say_backend_down(dispatcher)
            return {"order_id": None}
        except BackendError:
            dispatcher.utter_message(text=texts.ORDER_NOT_FOUND)
            return {"order_id": None}
        if order["status"] == "cancelled":
            dispatcher.utter_message(text=texts.ORDER_CANCELLED)
            return {"order_id": None}
        slots: dict[str, Any] = {"order_id": order_id}
        items = order["items"]
        chosen = tracker.get_slot("item_id")
        if len(items) == 1:
            slots["item_id"] = items[0]["item_id"]
        elif chosen not in {i["item_id"] for i in items}:
            product = tracker.get_slot("product")
            matches = [i for i in items if product and (product in i["title"] or i["title"] in product)]
            slots["item_id"] = matches[0]["item_id"] if len(matches) == 1 else None
        return slots

    async def validate_item_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> dict[str, Any]:
        try:
            order = await _order(tracker)
        except BackendUnavailable:
            say_backend_down(dispatcher)
            return {"item_id": None}
        if order is None:
            return {"item_id": None}
        if str(value) not in {i["item_id"] for i in order["items"]}:
            dispatcher.utter_message(text=texts.ITEM_NOT_FOUND)
            return {"item_id": None}
        return {"item_id": str(value)}

    async def validate_reason(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        try:
            reasons = (await labels())["reasons"]
        except (BackendError, BackendUnavailable):
            say_backend_down(dispatcher)
            return {"reason": None}
        return {"reason": value if value in reasons else None}

    async def validate_remedy(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        if not all(tracker.get_slot(s) for s in ("order_id", "item_id", "reason")):
            return {"remedy": value}  # checked once the rest is known (the form asks in order)
        try:
            decision = await call(client().eligibility, eligibility_request(tracker, str(value)), buyer_of(tracker))
            remedies = (await labels())["remedies"]
        except BackendUnavailable:
            say_backend_down(dispatcher)
            return {"remedy": None}
        except BackendError as exc:
            dispatcher.utter_message(text=exc.message)
            return {"remedy": None}
        if decision["decision"] == "ineligible":
            basis = "；".join(r["basis"] for r in decision.get("rules", []))
            dispatcher.utter_message(text=texts.REMEDY_NOT_ALLOWED.format(remedy=remedies.get(value, value), basis=basis))
            if not decision.get("allowed_remedies"):
                dispatcher.utter_message(text=texts.INELIGIBLE_OFFER_HUMAN)
                return {"remedy": None, "requested_slot": None}
            return {"remedy": None}
        return {"remedy": str(value)}

