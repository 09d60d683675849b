"""Confirming and filing a case, materials, progress, return tracking and cancelling."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import texts
from actions.aftersales_form import eligibility_request
from actions.backend_client import BackendError, BackendUnavailable, call, client
from actions.common import (
    ask_rating,
    attachments_of,
    buyer_of,
    case_id_in,
    format_due,
    idempotency_key,
    labels,
    require_buyer,
    say_backend_down,
)

FORM_SLOTS = ("order_id", "item_id", "reason", "remedy", "product")
PHOTO_CODES_IN_ORDER = ("defect_photo", "item_photo", "label_photo", "package_photo", "waybill_photo",
                        "contents_photo")


def _reset_request() -> list[EventType]:
    return [SlotSet(slot, None) for slot in FORM_SLOTS] + [SlotSet("stage", None)]


def _missing_message(decision: dict[str, Any], due: str) -> str:
    lines = [texts.MATERIAL_LINE.format(label=m["label"], count=f"×{m['min_count']}" if m["min_count"] > 1 else "",
                                        hint=m["hint"]) for m in decision.get("missing_materials", [])]
    return texts.NEEDS_MATERIALS.format(items="\n".join(lines), due=due)


def _materials_request(case: dict[str, Any]) -> dict[str, Any]:
    """For channels that can show upload slots (the web widget): what to upload, as data."""
    return {"type": "materials_request", "case_id": case["case_id"],
            "materials": [{key: m.get(key) for key in ("code", "label", "min_count", "have_count", "kind")}
                          for m in case["decision"].get("missing_materials", [])]}


class ConfirmCase(Action):
    """Shows the summary of what will be filed and asks for an explicit yes."""

    def name(self) -> str:
        return "action_confirm_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        remedy = tracker.get_slot("remedy")
        buyer = buyer_of(tracker)
        try:
            decision = await call(client().eligibility, eligibility_request(tracker, remedy), buyer)
            vocab = await labels()
            order = await call(client().order, tracker.get_slot("order_id"), buyer)
        except BackendUnavailable:
            say_backend_down(dispatcher)
            return []
        except BackendError as exc:
            dispatcher.utter_message(text=exc.message)
            return _reset_request()
        if decision["decision"] == "duplicate":
            code = decision.get("existing_case_status") or ""
            status = vocab.get("statuses", {}).get(code, code)
            dispatcher.utter_message(text=texts.DUPLICATE.format(case_id=decision["existing_case_id"], status=status))
            return [*_reset_request(), SlotSet("case_id", decision["existing_case_id"])]
        if decision["decision"] == "ineligible" or not remedy:
            basis = "；".join(r["basis"] for r in decision.get("rules", []))
            dispatcher.utter_message(text=texts.INELIGIBLE.format(basis=basis))
            allowed = decision.get("allowed_remedies") or []
            if allowed:
                # Keep order, item and reason: the buttons offer remedies for exactly this request.
                buttons = [{"title": vocab["remedies"][r], "payload": f'/inform{{"remedy": "{r}"}}'} for r in allowed]
                dispatcher.utter_message(text=texts.ASK_REMEDY, buttons=buttons)
                return [SlotSet("remedy", None), SlotSet("stage", None)]
            dispatcher.utter_message(text=texts.INELIGIBLE_OFFER_HUMAN)
            return _reset_request()
        item = next(i for i in order["items"] if i["item_id"] == tracker.get_slot("item_id"))
        refund = decision.get("refund")
        payer = decision.get("return_shipping_paid_by")
        missing = decision.get("missing_materials") or []
        text = texts.SUMMARY.format(
            order_id=order["order_id"], title=item["title"], reason=vocab["reasons"][tracker.get_slot("reason")],
            remedy=vocab["remedies"][remedy],
            refund=texts.SUMMARY_REFUND.format(amount=refund["amount"]) if refund else "",
            shipping=texts.SUMMARY_SHIPPING.format(payer=texts.PAYER[payer]) if payer else "",
            materials=texts.SUMMARY_MATERIALS.format(labels="、".join(m["label"] for m in missing)) if missing else "",
        )
        dispatcher.utter_message(text=text, buttons=[{"title": "确认提交", "payload": "/affirm"},
                                                     {"title": "先不提交", "payload": "/deny"}])
        return [SlotSet("stage", "confirming")]


class FileCase(Action):
    def name(self) -> str:
        return "action_file_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        buyer = require_buyer(dispatcher, tracker)
        if not buyer:
            return _reset_request()
        request = eligibility_request(tracker, tracker.get_slot("remedy"))
        key = idempotency_key(tracker, *(str(request[k]) for k in ("order_id", "item_id", "reason", "remedy")))
        try:
            case = await call(client().file_case, request, buyer, key)
        except BackendUnavailable:
            # Still confirming: a second yes files with the same Idempotency-Key, never twice.
            say_backend_down(dispatcher)
            return [SlotSet("stage", "confirming")]
        except BackendError as exc:
            dispatcher.utter_message(text=exc.message)
            existing = exc.body.get("case_id")
            return [*_reset_request(), *([SlotSet("case_id", existing)] if existing else [])]
        dispatcher.utter_message(text=texts.FILED.format(case_id=case["case_id"]))
        events: list[EventType] = [*_reset_request(), SlotSet("case_id", case["case_id"])]
        return events + await _report_next_step(dispatcher, case, buyer)


async def _report_next_step(dispatcher: CollectingDispatcher, case: dict[str, Any], buyer: str | None) -> list[EventType]:
    """After filing or new materials: list what is missing, or say what happens next. Never fails:
    the case is already stored, so a failed look-up only shortens the message."""
    deadline = case.get("deadline") or {}
    if case["status"] == "awaiting_materials":
        dispatcher.utter_message(text=_missing_message(case["decision"], format_due(deadline.get("due_at"))),
                                 json_message=_materials_request(case))
        return [SlotSet("stage", "collecting_materials")]
    if case["status"] == "pending_review":
        dispatcher.utter_message(text=texts.REVIEW.format(due=format_due(deadline.get("due_at"))))
        return [SlotSet("stage", None)]
    stage = "awaiting_return" if case["status"] == "awaiting_return" else None
    try:
        progress = await call(client().progress, case["case_id"], buyer)
    except (BackendError, BackendUnavailable):
        return [SlotSet("stage", stage)]
    dispatcher.utter_message(text=texts.NEXT_STEP.format(text=progress["next_step"]["text"]))
    return [SlotSet("stage", stage)]


class CancelRequest(Action):
    """The buyer said no at the summary: nothing is filed."""

    def name(self) -> str:
        return "action_cancel_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=texts.CANCELLED_REQUEST)
        return _reset_request()


class AttachMaterials(Action):
    """Adds the files (and a description typed meanwhile) of this message to the case."""

    def name(self) -> str:
        return "action_attach_materials"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        buyer = require_buyer(dispatcher, tracker)
        case_id = tracker.get_slot("case_id")
        attachments = attachments_of(tracker)
        if not case_id or not buyer:
            return [SlotSet("stage", None)]
        entities = {e.get("entity"): e.get("value") for e in tracker.latest_message.get("entities", [])}
        try:
            case = await call(client().case, case_id, buyer)
            intent = (tracker.latest_message.get("intent") or {}).get("name")
            product = entities.get("product")
            other_order = entities.get("order_id") not in (None, case["order_id"])
            # A part of the same item (鞋底 of a 跑步鞋) is not another product: no character in common is.
            other_product = bool(product) and not set(str(product)) & set(case["item_title"])
            # Asked for a description, a buyer who describes the problem sounds like a new request to
            # the NLU ("鞋底整个开胶了"); without another order, product or remedy it is the description.
            describing = _description_missing(case) and len((tracker.latest_message.get("text") or "").strip()) >= 5
            fresh_request = intent == "request_aftersales" and not entities.get("remedy") and not describing
            if not attachments and (other_order or other_product or fresh_request):
                # Another order, another product, or a fresh request: a new form. The proofs of
                # this case can still come later.
                return [SlotSet("stage", None), *[SlotSet(k, entities[k]) for k in ("order_id", "product", "reason",
                                                                                    "remedy") if entities.get(k)],
                        FollowupAction("aftersales_form")]
            if entities.get("remedy") not in (None, case["remedy"]) and not attachments:
                return await _change_remedy(dispatcher, case_id, str(entities["remedy"]), buyer)
            materials = _assign(case, attachments, tracker.latest_message.get("text") or "")
            if not materials:
                due = format_due((case.get("deadline") or {}).get("due_at"))
                dispatcher.utter_message(text=texts.LATER.format(due=due))
                return [SlotSet("stage", "collecting_materials")]
            updated = await call(client().add_materials, case_id, materials, buyer)
        except BackendUnavailable:
            say_backend_down(dispatcher)
            return [SlotSet("stage", "collecting_materials")]
        except BackendError as exc:
            dispatcher.utter_message(text=exc.message)
            return [SlotSet("stage", "collecting_materials")]
        try:
            names = (await labels())["materials"]
        except (BackendError, BackendUnavailable):
            names = {}
        got = "、".join(dict.fromkeys(names.get(m["code"], m["code"]) for m in materials))
        dispatcher.utter_message(text=texts.MATERIALS_RECEIVED.format(labels=got))
        if updated["status"] == "awaiting_materials":
            still = "、".join(m["label"] for m in updated["decision"].get("missing_materials", []))
            dispatcher.utter_message(text=texts.MATERIALS_STILL_MISSING.format(labels=still),
                                     json_message=_materials_request(updated))
            return [SlotSet("stage", "collecting_materials")]
        dispatcher.utter_message(text=texts.MATERIALS_COMPLETE)
        return await _report_next_step(dispatcher, updated, buyer)


async def _change_remedy(dispatcher: CollectingDispatcher, case_id: str, remedy: str,
                         buyer: str | None) -> list[EventType]:
    """The buyer names another remedy before approval: the backend re-decides the case."""
    try:
        updated = await call(client().transition, case_id, "change_remedy", buyer, remedy=remedy)
        vocab = await labels()
    except BackendUnavailable:
        say_backend_down(dispatcher)
        return [SlotSet("stage", "collecting_materials")]
    except BackendError as exc:
        dispatcher.utter_message(text=exc.message)
        return [SlotSet("stage", "collecting_materials")]
    dispatcher.utter_message(text=texts.REMEDY_CHANGED.format(remedy=vocab["remedies"].get(remedy, remedy)))
    return await _report_next_step(dispatcher, updated, buyer)


def _description_missing(case: dict[str, Any]) -> bool:
    return any(m["code"] == "description" for m in case["decision"].get("missing_materials", []))


def _assign(case: dict[str, Any], attachments: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """Tagged files keep their material; untagged photos fill the outstanding photo slots in checklist
    order (api.md); a typed sentence counts as the description when one is missing."""
    missing = [m for m in case["decision"].get("missing_materials", [])]
    need = {m["code"]: m["min_count"] - m["have_count"] for m in missing}
    materials: list[dict[str, Any]] = []
    for attachment in attachments:
        code = attachment.get("material")
        if not code:
            code = next((c for c in need if c in PHOTO_CODES_IN_ORDER and need[c] > 0), None) \
                or next((c for c in need if c == "defect_video" and need[c] > 0), None) \
                or next((c for c in PHOTO_CODES_IN_ORDER if c in need), "defect_photo")
        need[code] = need.get(code, 1) - 1
        materials.append({"code": code, "upload_id": attachment["upload_id"]})
    later = not attachments and any(word in text for word in texts.LATER_WORDS)
    if "description" in need and len(text.strip()) >= 5 and not text.startswith("/") and not later:
        materials.append({"code": "description", "text": text.strip()[:2000]})
    if "intact_confirmation" in need and text.strip() in ("确认", "确认完好", "商品完好", "完好"):
        materials.append({"code": "intact_confirmation", "seal_intact": True})
    return materials


class CheckProgress(Action):
    def name(self) -> str:
        return "action_check_progress"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        buyer = require_buyer(dispatcher, tracker)
        if not buyer:
            return []
        try:
            case_id = case_id_in(tracker)
            if not case_id:
                open_cases = await call(client().open_cases, buyer)
                if not open_cases:
                    dispatcher.utter_message(text=texts.NO_OPEN_CASE)
                    return []
                if len(open_cases) > 1:
                    buttons = [{"title": f"{c['case_id']} {c['item_title']}（{c['status_label']}）",
                                "payload": f'/check_progress{{"case_id": "{c["case_id"]}"}}'} for c in open_cases]
                    dispatcher.utter_message(text=texts.ASK_WHICH_CASE, buttons=buttons)
                    return []
                case_id = open_cases[0]["case_id"]
            if not case_id:
                dispatcher.utter_message(text=texts.NO_OPEN_CASE)
                return []
            progress = await call(client().progress, case_id, buyer)
        except BackendUnavailable:
            say_backend_down(dispatcher)
            return []
        except BackendError:
            dispatcher.utter_message(text=texts.CASE_NOT_FOUND)
            return []
        deadline = progress.get("deadline")
        penalty = progress.get("overdue_penalty")
        dispatcher.utter_message(text=texts.PROGRESS.format(
            case_id=case_id, status=progress["status_label"], next_step=progress["next_step"]["text"],
            deadline=texts.PROGRESS_DEADLINE.format(due=format_due(deadline["due_at"]),
                                                    estimated="（预计）" if deadline["estimated"] else "")
            if deadline else "",
            penalty=texts.PROGRESS_PENALTY.format(days=penalty["days_late"], amount=penalty["amount"])
            if penalty and penalty["days_late"] else "",
        ), json_message={"type": "progress_card", "progress": progress})
        if progress["status"] == "completed":
            ask_rating(dispatcher)
        return [SlotSet("case_id", case_id)]


class SubmitTracking(Action):
    def name(self) -> str:
        return "action_submit_tracking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        buyer = require_buyer(dispatcher, tracker)
        if not buyer:
            return []
        number = tracker.get_slot("tracking_number")
        if not number:
            dispatcher.utter_message(text=texts.TRACKING_MISSING)
            return []
        try:
            case_id = tracker.get_slot("case_id")
            if not case_id:
                waiting = [c for c in await call(client().open_cases, buyer) if c["status"] == "awaiting_return"]
                if len(waiting) > 1:
                    buttons = [{"title": f"{c['case_id']} {c['item_title']}",
                                "payload": f'/submit_tracking{{"case_id": "{c["case_id"]}", "tracking_number": "{number}"}}'}
                               for c in waiting]
                    dispatcher.utter_message(text=texts.TRACKING_WHICH_OF.format(tracking=number), buttons=buttons)
                    return []
                case_id = waiting[0]["case_id"] if waiting else None
            if not case_id:
                dispatcher.utter_message(text=texts.TRACKING_WHICH)
                return []
            await call(client().add_materials, case_id, [{"code": "return_tracking", "text": number}], buyer)
        except BackendUnavailable:
            say_backend_down(dispatcher)
            return []
        except BackendError as exc:
            dispatcher.utter_message(text=exc.message)
            return [SlotSet("tracking_number", None)]
        dispatcher.utter_message(text=texts.TRACKING_SAVED.format(tracking=number))
        return [SlotSet("tracking_number", None), SlotSet("stage", None), SlotSet("case_id", case_id)]


class CancelCase(Action):
    def name(self) -> str:
        return "action_cancel_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        buyer = require_buyer(dispatcher, tracker)
        if not buyer:
            return []
        case_id = case_id_in(tracker) or tracker.get_slot("case_id")
        try:
            if not case_id:
                open_cases = await call(client().open_cases, buyer)
                if len(open_cases) == 1:
                    case_id = open_cases[0]["case_id"]
                elif open_cases:
                    buttons = [{"title": f"{c['case_id']} {c['item_title']}",
                                "payload": f'/cancel_case{{"case_id": "{c["case_id"]}"}}'} for c in open_cases]
                    dispatcher.utter_message(text=texts.CANCEL_WHICH, buttons=buttons)
                    return []
            if not case_id:
                dispatcher.utter_message(text=texts.NO_OPEN_CASE)
                return []
            await call(client().transition, case_id, "cancel", buyer)
        except BackendUnavailable:
            say_backend_down(dispatcher)
            return []
        except BackendError as exc:
            dispatcher.utter_message(text=exc.message)
            return []
        dispatcher.utter_message(text=texts.CANCELLED.format(case_id=case_id))
        return [SlotSet("case_id", None), SlotSet("stage", None)]


