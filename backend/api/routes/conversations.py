"""The conversation log for agents: read a transcript, reply to the buyer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.exc import IntegrityError

from backend.api.deps import ActorDep, NowDep, SessionDep
from backend.db.models import Conversation
from backend.errors import ServiceError
from backend.gateway import events, store
from backend.schemas.conversations import AgentReplyIn, MessageOut, Transcript
from backend.schemas.handoffs import HandoffStatus
from backend.vocab import Party

router = APIRouter(tags=["conversations"])
ConversationPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[\w.:@-]+$")]
MSG_NOT_FOUND = "未找到该会话"
MSG_AGENTS_ONLY = "只有客服可以查看会话记录"
MSG_CLAIM_FIRST = "请先认领该会话的转人工，再回复买家"


def _agent(actor: ActorDep) -> str:
    if actor.role != Party.AGENT:
        raise ServiceError(403, MSG_AGENTS_ONLY)
    return actor.actor_id or ""


@router.get("/conversations/{conversation_id}/messages", response_model=Transcript)
def read_transcript(conversation_id: ConversationPath, session: SessionDep, actor: ActorDep,
                    after_seq: Annotated[int, Query(ge=0)] = 0,
                    limit: Annotated[int, Query(ge=1, le=store.HISTORY_LIMIT)] = store.HISTORY_LIMIT) -> Transcript:
    if actor.role not in (Party.AGENT, Party.MERCHANT) or actor.buyer_scope is not None:
        raise ServiceError(403, MSG_AGENTS_ONLY)
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise ServiceError(404, MSG_NOT_FOUND)
    return Transcript(conversation_id=conversation_id, channel=conversation.channel, buyer_id=conversation.buyer_id,
                      mode="agent" if store.live_handoff(session, conversation_id) else "bot",
                      messages=[store.message_out(m) for m in store.history(session, conversation_id, after_seq, limit)])


@router.post("/conversations/{conversation_id}/messages", response_model=MessageOut, status_code=201,
             summary="Reply to the buyer (a resend with the same client_id returns the first message)")
def post_agent_reply(conversation_id: ConversationPath, body: AgentReplyIn, request: Request, session: SessionDep,
                     actor: ActorDep, now: NowDep) -> MessageOut:
    agent = _agent(actor)
    if session.get(Conversation, conversation_id) is None:
        raise ServiceError(404, MSG_NOT_FOUND)
    earlier = store.find_by_client_id(session, conversation_id, body.client_id)
    if earlier is not None:
        return store.message_out(earlier)
    handoff = store.live_handoff(session, conversation_id)
    if handoff is None or handoff.status != HandoffStatus.CLAIMED.value or handoff.agent != agent:
        raise ServiceError(409, MSG_CLAIM_FIRST)
    try:
        row = store.append(session, conversation_id, "agent", now, text=body.text, client_id=body.client_id,
                           author_id=agent)
        session.commit()
    except IntegrityError:
        session.rollback()
        row = store.find_by_client_id(session, conversation_id, body.client_id)
        assert row is not None
        return store.message_out(row)
    events.publish_message(request.app.state.hub, conversation_id, row)
    return store.message_out(row)
