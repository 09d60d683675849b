"""Exactly once: a resent message is stored and answered once; every tab sees every message; a
reconnect gets only what it lacks."""

from __future__ import annotations

from backend.gateway import store
from tests.gateway.conftest import BUYER, CONVERSATION, Gateway


def _buyer_rows(gw: Gateway) -> list[dict[str, object]]:
    return [m for m in gw.transcript() if m["author"] == "buyer"]


def test_a_resend_on_the_same_socket_gets_the_original_ack_and_nothing_else(gw: Gateway) -> None:
    with gw.buyer() as sock:
        assert sock.say("鞋子开胶了", client_id="c-1")["seq"] == 1
        sock.message_from("bot")
        again = sock.say("鞋子开胶了", client_id="c-1")
        assert again == {"type": "ack", "client_id": "c-1", "seq": 1}
        assert sock.quiet() == []  # no echo, no typing, no second answer
    assert len(gw.rasa.calls) == 1
    assert [(m["seq"], m["author"]) for m in gw.transcript()] == [(1, "buyer"), (2, "bot")]


def test_a_resend_after_a_reconnect_is_acked_with_the_original_seq_and_not_forwarded(gw: Gateway) -> None:
    with gw.buyer() as sock:
        sock.say("鞋子开胶了", client_id="c-1")
        sock.message_from("bot")
    with gw.buyer(last_seq=2) as sock:
        assert sock.history == []
        assert sock.say("鞋子开胶了", client_id="c-1") == {"type": "ack", "client_id": "c-1", "seq": 1}
        # even with other text: the client_id decides (a resend is the same message)
        assert sock.say("改过的文字", client_id="c-1")["seq"] == 1
        assert sock.quiet() == []
    assert len(gw.rasa.calls) == 1
    assert [m["text"] for m in _buyer_rows(gw)] == ["鞋子开胶了"]


def test_the_same_client_id_in_another_conversation_is_another_message(gw: Gateway) -> None:
    with gw.buyer() as mine, gw.buyer("b_2002") as theirs:
        assert mine.say("你好", client_id="c-1")["seq"] == 1
        mine.message_from("bot")
        assert theirs.say("你好", client_id="c-1")["seq"] == 1
        theirs.message_from("bot")
    assert sorted(c["sender"] for c in gw.rasa.calls) == [CONVERSATION, "web:b_2002"]


def test_every_socket_of_the_buyer_sees_the_message_and_the_reply_and_no_one_else_does(gw: Gateway) -> None:
    with gw.buyer() as phone, gw.buyer() as laptop, gw.buyer("b_2002") as stranger:
        phone.say("鞋子开胶了")
        on_phone = phone.messages(2)
        on_laptop = [laptop.next() for _ in range(4)]
        assert [f["type"] for f in on_laptop] == ["message", "typing", "typing", "message"]  # no ack: not its send
        assert [on_laptop[0]["message"], on_laptop[3]["message"]] == on_phone
        assert [(m["author"], m["text"]) for m in on_phone] == [("buyer", "鞋子开胶了"), ("bot", "收到：鞋子开胶了")]
        assert laptop.quiet() == []
        assert stranger.quiet() == []


def test_a_reconnect_gets_only_the_messages_after_last_seq(gw: Gateway) -> None:
    with gw.buyer() as sock:
        for text in ("第一句", "第二句"):
            sock.say(text)
            sock.message_from("bot")
    with gw.buyer(last_seq=0) as sock:
        assert [m["seq"] for m in sock.history] == [1, 2, 3, 4]
        assert sock.history[2]["text"] == "第二句"
    with gw.buyer(last_seq=2) as sock:
        assert [(m["seq"], m["text"]) for m in sock.history] == [(3, "第二句"), (4, "收到：第二句")]
    with gw.buyer(last_seq=4) as sock:
        assert sock.history == []
    with gw.buyer(last_seq=99) as sock:  # a client ahead of the server (another device's number) gets nothing
        assert sock.history == []


def test_history_holds_the_newest_200_messages_oldest_first(gw: Gateway) -> None:
    with gw.db() as session:
        store.ensure_conversation(session, CONVERSATION, "web", BUYER, gw.clock.now)
        for n in range(1, 206):
            store.append(session, CONVERSATION, "bot", gw.clock.now, text=f"第{n}条")
        session.commit()
    with gw.buyer() as sock:
        assert len(sock.history) == store.HISTORY_LIMIT == 200
        assert [m["seq"] for m in sock.history] == list(range(6, 206))
        assert sock.history[-1]["text"] == "第205条"
    with gw.buyer(last_seq=200) as sock:
        assert [m["seq"] for m in sock.history] == [201, 202, 203, 204, 205]
    transcript = gw.client.get(f"/api/v1/conversations/{CONVERSATION}/messages?after_seq=10&limit=3",
                               headers=gw.service).json()
    assert [m["seq"] for m in transcript["messages"]] == [203, 204, 205]


def test_messages_from_two_sockets_at_once_get_distinct_consecutive_seqs(gw: Gateway) -> None:
    with gw.buyer() as phone, gw.buyer() as laptop:
        for n in range(3):
            phone.send({"type": "message", "client_id": f"p{n}", "text": f"手机{n}"})
            laptop.send({"type": "message", "client_id": f"l{n}", "text": f"电脑{n}"})
        acks = [phone.expect("ack") for _ in range(3)] + [laptop.expect("ack") for _ in range(3)]
        phone.until(lambda f: f["type"] == "message" and f["message"]["seq"] == 12)
    seqs = sorted(a["seq"] for a in acks)
    assert len(set(seqs)) == 6
    logged = gw.transcript()
    assert [m["seq"] for m in logged] == list(range(1, 13))
    # one at a time per conversation: every buyer message is followed by its own answer
    for buyer, bot in zip(logged[::2], logged[1::2]):
        assert (buyer["author"], bot["author"]) == ("buyer", "bot") and bot["text"] == f"收到：{buyer['text']}"
