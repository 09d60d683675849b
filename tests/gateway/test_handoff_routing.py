"""While a person has the conversation: buyer messages go to the console, not to Rasa; only the agent
who claimed it replies; handing back resumes the bot before the buyer's next message."""

from __future__ import annotations

import asyncio

from backend.gateway.events import MSG_AGENT_JOINED, MSG_HANDED_BACK
from backend.gateway.rasa import RasaClient
from backend.gateway.relay import MSG_BOT_DOWN
from tests.gateway.conftest import CONVERSATION, Gateway

CLAIM_FIRST = {"detail": "请先认领该会话的转人工，再回复买家"}


def test_a_handoff_opened_by_the_bot_puts_the_buyer_in_agent_mode_and_stops_forwarding(gw: Gateway) -> None:
    with gw.buyer() as sock:
        sock.say("我要投诉")
        sock.message_from("bot")
        gw.open_handoff(reason="complaint")
        assert sock.next() == {"type": "mode", "conversation_id": CONVERSATION, "mode": "agent"}
        assert sock.say("有人吗", client_id="c-2") == {"type": "ack", "client_id": "c-2", "seq": 3}
        assert sock.next()["message"]["text"] == "有人吗"
        assert sock.quiet() == []  # no typing, no bot answer
    assert [c["message"] for c in gw.rasa.calls] == ["我要投诉"]
    transcript = gw.client.get(f"/api/v1/conversations/{CONVERSATION}/messages", headers=gw.service).json()
    assert transcript["mode"] == "agent"
    assert [m["text"] for m in transcript["messages"]][-1] == "有人吗"


def test_only_the_agent_who_claimed_the_handoff_may_reply(gw: Gateway) -> None:
    alice, bob = gw.agent("alice", display_name="小艾"), gw.agent("bob")
    handoff = gw.open_handoff()
    with gw.buyer() as sock:
        assert sock.welcome["mode"] == "agent"
        assert gw.reply("您好", alice).status_code == 409  # not claimed yet
        assert gw.reply("您好", alice).json() == CLAIM_FIRST

        claimed = gw.claim(handoff["handoff_id"], alice)
        assert claimed.status_code == 200
        assert (claimed.json()["status"], claimed.json()["agent"]) == ("claimed", "alice")
        joined = sock.expect("message")["message"]
        # The buyer is shown the agent's display name, never the login name.
        assert (joined["author"], joined["text"]) == ("system", MSG_AGENT_JOINED.format(name="小艾"))
        assert joined["text"] == "人工客服 小艾 已接入，正在查看您的问题。"
        assert sock.next() == {"type": "mode", "conversation_id": CONVERSATION, "mode": "agent"}

        assert gw.claim(handoff["handoff_id"], alice).status_code == 200  # claiming twice is harmless
        taken = gw.claim(handoff["handoff_id"], bob)
        assert taken.status_code == 409 and taken.json() == {"detail": "该会话已被其他客服认领"}
        assert gw.reply("我来", bob).status_code == 409
        assert gw.reply("我来", gw.service).status_code == 403  # the service token is no agent
        assert gw.reply("我来", gw.api.buyer()).status_code == 403
        assert gw.claim(handoff["handoff_id"], gw.service).status_code == 403
        assert gw.reply("我来", {}).status_code == 401

        sent = gw.reply("您好，我是客服小艾", alice, client_id="r-1")
        assert sent.status_code == 201
        reply = sent.json()
        assert (reply["author"], reply["author_id"], reply["text"]) == ("agent", "alice", "您好，我是客服小艾")
        assert sock.expect("message")["message"] == reply  # live on the buyer's socket

        resent = gw.reply("您好，我是客服小艾", alice, client_id="r-1")
        assert resent.status_code == 201 and resent.json()["seq"] == reply["seq"]
        assert sock.quiet() == []  # not delivered twice
    assert gw.rasa.calls == []
    with gw.buyer(last_seq=joined["seq"]) as sock:  # a buyer who was offline sees it on return
        assert [m["text"] for m in sock.history] == ["您好，我是客服小艾"]


def test_the_console_socket_hears_of_the_queue_and_of_watched_conversations(gw: Gateway) -> None:
    alice = gw.agent("alice")
    with gw.console(alice) as console, gw.buyer() as buyer:
        handoff = gw.open_handoff()
        assert console.next() == {"type": "queue_changed"}
        console.send({"type": "watch", "conversation_id": CONVERSATION})
        console.sync()

        buyer.say("有人吗")
        # Watched, and with a live handoff: once for the watch, once for every console (consoles
        # de-duplicate by seq).
        heard = [console.next() for _ in range(2)]
        assert heard[0] == heard[1]
        assert heard[0]["conversation_id"] == CONVERSATION and heard[0]["message"]["text"] == "有人吗"

        gw.claim(handoff["handoff_id"], alice)
        frames = [console.next() for _ in range(3)]
        assert [f["type"] for f in frames] == ["message", "mode", "queue_changed"]
        assert frames[0]["message"]["author"] == "system"

        gw.reply("您好", alice)
        assert console.expect("message")["message"]["author"] == "agent"
        assert console.quiet() == []


def test_the_console_socket_refuses_bad_frames_and_keeps_working(gw: Gateway) -> None:
    with gw.console(gw.agent("alice")) as console:
        for frame in ('{"type": "dance"}', "not json", '{"type": "watch"}', '{"type": "watch", "conversation_id": ""}',
                      "[]"):
            console.send(frame)
            assert console.next() == {"type": "error", "code": "bad_frame", "message": "消息格式不正确"}
        console.sync()


def test_the_console_socket_gets_buyer_messages_of_live_handoffs_without_watching(gw: Gateway) -> None:
    with gw.console(gw.agent("alice")) as console, gw.buyer() as buyer:
        buyer.say("你好")
        buyer.message_from("bot")
        assert console.quiet() == []  # the bot has it: only watching consoles see it

        handoff = gw.open_handoff()
        assert console.next() == {"type": "queue_changed"}
        buyer.say("有人吗")
        said = buyer.message_from("buyer")
        assert console.next(timeout=1) == {"type": "message", "conversation_id": CONVERSATION, "message": said}
        assert console.quiet() == []  # once: it does not watch

        gw.client.post(f"/api/v1/handoffs/{handoff['handoff_id']}/close", headers=gw.service)
        assert console.next() == {"type": "queue_changed"}
        buyer.say("好的")
        buyer.message_from("bot")
        assert console.quiet() == []  # handed back: the bot's again


def test_a_console_watching_a_bot_conversation_sees_it_too(gw: Gateway) -> None:
    with gw.console(gw.agent("alice"), watch=CONVERSATION) as console, gw.buyer() as buyer:
        buyer.say("你好")
        seen = [console.next() for _ in range(4)]
        assert [(f["type"], f["conversation_id"]) for f in seen] == [
            ("message", CONVERSATION), ("typing", CONVERSATION), ("typing", CONVERSATION), ("message", CONVERSATION)]
        assert [seen[0]["message"]["author"], seen[3]["message"]["author"]] == ["buyer", "bot"]
        # Typing frames name their conversation: a console watches several.
        assert seen[1:3] == [{"type": "typing", "on": True, "conversation_id": CONVERSATION},
                             {"type": "typing", "on": False, "conversation_id": CONVERSATION}]
        assert console.quiet() == []


def test_handing_back_tells_the_buyer_and_resumes_the_bot_before_the_next_message(gw: Gateway) -> None:
    alice = gw.agent("alice")
    with gw.buyer() as sock:
        sock.say("人工")
        sock.message_from("bot")
        handoff = gw.open_handoff()
        gw.claim(handoff["handoff_id"], alice)
        assert sock.expect("mode")["mode"] == "agent"
        assert sock.expect("mode")["mode"] == "agent"  # opened, then claimed
        with gw.console(alice, watch=CONVERSATION) as console:
            closed = gw.client.post(f"/api/v1/handoffs/{handoff['handoff_id']}/close", headers=alice)
            assert closed.status_code == 200 and closed.json()["status"] == "closed"
            assert [console.next()["type"] for _ in range(3)] == ["message", "mode", "queue_changed"]
        told = sock.next()["message"]
        assert (told["author"], told["text"]) == ("system", MSG_HANDED_BACK)
        assert sock.next() == {"type": "mode", "conversation_id": CONVERSATION, "mode": "bot"}
        assert gw.rasa.resumes == []  # not until the buyer speaks again

        sock.say("谢谢，还有个问题")
        assert sock.message_from("bot")["text"] == "收到：谢谢，还有个问题"
        assert gw.rasa.log == [("message", CONVERSATION), ("resume", CONVERSATION), ("message", CONVERSATION)]
        # Resumed, and the paused turn closed with action_listen so the policies see a finished turn.
        assert gw.rasa.resumes == [{"conversation_id": CONVERSATION, "token": None,
                                    "event": [{"event": "resume"}, {"event": "action", "name": "action_listen"}]}]

        sock.say("再问一句")
        sock.message_from("bot")
        assert len(gw.rasa.resumes) == 1  # resumed once
    assert gw.client.get(f"/api/v1/handoffs/{handoff['handoff_id']}", headers=gw.service).json()["closed_at"]
    assert gw.handoffs("open", "claimed")["total"] == 0


def test_a_failed_resume_is_retried_with_the_next_message(gw: Gateway) -> None:
    with gw.buyer() as sock:
        handoff = gw.open_handoff()
        gw.client.post(f"/api/v1/handoffs/{handoff['handoff_id']}/close", headers=gw.service)
        sock.until(lambda f: f.get("mode") == "bot")
        gw.rasa.resume_status = 500
        sock.say("在吗")
        assert sock.message_from("bot", "system")["text"] == MSG_BOT_DOWN
        assert gw.rasa.calls == []  # not sent to a bot that is still paused
        gw.rasa.resume_status = 200
        sock.say("在吗？")
        assert sock.message_from("bot", "system")["text"] == "收到：在吗？"
    assert [kind for kind, _ in gw.rasa.log] == ["resume", "resume", "message"]


def test_a_new_handoff_after_hand_back_pauses_the_bot_again(gw: Gateway) -> None:
    with gw.buyer() as sock:
        first = gw.open_handoff()
        gw.client.post(f"/api/v1/handoffs/{first['handoff_id']}/close", headers=gw.service)
        sock.say("一")
        sock.message_from("bot")
        second = gw.open_handoff()
        assert second["handoff_id"] != first["handoff_id"]
        sock.say("二")
        sock.message_from("buyer")
        gw.client.post(f"/api/v1/handoffs/{second['handoff_id']}/close", headers=gw.service)
        sock.say("三")
        sock.message_from("bot")
    assert [kind for kind, _ in gw.rasa.log] == ["resume", "message", "resume", "message"]
    assert [c["message"] for c in gw.rasa.calls] == ["一", "三"]


def test_the_resume_call_carries_the_rasa_token_and_an_encoded_sender(gw: Gateway) -> None:
    async def resume() -> None:
        client = RasaClient(gw.rasa.url + "/", "s3cret-token", 1.0)
        try:
            await client.resume("wechat:o_ab/c d")
        finally:
            await client.aclose()
    asyncio.run(resume())
    assert gw.rasa.resumes == [{"conversation_id": "wechat:o_ab/c d", "token": "s3cret-token",
                                "event": [{"event": "resume"}, {"event": "action", "name": "action_listen"}]}]


def test_a_handoff_for_a_conversation_the_gateway_never_saw_still_works(gw: Gateway) -> None:
    """The bot's own tests talk to Rasa directly: their handoffs have no log here."""
    alice = gw.agent("alice")
    handoff = gw.open_handoff("rest:tester", buyer_id=None)
    assert gw.claim(handoff["handoff_id"], alice).status_code == 200
    assert gw.reply("您好", alice, conversation_id="rest:tester").status_code == 404
    closed = gw.client.post(f"/api/v1/handoffs/{handoff['handoff_id']}/close", headers=alice)
    assert closed.status_code == 200
