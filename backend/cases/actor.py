"""Who is acting: the role the lifecycle checks and, for buyers, whose data they may touch."""

from __future__ import annotations

from dataclasses import dataclass

from backend.vocab import Party


@dataclass(frozen=True, slots=True)
class Actor:
    role: Party
    actor_id: str | None = None
    # Set when the caller acts for one buyer: every read and write is limited to that buyer.
    buyer_scope: str | None = None
