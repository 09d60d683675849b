"""`python -m backend.cli seed-history`: months of realistic after-sales history for the statistics page.

Orders are bulk-inserted (the order feed has no logic beyond an upsert, and tens of thousands of
them go through the ORM slowly). Every case goes through the real service layer: `file_case`,
`add_materials` and `transition` take the time as an argument, so a case filed 60 days ago is
decided by the real policy engine with the real materials, and every status change is a real
lifecycle event. Only what the scheduler would have done (closing an expired case) is applied with
the lifecycle directly, at the moment the scheduler would have done it. Handoffs and chat messages,
which belong to the gateway, are inserted as rows.

The result has a mix of reasons, remedies and outcomes, some reviews past 24 h and 48 h (and a few
still waiting), late merchant steps, ratings, handoffs, and one SKU (`EARBUDS-X1`) whose refund rate
is several times the platform's, so the alerts of seed 002 §8 show. The same --seed and --until give
the same data. History orders are `99…`, buyers `h_…`; --replace removes an earlier run first.
"""

from __future__ import annotations

import hashlib
import random
import struct
import sys
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from time import monotonic
from typing import Any
from unittest import mock

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from backend.cases import lifecycle, service
from backend.cases.actor import Actor
from backend.cases.deadlines import project
from backend.cases.lifecycle import Action
from backend.db.models import (
    Case,
    CaseEvent,
    CaseMaterial,
    Conversation,
    ConversationMessage,
    Handoff,
    IdempotencyKey,
    Order,
    OrderItem,
    StatusOutbox,
    Upload,
)
from backend.errors import ServiceError
from backend.policy.config import Policy
from backend.schemas.decisions import EligibilityRequest, MaterialIn
from backend.uploads.storage import blob_path
from backend.vocab import CaseStatus, MaterialCode, Party, Reason, Remedy

S = CaseStatus
ORDER_PREFIX = "99"
BUYER_PREFIX = "h_"
BATCH = 100
MERCHANT = Actor(Party.MERCHANT, actor_id="service")
PLATFORM = Actor(Party.AGENT, actor_id="agent")  # the demo supervisor decides disputes
AGENTS = ("kefu", "agent")


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    title: str
    category: str
    price: str
    weight: int        # share of orders
    case_rate: float   # chance that an order leads to an after-sales request
    scenarios: tuple[tuple[Reason, Remedy, int], ...] | None = None  # None: the shop-wide mix
    warranty_days: int = 0


R, M = Reason, Remedy
SHOP_MIX: tuple[tuple[Reason, Remedy, int], ...] = (
    (R.NO_REASON, M.RETURN_REFUND, 22), (R.NO_REASON, M.EXCHANGE, 7),
    (R.QUALITY, M.RETURN_REFUND, 12), (R.QUALITY, M.EXCHANGE, 8), (R.QUALITY, M.PARTIAL_REFUND, 4),
    (R.NOT_AS_DESCRIBED, M.RETURN_REFUND, 8), (R.NOT_AS_DESCRIBED, M.PARTIAL_REFUND, 2),
    (R.WRONG_ITEM, M.EXCHANGE, 5), (R.DAMAGED_IN_TRANSIT, M.RESEND, 5), (R.DAMAGED_IN_TRANSIT, M.PARTIAL_REFUND, 3),
    (R.MISSING_ITEM, M.RESEND, 4), (R.MISSING_ITEM, M.REFUND_ONLY, 2), (R.NOT_RECEIVED, M.REFUND_ONLY, 3),
    (R.NOT_RECEIVED, M.RESEND, 2), (R.OTHER, M.RETURN_REFUND, 3),
)
APPLIANCE_MIX = SHOP_MIX + ((R.QUALITY, M.REPAIR, 6),)
CATALOG: tuple[Product, ...] = (
    Product("SHOE-RUN-42", "男士跑步鞋 黑色 42码", "shoes", "299.00", 11, 0.09),
    Product("TEE-COTTON-L", "纯棉短袖T恤 白色 L码", "apparel", "59.00", 12, 0.10),
    Product("JACKET-WIND-M", "防风夹克 藏青 M码", "apparel", "399.00", 6, 0.09),
    Product("SOCKS-5P", "纯棉袜子 5双装", "apparel", "39.90", 9, 0.04),
    Product("MUG-CERAMIC", "陶瓷马克杯 350ml", "home", "45.00", 8, 0.06),
    Product("LAMP-DESK", "LED护眼台灯", "home", "129.00", 5, 0.06, APPLIANCE_MIX, 365),
    Product("KETTLE-1.7L", "电热水壶 1.7L 不锈钢", "appliance", "159.00", 6, 0.07, APPLIANCE_MIX, 365),
    Product("BAG-CANVAS", "帆布托特包 米色", "bags", "89.00", 7, 0.05),
    Product("CASE-IP15", "iPhone 15 手机壳 透明", "accessories", "39.00", 10, 0.05),
    Product("BOOK-PY", "Python编程从入门到实践", "books", "69.00", 5, 0.03),
    # The abnormal one: cheap earbuds that keep failing, returned for a refund far more than anything else.
    Product("EARBUDS-X1", "X1 无线蓝牙耳机 白色", "electronics", "199.00", 8, 0.42,
            ((R.QUALITY, M.RETURN_REFUND, 60), (R.NO_REASON, M.RETURN_REFUND, 20), (R.QUALITY, M.EXCHANGE, 8),
             (R.NOT_AS_DESCRIBED, M.RETURN_REFUND, 12)), 365),
)
DESCRIPTIONS = {
    R.QUALITY: ("鞋底开胶，穿了两天就裂开了", "用了一天就坏了，无法正常使用", "做工很差，线头脱落严重",
                "左耳没有声音，充电也充不进去", "开机没反应，指示灯不亮"),
    R.NOT_AS_DESCRIBED: ("颜色和商品图片差别很大", "材质和描述写的不一样", "尺码明显偏小，和尺码表不符"),
    R.OTHER: ("商品有异味，放了几天还是很重", "收到的款式不是下单时选的那款"),
}
BUYER_LINES = {
    R.NO_REASON: "不想要了，想退货", R.QUALITY: "东西有质量问题", R.NOT_AS_DESCRIBED: "收到的和描述不一样",
    R.WRONG_ITEM: "发错货了", R.DAMAGED_IN_TRANSIT: "快递送到就是坏的", R.MISSING_ITEM: "少发了东西",
    R.NOT_RECEIVED: "显示签收了但我没收到", R.OTHER: "商品有点问题想处理一下",
}
QUESTIONS = ("七天无理由退货怎么算", "退货运费谁出", "退款多久到账", "可以换尺码吗", "保修期多久")
HANDOFF_REASONS = (("requested", 50), ("needs_review", 20), ("fallback", 15), ("complaint", 15))
REJECT_REASONS = ("凭证无法证明商品存在质量问题", "商品已影响二次销售", "退回商品与原商品不符")


@dataclass
class Report:
    orders: int = 0
    cases: int = 0
    refused: int = 0
    handoffs: int = 0
    conversations: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True, slots=True)
class Plan:
    at: datetime
    order_id: str
    buyer_id: str
    product: Product
    index: int


def _png(seed: int) -> bytes:
    """A 16×16 PNG whose bytes are unique per case, so evidence is never "shared" across buyers."""
    colour = bytes(((seed * 97) % 200 + 30, (seed * 57) % 200 + 30, (seed * 31) % 200 + 30))
    raw = b"".join(b"\x00" + colour * 16 for _ in range(16))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
            + chunk(b"tEXt", f"Comment\x00history-{seed}".encode()) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


class History:
    """One run: a seeded random source, the time the history ends, and the session it writes with."""

    def __init__(self, session: Session, policy: Policy, upload_dir: Path, *, now: datetime, seed: int) -> None:
        self.session, self.policy, self.upload_dir, self.now = session, policy, upload_dir, now
        self.rng = random.Random(seed)
        self.ids = random.Random(seed + 1)  # case ids: their own stream, so they never shift the data
        self.tz = policy.tz
        self.report = Report()
        self.messages: dict[str, list[tuple[datetime, str, str | None, str]]] = defaultdict(list)
        self.handoffs: list[dict[str, Any]] = []

    # ------------------------------------------------------------ helpers

    def hours(self, low: float, high: float) -> timedelta:
        return timedelta(hours=self.rng.uniform(low, high))

    def pick(self, weighted: tuple[tuple[Any, int], ...] | list[tuple[Any, int]]) -> Any:
        return self.rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]

    def case_id(self, _: Policy, now: datetime) -> str:
        return f"AS{now.astimezone(self.tz):%y%m%d}{self.ids.randrange(10**6):06d}"

    # ------------------------------------------------------------ orders

    def orders(self, first_day: date, last_day: date, per_day: int) -> list[Plan]:
        """Orders paid from a week before the first day, and the requests some of them will lead to."""
        weights = [p.weight for p in CATALOG]
        mean_rate = sum(p.weight * p.case_rate for p in CATALOG) / sum(weights)
        per_day_orders = per_day / mean_rate
        buyers = max(200, int(per_day_orders * (last_day - first_day).days / 3))
        plans: list[Plan] = []
        orders: list[dict[str, Any]] = []
        items: list[dict[str, Any]] = []
        day, seq = first_day - timedelta(days=8), 0
        start_of_history = datetime.combine(first_day, time(0), tzinfo=self.tz)
        while day <= last_day:
            weekend = 1.15 if day.weekday() >= 5 else 1.0
            count = int(per_day_orders * weekend * self.rng.uniform(0.85, 1.15))
            for _ in range(count):
                paid = datetime.combine(day, time(8), tzinfo=self.tz) + self.hours(0, 15)
                if paid > self.now:
                    continue
                seq += 1
                product = self.rng.choices(CATALOG, weights=weights)[0]
                order_id = f"{ORDER_PREFIX}{day:%y%m%d}{seq:08d}"
                buyer = f"{BUYER_PREFIX}{self.rng.randrange(buyers):05d}"
                shipped = paid + self.hours(4, 30)
                delivered = shipped + self.hours(24, 80)
                status = "delivered" if delivered <= self.now else "shipped" if shipped <= self.now else "paid"
                orders.append({
                    "order_id": order_id, "buyer_id": buyer, "status": status, "paid_at": paid,
                    "shipped_at": shipped if status != "paid" else None,
                    "delivered_at": delivered if status == "delivered" else None,
                    "promised_delivery_by": shipped + timedelta(days=4) if status != "paid" else None,
                    "last_logistics_event_at": min(delivered, self.now) if status != "paid" else None,
                    "shipping_fee": Decimal("0.00"), "discount_total": Decimal("0.00"), "freight_insurance": False,
                    "return_address": None, "receiver_phone_tail": None, "created_at": paid, "updated_at": paid,
                })
                items.append({"order_id": order_id, "item_id": "1", "position": 0, "sku": product.sku,
                              "title": product.title, "category": product.category, "quantity": 1,
                              "unit_price": Decimal(product.price), "flags": [],
                              "warranty_days": product.warranty_days})
                if status == "delivered" and self.rng.random() < product.case_rate:
                    filed = delivered + self.hours(3, 140)
                    if start_of_history <= filed <= self.now:
                        plans.append(Plan(filed, order_id, buyer, product, len(plans)))
            day += timedelta(days=1)
        for i in range(0, len(orders), 2000):
            self.session.execute(insert(Order), orders[i:i + 2000])
            self.session.execute(insert(OrderItem), items[i:i + 2000])
        self.session.commit()
        self.report.orders = len(orders)
        return sorted(plans, key=lambda p: (p.at, p.order_id))

    # ------------------------------------------------------------ one case

    def evidence(self, plan: Plan, reason: Reason, at: datetime) -> list[MaterialIn]:
        """What the policy asks for this reason, with one photo (written to the upload folder)."""
        codes = self.policy.required_materials[reason]
        upload_id = None
        if any(self.policy.materials[c].kind == "image" for c in codes):
            data = _png(plan.index)
            digest = hashlib.sha256(data).hexdigest()
            path = blob_path(self.upload_dir, digest, "png")
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            upload_id = f"up_{self.rng.getrandbits(128):032x}"
            self.session.add(Upload(upload_id=upload_id, sha256=digest, kind="image", mime="image/png", size=len(data),
                                    width=16, height=16, buyer_id=plan.buyer_id, display_name="photo.png",
                                    created_at=at))
        out = []
        for code in codes:
            kind = self.policy.materials[code].kind
            if kind == "image":
                out.append(MaterialIn(code=code, upload_id=upload_id))
            elif kind == "text":
                out.append(MaterialIn(code=code, text=self.rng.choice(DESCRIPTIONS.get(reason, DESCRIPTIONS[R.OTHER]))))
            elif kind == "confirmation":
                out.append(MaterialIn(code=code, text="商品完好，吊牌配件齐全"))
        return out

    def file(self, plan: Plan) -> tuple[Case, Reason] | None:
        reason, remedy = self.pick([((r, m), w) for r, m, w in plan.product.scenarios or SHOP_MIX])
        evidence = self.evidence(plan, reason, plan.at)
        later = evidence and self.rng.random() < 0.2  # filed first, proofs to follow
        body = EligibilityRequest(order_id=plan.order_id, item_id="1", buyer_id=plan.buyer_id, reason=reason,
                                  remedy=remedy, materials=[] if later else evidence)
        buyer = Actor(Party.BUYER, actor_id=plan.buyer_id, buyer_scope=plan.buyer_id)
        try:
            with self.session.begin_nested():
                case, _ = service.file_case(self.session, self.policy, body, buyer, plan.at, None)
        except ServiceError:
            self.report.refused += 1  # e.g. a buyer's second request for the same item: the policy said no
            return None
        if later:
            self.supply_later(case, evidence, buyer, plan.at)
        return case, reason

    def supply_later(self, case: Case, evidence: list[MaterialIn], buyer: Actor, filed: datetime) -> None:
        fate = self.rng.random()
        if fate < 0.75:
            at = filed + self.hours(1, 96)
            if at <= self.now:
                service.add_materials(self.session, self.policy, case, evidence, buyer, at)
        elif fate < 0.85:
            self.act(case, Action.CANCEL, filed + self.hours(1, 48), buyer)
        else:
            self.expire(case)

    def act(self, case: Case, action: Action, at: datetime, actor: Actor, **extra: Any) -> bool:
        if at > self.now:
            return False
        service.transition(self.session, self.policy, case, action, actor, at, **extra)
        return True

    def expire(self, case: Case) -> bool:
        """What the scheduler does when a buyer's deadline passes: close the case."""
        if case.due_at is None:
            return False
        at = case.due_at + self.hours(0.05, 1)
        if at > self.now:
            return False
        lifecycle.apply(case, Action.TIMEOUT, actor=Party.SYSTEM, actor_id=None, at=at)
        project(self.policy, case)
        self.session.flush()
        return True

    def review_delay(self) -> timedelta:
        """Most reviews within a working day; some past the 24 h standard, a few past 48 h."""
        roll = self.rng.random()
        return self.hours(0.3, 20) if roll < 0.82 else self.hours(25, 44) if roll < 0.96 else self.hours(49, 80)

    def manual_amount(self, case: Case) -> Decimal | None:
        manual = case.remedy == M.PARTIAL_REFUND.value or any(
            r.get("id") == "R-REVIEW-MANUAL-AMOUNT" for r in case.decision.get("rules", []))
        if not manual:
            return None
        share = Decimal(str(round(self.rng.uniform(0.15, 0.6), 2)))
        return max((case.item_paid * share).quantize(Decimal("0.01")), Decimal("1.00"))

    def run(self, case: Case, at: datetime, buyer: Actor) -> datetime:
        """Move the case on as merchant, buyer and platform would have, until now. Returns the last time."""
        disputed = rated = replied = False
        while True:
            status = S(case.status)
            step: tuple[timedelta, Callable[[datetime], Any]] | None = None
            if status == S.PENDING_REVIEW:
                if self.rng.random() < 0.86:
                    amount = self.manual_amount(case)
                    step = (self.review_delay(),
                            lambda t, a=amount: self.act(case, Action.APPROVE, t, MERCHANT, amount=a))
                else:
                    why = self.rng.choice(REJECT_REASONS)
                    step = (self.review_delay(), lambda t, w=why: self.act(case, Action.REJECT, t, MERCHANT, reason=w))
            elif status == S.DISPUTED:
                action = Action.APPROVE if self.rng.random() < 0.5 else Action.REJECT
                extra: dict[str, Any] = {"reason": "平台核实后维持商家意见"} if action == Action.REJECT else \
                    {"amount": self.manual_amount(case)}
                step = (self.hours(10, 60), lambda t, a=action, e=extra: self.act(case, a, t, PLATFORM, **e))
            elif status == S.REJECTED and not disputed:
                disputed = True
                if self.rng.random() < 0.3:
                    step = (self.hours(2, 48), lambda t: self.act(case, Action.DISPUTE, t, buyer, reason="我不同意商家的处理结果"))
            elif status == S.AWAITING_RETURN:
                fate = self.rng.random()
                if fate < 0.92:
                    number = f"SF{self.rng.randrange(10**12, 10**13)}"
                    step = (self.hours(2, 60), lambda t, n=number: service.add_materials(
                        self.session, self.policy, case, [MaterialIn(code=MaterialCode.RETURN_TRACKING, text=n)],
                        buyer, t))
                elif fate < 0.95:
                    step = (self.hours(1, 24), lambda t: self.act(case, Action.CANCEL, t, buyer))
                else:
                    self.expire(case)
                    break
            elif status == S.RETURNING:
                step = (self.hours(24, 96), lambda t: self.act(case, Action.RECEIVE, t, MERCHANT))
            elif status == S.RECEIVED:
                if self.rng.random() < 0.95:
                    late = self.rng.random() < 0.1
                    step = (self.hours(100, 150) if late else self.hours(2, 60),
                            lambda t: self.act(case, Action.INSPECT_PASS, t, MERCHANT))
                else:
                    step = (self.hours(4, 48), lambda t: self.act(case, Action.INSPECT_FAIL, t, MERCHANT,
                                                                  reason="退回商品有明显使用痕迹"))
            elif status == S.REFUNDING:
                after_return = case.remedy == M.RETURN_REFUND.value
                late = self.rng.random() < (0.05 if after_return else 0.1)
                delay = (self.hours(180, 230) if late else self.hours(1, 48)) if after_return else \
                    (self.hours(26, 50) if late else self.hours(0.5, 20))
                step = (delay, lambda t: self.act(case, Action.REFUND, t, MERCHANT))
            elif status == S.REPLACING:
                step = (self.hours(4, 100), lambda t: self.act(case, Action.SHIP_REPLACEMENT, t, MERCHANT))
            elif status == S.REPAIRING:
                if not replied:
                    replied = True
                    step = (self.hours(6, 40), lambda t: self.act(case, Action.NOTE, t, MERCHANT, reason="已收到，检测后维修"))
                else:
                    step = (self.hours(48, 150), lambda t: self.act(case, Action.REPAIR_DONE, t, MERCHANT))
            elif status == S.COMPLETED and not rated:
                rated = True
                if self.rng.random() < 0.65:
                    slow = (at - case.filed_at) > timedelta(days=9) or case.penalty_settled > 0
                    weights = ((1, 8), (2, 8), (3, 16), (4, 30), (5, 38)) if slow else \
                        ((1, 2), (2, 3), (3, 8), (4, 27), (5, 60))
                    rating = self.pick(weights)
                    step = (self.hours(1, 72), lambda t, r=rating: self.act(case, Action.RATE, t, buyer, rating=r))
            if step is None:
                break
            next_at = at + step[0]
            if next_at > self.now:
                break
            step[1](next_at)
            at = next_at
        return at

    # ------------------------------------------------------------ chats and handoffs

    def chat(self, plan: Plan, case: Case, reason: Reason) -> None:
        """The conversation the request came from, and sometimes a person taking it over."""
        conversation = f"web:{plan.buyer_id}"
        if self.rng.random() < 0.7:
            self.messages[conversation] += [
                (plan.at - self.hours(0.05, 0.2), "buyer", plan.buyer_id, f"订单{plan.order_id}{BUYER_LINES[reason]}"),
                (plan.at, "bot", None, f"已为您提交售后申请，单号 {case.case_id}"),
            ]
        disputed = any(e.action == Action.DISPUTE.value for e in case.events)
        if disputed:
            at = next(e.at for e in case.events if e.action == Action.DISPUTE.value)
            self.handoff(conversation, plan.buyer_id, case.case_id, "complaint", at, "买家对商家驳回不满，申请平台介入")
        elif self.rng.random() < 0.12:
            why = self.pick(HANDOFF_REASONS)
            self.handoff(conversation, plan.buyer_id, case.case_id, why, plan.at + self.hours(0, 24),
                         f"买家咨询售后单 {case.case_id} 的处理进度")

    def handoff(self, conversation: str, buyer: str, case_id: str | None, reason: str, at: datetime,
                summary: str) -> None:
        claimed = at + self.hours(0.02, 0.25)
        closed = claimed + self.hours(0.1, 0.8)
        if closed > self.now:
            return  # still live now: leave the real queue to real conversations
        agent = self.rng.choice(AGENTS)
        self.messages[conversation] += [(at - timedelta(seconds=30), "buyer", buyer, "转人工"),
                                        (claimed + timedelta(seconds=40), "agent", agent, "您好，我来为您处理")]
        self.handoffs.append({"conversation_id": conversation, "channel": "web", "buyer_id": buyer, "case_id": case_id,
                              "reason": reason, "summary": summary, "status": "closed", "open_key": None,
                              "agent": agent, "created_at": at, "claimed_at": claimed, "closed_at": closed})

    def questions(self, first_day: date, last_day: date, per_day: int) -> None:
        """Chats that never became a request: policy questions, a few of them handed to a person."""
        day = first_day
        while day <= last_day:
            for _ in range(max(1, per_day // 2)):
                at = datetime.combine(day, time(8), tzinfo=self.tz) + self.hours(0, 15)
                if at > self.now:
                    continue
                buyer = f"{BUYER_PREFIX}q{self.rng.randrange(100000):05d}"
                conversation = f"web:{buyer}"
                self.messages[conversation] += [(at, "buyer", buyer, self.rng.choice(QUESTIONS)),
                                                (at + timedelta(seconds=2), "bot", None, "为您查询到以下售后政策说明")]
                if self.rng.random() < 0.06:
                    self.handoff(conversation, buyer, None, self.pick((("requested", 3), ("fallback", 1))),
                                 at + timedelta(minutes=1), "买家咨询售后政策，要求人工")
            day += timedelta(days=1)

    def write_chats(self) -> None:
        conversations, rows = [], []
        for conversation, messages in sorted(self.messages.items()):
            messages.sort(key=lambda m: m[0])
            for seq, (at, author, author_id, text) in enumerate(messages, start=1):
                rows.append({"conversation_id": conversation, "seq": seq, "author": author, "author_id": author_id,
                             "client_id": None, "text": text, "buttons": [], "custom": None, "attachments": [],
                             "created_at": at})
            conversations.append({"conversation_id": conversation, "channel": "web",
                                  "buyer_id": conversation.split(":", 1)[1], "last_seq": len(messages),
                                  "bot_paused": False, "created_at": messages[0][0], "updated_at": messages[-1][0]})
        for i in range(0, len(conversations), 2000):
            self.session.execute(insert(Conversation), conversations[i:i + 2000])
        for i in range(0, len(rows), 2000):
            self.session.execute(insert(ConversationMessage), rows[i:i + 2000])
        self.handoffs.sort(key=lambda h: h["created_at"])
        for i in range(0, len(self.handoffs), 2000):
            self.session.execute(insert(Handoff), self.handoffs[i:i + 2000])
        self.report.conversations, self.report.handoffs = len(conversations), len(self.handoffs)

    # ------------------------------------------------------------ the whole run

    def quiet(self, case_ids: list[str]) -> None:
        """The buyers heard of these changes back then: nothing for the status push to deliver now."""
        if case_ids:
            self.session.execute(delete(StatusOutbox).where(StatusOutbox.event_id.in_(
                select(CaseEvent.id).where(CaseEvent.case_id.in_(case_ids)))))

    def generate(self, first_day: date, last_day: date, per_day: int) -> Report:
        plans = self.orders(first_day, last_day, per_day)
        batch: list[str] = []
        with mock.patch.object(service, "new_case_id", self.case_id):  # seeded ids: the same run, the same ids
            for plan in plans:
                filed = self.file(plan)
                if filed is not None:
                    case, reason = filed
                    buyer = Actor(Party.BUYER, actor_id=plan.buyer_id, buyer_scope=plan.buyer_id)
                    self.run(case, max((e.at for e in case.events), default=plan.at), buyer)
                    self.chat(plan, case, reason)
                    self.report.cases += 1
                    self.report.statuses[case.status] += 1
                    batch.append(case.case_id)
                if len(batch) >= BATCH:
                    self.session.flush()
                    self.quiet(batch)
                    self.session.commit()
                    self.session.expunge_all()
                    batch = []
        self.session.flush()
        self.quiet(batch)
        self.questions(first_day, last_day, per_day)
        self.write_chats()
        self.session.commit()
        return self.report


def existing(session: Session) -> int:
    return session.query(Order).filter(Order.order_id.like(f"{ORDER_PREFIX}%")).count()


def remove(session: Session) -> None:
    """Delete an earlier history run (and nothing else: only `99…` orders and `h_…` buyers)."""
    cases = select(Case.case_id).where(Case.order_id.like(f"{ORDER_PREFIX}%"))
    events = select(CaseEvent.id).where(CaseEvent.case_id.in_(cases))
    buyers = BUYER_PREFIX.replace("_", "\\_") + "%"
    session.execute(delete(StatusOutbox).where(StatusOutbox.event_id.in_(events)))
    session.execute(delete(Handoff).where(or_(Handoff.case_id.in_(cases), Handoff.buyer_id.like(buyers, escape="\\"))))
    session.execute(delete(CaseEvent).where(CaseEvent.case_id.in_(cases)))
    session.execute(delete(CaseMaterial).where(CaseMaterial.case_id.in_(cases)))
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.case_id.in_(cases)))
    session.execute(delete(Case).where(Case.order_id.like(f"{ORDER_PREFIX}%")))
    conversations = select(Conversation.conversation_id).where(Conversation.buyer_id.like(buyers, escape="\\"))
    session.execute(delete(ConversationMessage).where(ConversationMessage.conversation_id.in_(conversations)))
    session.execute(delete(Conversation).where(Conversation.buyer_id.like(buyers, escape="\\")))
    session.execute(delete(OrderItem).where(OrderItem.order_id.like(f"{ORDER_PREFIX}%")))
    session.execute(delete(Order).where(Order.order_id.like(f"{ORDER_PREFIX}%")))
    session.execute(delete(Upload).where(Upload.buyer_id.like(buyers, escape="\\")))
    session.commit()


def seed_history(factory: sessionmaker[Session], policy: Policy, upload_dir: Path, *, days: int, per_day: int,
                 seed: int, now: datetime, replace: bool = False) -> Report:
    """`days` local days of history ending on now's day, about `per_day` requests a day."""
    last_day = now.astimezone(policy.tz).date()
    first_day = last_day - timedelta(days=days - 1)
    with factory() as session:
        if existing(session):
            if not replace:
                raise ValueError("history is already loaded: run with --replace to load it again")
            remove(session)
        return History(session, policy, upload_dir, now=now, seed=seed).generate(first_day, last_day, per_day)


def cli(days: int, per_day: int, seed: int, until: str | None, replace: bool) -> None:
    """The `seed-history` command (backend/cli.py): refuses production, prints what it made."""
    from backend.cli import _factory
    from backend.policy.config import load_policy
    from backend.settings import get_settings

    settings = get_settings()
    if settings.app_env == "production":
        sys.exit("refusing to load demo history in production (APP_ENV=production)")
    if not 1 <= days <= 366 or not 1 <= per_day <= 500:
        sys.exit("--days must be 1–366 and --per-day 1–500")
    policy = load_policy(settings.policy_file)
    if until:
        # A fixed end (evening of that day) makes the run repeatable: same --seed, same --until, same data.
        now = datetime.combine(date.fromisoformat(until), time(20), tzinfo=policy.tz)
    else:
        now = datetime.now(timezone.utc)
    started = monotonic()
    try:
        report = seed_history(_factory(), policy, settings.upload_dir, days=days, per_day=per_day, seed=seed,
                              now=now, replace=replace)
    except ValueError as exc:
        sys.exit(str(exc))
    statuses = ", ".join(f"{k}={v}" for k, v in sorted(report.statuses.items()))
    print(f"history of {days} days up to {now.astimezone(policy.tz):%Y-%m-%d %H:%M}: {report.orders} orders, "
          f"{report.cases} cases ({statuses}), {report.refused} requests refused by the policy, "
          f"{report.conversations} conversations, {report.handoffs} handoffs, in {monotonic() - started:.0f} s")
