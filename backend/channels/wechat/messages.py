"""WeChat's XML, read safely: no DTDs, no entities, no external references (defusedxml), a flat
`<xml>` of short text fields, and only the message types this channel understands."""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from backend.channels.wechat.crypto import BadPayload

OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_FIELD_CHARS = 8 * 1024
MAX_FIELDS = 40


def parse_fields(data: bytes) -> dict[str, str]:
    """`<xml><ToUserName>…</ToUserName>…</xml>` as {tag: text}. Raises BadPayload for anything else."""
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise BadPayload(f"not acceptable XML: {type(exc).__name__}") from exc
    if root.tag != "xml" or len(root) > MAX_FIELDS:
        raise BadPayload("not a WeChat message")
    fields: dict[str, str] = {}
    for child in root:
        if not isinstance(child.tag, str) or len(child):  # nested elements (e.g. ScanCodeInfo) are not ours
            continue
        text = child.text or ""
        if len(text) > MAX_FIELD_CHARS:
            raise BadPayload(f"{child.tag} too long")
        fields[child.tag] = text
    return fields


@dataclass(frozen=True)
class Inbound:
    """A message or event from one user (`openid`) to one account."""

    openid: str
    to: str
    msg_type: str          # text | image | voice | event | …
    create_time: int
    msg_id: str | None     # messages have one; events do not
    content: str = ""      # text
    media_id: str = ""     # image, voice
    recognition: str = ""  # voice, when speech recognition is on for the account
    event: str = ""        # subscribe | unsubscribe | CLICK | …
    event_key: str = ""

    @property
    def key(self) -> str:
        """What makes a delivery the same message: MsgId, or for events (which have none) the sender
        and CreateTime, as WeChat recommends for de-duplicating its retries."""
        if self.msg_id:
            return f"m:{self.openid}:{self.msg_id}"
        return f"e:{self.openid}:{self.create_time}:{self.event.lower()[:16]}"

    @property
    def client_id(self) -> str:
        """The key as a conversation-log client_id ([A-Za-z0-9_-], at most 64)."""
        if self.msg_id:
            return f"wx{self.msg_id}"
        return f"ev{self.create_time}-{re.sub(r'[^A-Za-z0-9]', '', self.event)[:16]}"


def inbound(fields: dict[str, str]) -> Inbound:
    openid = fields.get("FromUserName", "")
    if not OPENID.match(openid):
        raise BadPayload("bad FromUserName")
    msg_type = fields.get("MsgType", "").strip()
    if not re.match(r"^[a-z_]{1,32}$", msg_type):
        raise BadPayload("bad MsgType")
    try:
        create_time = int(fields.get("CreateTime", ""))
    except ValueError as exc:
        raise BadPayload("bad CreateTime") from exc
    msg_id = fields.get("MsgId", "").strip() or None
    if msg_id is not None and not re.match(r"^[0-9]{1,24}$", msg_id):
        raise BadPayload("bad MsgId")
    if msg_type != "event" and msg_id is None:
        raise BadPayload("message without MsgId")
    return Inbound(openid=openid, to=fields.get("ToUserName", ""), msg_type=msg_type, create_time=create_time,
                   msg_id=msg_id, content=fields.get("Content", ""), media_id=fields.get("MediaId", "").strip(),
                   recognition=fields.get("Recognition", ""), event=fields.get("Event", "").strip(),
                   event_key=fields.get("EventKey", "").strip())
