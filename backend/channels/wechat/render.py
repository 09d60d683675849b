"""Logged messages as WeChat text: buttons become numbered options (a reply of "1" is the first
button) or links, and texts are split within WeChat's byte limit.

The options are not kept anywhere of their own: they are read back from the conversation log (the
newest bot or system message with buttons since the buyer last wrote), which every worker sees.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.channels.wechat.binding import BIND_HINT
from backend.db.models import ConversationMessage

CHINA = ZoneInfo("Asia/Shanghai")
HUMAN = "@human"  # the option that opens a handoff without the bot (shown when the assistant is down)
MSG_CHOOSE = "回复数字即可选择："
MSG_SEND_PHOTOS = "可以直接在这里发送照片，一张一张发就行。"
MSG_LOGIN_WORDS = "请先登录"  # the bot asks a visitor to log in: on WeChat that means binding an order
_COMMAND = re.compile(r"^/[a-z_]+")
_LINK = re.compile(r"^https?://", re.IGNORECASE)


@dataclass(frozen=True)
class Option:
    title: str
    payload: str  # a bot command ("/inform{…}") or HUMAN


def options(message: dict[str, Any]) -> list[Option]:
    """The numbered choices a message offers, in the order they are shown."""
    out = [Option(b["title"] or b["payload"], b["payload"]) for b in message.get("buttons") or []
           if _COMMAND.match(b.get("payload") or "")]
    if (message.get("custom") or {}).get("type") == "request_human":
        out.append(Option("转人工客服", HUMAN))
    return out


def render(message: dict[str, Any], *, bound: bool) -> str:
    parts: list[str] = []
    text = (message.get("text") or "").strip()
    if text:
        parts.append(text)
    custom = message.get("custom") or {}
    if custom.get("type") == "progress_card":  # the widget draws a card; here its key lines are text
        parts.extend(_progress_lines(custom.get("progress") or {}, text))
    if custom.get("type") == "materials_request" and any(
            m.get("kind") in ("image", "video") for m in custom.get("materials") or []):
        parts.append(MSG_SEND_PHOTOS)
    links = [f"{b['title']}：{b['payload']}" for b in message.get("buttons") or [] if _LINK.match(b.get("payload") or "")]
    if links:
        parts.append("\n".join(links))
    choices = options(message)
    if choices:
        parts.append(MSG_CHOOSE + "\n" + "\n".join(f"{i}. {o.title}" for i, o in enumerate(choices, 1)))
    if not bound and message.get("author") == "bot" and MSG_LOGIN_WORDS in text:
        parts.append(BIND_HINT)
    return "\n\n".join(parts)


def _progress_lines(progress: dict[str, Any], text: str) -> list[str]:
    """The deadline and the return address, unless the text already says them."""
    lines = []
    deadline = progress.get("deadline") or {}
    if deadline.get("due_at") and "截止时间" not in text:
        try:
            due = datetime.fromisoformat(deadline["due_at"]).astimezone(CHINA)
            lines.append(f"截止时间：{due.month}月{due.day}日 {due:%H:%M}{'（预计）' if deadline.get('estimated') else ''}")
        except (TypeError, ValueError):
            pass
    address = progress.get("return_address")
    if address and progress.get("status") == "awaiting_return" and address not in text:
        lines.append(f"寄回地址：{address}")
    return lines


def split(text: str, max_bytes: int) -> list[str]:
    """Pieces of at most `max_bytes` UTF-8 bytes, cut at line ends where possible, never inside a character."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        if len((current + line).encode()) <= max_bytes:
            current += line
            continue
        if current:
            pieces.append(current)
            current = ""
        while len(line.encode()) > max_bytes:  # one line longer than a message: cut by characters
            cut, size = 0, 0
            for ch in line:
                width = len(ch.encode())
                if size + width > max_bytes:
                    break
                size += width
                cut += 1
            pieces.append(line[:cut])
            line = line[cut:]
        current = line
    if current:
        pieces.append(current)
    return [p.strip("\n") for p in pieces if p.strip()]


def choice(text: str) -> int | None:
    """"1", "１", " 2 " → the number; anything else → None."""
    normalized = unicodedata.normalize("NFKC", text).strip()
    return int(normalized) if re.fullmatch(r"[1-9][0-9]?", normalized) else None


def offered(session: Session, conversation_id: str) -> list[Option]:
    """The options of the newest bot or system message with any since the buyer last wrote."""
    last_buyer = session.scalar(select(func.max(ConversationMessage.seq)).where(
        ConversationMessage.conversation_id == conversation_id, ConversationMessage.author == "buyer")) or 0
    rows = session.scalars(select(ConversationMessage).where(
        ConversationMessage.conversation_id == conversation_id, ConversationMessage.seq > last_buyer,
        ConversationMessage.author.in_(("bot", "system"))).order_by(ConversationMessage.seq.desc()).limit(20)).all()
    for row in rows:
        found = options({"buttons": row.buttons, "custom": row.custom})
        if found:
            return found
    return []
