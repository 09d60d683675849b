"""Tables of the case backend.

The case row is a projection: every status change is also an append-only `case_events` row
(who, when, from, to, why), and only backend.cases.lifecycle writes either of them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db.base import Base, MoneyType, UTCDateTime


class Order(Base):
    __tablename__ = "orders"

    order_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    buyer_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    promised_delivery_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_logistics_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    shipping_fee: Mapped[Decimal] = mapped_column(MoneyType())
    discount_total: Mapped[Decimal] = mapped_column(MoneyType())
    freight_insurance: Mapped[bool] = mapped_column(Boolean, default=False)
    return_address: Mapped[str | None] = mapped_column(String(300))
    # The last four digits of the receiver's phone (never the whole number): proves an order is yours.
    receiver_phone_tail: Mapped[str | None] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.position"
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(MoneyType())
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    warranty_days: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[Order] = relationship(back_populates="items")


class Upload(Base):
    """An evidence file as uploaded. Bytes live once per sha256 in the upload folder."""

    __tablename__ = "uploads"

    upload_id: Mapped[str] = mapped_column(String(35), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # image | video
    mime: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    buyer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    display_name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        ForeignKeyConstraint(["order_id", "item_id"], ["order_items.order_id", "order_items.item_id"]),
        Index("ix_cases_order_item", "order_id", "item_id"),
        Index("ix_cases_buyer_created", "buyer_id", "created_at"),
        Index("ix_cases_status_due", "status", "due_at"),
    )

    case_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[str] = mapped_column(String(64))
    buyer_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    remedy: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    # "order_id:item_id" while the case is open, NULL once closed: a unique index on it makes
    # "one open case per item" hold even when two requests race.
    open_key: Mapped[str | None] = mapped_column(String(90), unique=True)
    decision: Mapped[dict[str, Any]] = mapped_column(JSON)
    policy_version: Mapped[str] = mapped_column(String(32))
    item_paid: Mapped[Decimal] = mapped_column(MoneyType())
    refund_amount: Mapped[Decimal | None] = mapped_column(MoneyType())
    return_tracking: Mapped[str | None] = mapped_column(String(40))
    # Current deadline: whose turn it is and until when (policy.md §7).
    due_step: Mapped[str | None] = mapped_column(String(32))
    due_party: Mapped[str | None] = mapped_column(String(16))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue_flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    penalty_settled: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0.00"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.seq", cascade="all, delete-orphan"
    )
    materials: Mapped[list[CaseMaterial]] = relationship(
        back_populates="case", order_by="CaseMaterial.id", cascade="all, delete-orphan"
    )
    order_item: Mapped[OrderItem] = relationship(viewonly=True)

    __mapper_args__ = {"version_id_col": version}


class CaseEvent(Base):
    """Immutable history of a case. Rows are only ever inserted."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")
    outbox: Mapped[StatusOutbox | None] = relationship(back_populates="event", cascade="all, delete-orphan")


class CaseMaterial(Base):
    __tablename__ = "case_materials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    upload_id: Mapped[str | None] = mapped_column(ForeignKey("uploads.upload_id"), index=True)
    text: Mapped[str | None] = mapped_column(Text)
    seal_intact: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship(back_populates="materials")
    upload: Mapped[Upload | None] = relationship()


class IdempotencyKey(Base):
    """A POST /cases retried with the same key gets the same case, never a second one."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Agent(Base):
    __tablename__ = "agents"

    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # agent | supervisor
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AgentSession(Base):
    __tablename__ = "agent_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.agent_id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SchedulerLease(Base):
    """Leader lease of the deadline scheduler: one worker at a time runs a sweep."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Handoff(Base):
    """A conversation handed to a human agent, with the summary the agent starts from."""

    __tablename__ = "handoffs"
    __table_args__ = (Index("ix_handoffs_status_created", "status", "created_at"),)

    handoff_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    buyer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.case_id"))
    reason: Mapped[str] = mapped_column(String(24))
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # open | claimed | closed
    # conversation_id while not closed: one live handoff per conversation, even under races.
    open_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    agent: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Conversation(Base):
    """One buyer's conversation on one channel (`web:b_1001`); the Rasa sender id is the same string."""

    __tablename__ = "conversations"

    conversation_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    buyer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Set when a handoff paused the Rasa tracker; cleared once the gateway has resumed it.
    bot_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ConversationMessage(Base):
    """The conversation log: every buyer, bot, agent and system message, in order, exactly once."""

    __tablename__ = "conversation_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_conversation_messages_seq"),
        # A client resending after a reconnect reuses its client_id: stored once.
        UniqueConstraint("conversation_id", "client_id", name="uq_conversation_messages_client"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.conversation_id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(8))  # buyer | bot | agent | system
    author_id: Mapped[str | None] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
    buttons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    custom: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StatusOutbox(Base):
    """A status change not yet pushed to the buyer, written in the same transaction as its event.

    An outbox rather than a cursor over event ids: ids are not commit order (a transaction that took
    id N may commit after N+1), and a row that is deleted on delivery is delivered exactly once.
    """

    __tablename__ = "status_outbox"

    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    event: Mapped[CaseEvent] = relationship(back_populates="outbox")


# -- WeChat Official Account channel (backend/channels/wechat) ---------------------------------------


class WechatUser(Base):
    """An openid of one Official Account, and the buyer it proved to be (None: an anonymous visitor)."""

    __tablename__ = "wechat_users"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    account: Mapped[str] = mapped_column(String(32))
    buyer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    bound_order_id: Mapped[str | None] = mapped_column(String(16))
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WechatBindAttempt(Base):
    """Each try to bind an openid by order number and phone tail, to limit guessing per openid and order."""

    __tablename__ = "wechat_bind_attempts"
    __table_args__ = (Index("ix_wechat_bind_attempts_openid_at", "openid", "at"),
                      Index("ix_wechat_bind_attempts_order_at", "order_id", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    openid: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(16))
    ok: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class WechatSeen(Base):
    """What an account's webhook already took: message ids (WeChat retries them) and request nonces
    (a replayed signed request). Inserting the key is the claim, so each is handled once by one worker."""

    __tablename__ = "wechat_seen"

    account: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    digest: Mapped[str | None] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class WechatAccessToken(Base):
    """The access token of an AppID, shared by every worker. `version` is bumped on each refresh; a
    worker refreshes only after taking the lease (`refreshing_until`) with a compare-and-set."""

    __tablename__ = "wechat_access_tokens"

    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token: Mapped[str | None] = mapped_column(String(512))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=0)
    refreshing_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
