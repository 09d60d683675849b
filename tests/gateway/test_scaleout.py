"""Several backend workers (production mode): two apps on one database and one Redis stand for two
uvicorn workers. A buyer's socket on one and an agent's console on the other must see each other's
messages; the rate limit and the per-conversation order hold across both; conversations stick to one
Rasa instance and move to another only when theirs refuses the connection."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from backend.db.models import Base
from backend.gateway.hub import Hub
from backend.gateway.locks import ConversationLocks
from backend.gateway.rasa import RasaPool, RasaUnavailable
from backend.gateway.rate_limits import RedisRateLimiter
from backend.gateway.redis_hub import RedisHub
from backend.gateway.relay import Ack
from backend.gateway.tokens import Visitor
from backend.main import create_app
from backend.schemas.conversations import MessageFrame
from tests.gateway.conftest import CONVERSATION, MESSAGE_BURST, Gateway, GatewayApp, gateway_settings
from tests.gateway.helpers import FakeRasa
from tests.support.api import NOW, Api, Clock

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key and channel prefix of this test's own: other runs may share the machine's Redis."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def two_workers(gateway_app: GatewayApp, fake_rasa: FakeRasa, prefix: str) -> Iterator[tuple[Gateway, Gateway]]:
    """Two apps sharing the gateway tests' database, with Redis: worker A and worker B."""
    with gateway_app.client.app.state.engine.begin() as conn:  # type: ignore[attr-defined]
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    fake_rasa.reset()
    settings = gateway_settings(gateway_app.url, gateway_app.tmp, fake_rasa.url, REDIS_URL=REDIS_URL,
                                REDIS_PREFIX=prefix)
    clock = Clock()
    clock.now = NOW
    with TestClient(create_app(settings, clock=clock)) as a, TestClient(create_app(settings, clock=clock)) as b:
        assert isinstance(a.app.state.hub, RedisHub)  # type: ignore[attr-defined]
        yield (Gateway(Api(a, clock, settings), fake_rasa, gateway_app),
               Gateway(Api(b, clock, settings), fake_rasa, gateway_app))


def test_an_agent_on_one_worker_and_a_buyer_on_another_hear_each_other(two_workers: tuple[Gateway, Gateway]) -> None:
    a, b = two_workers
    alice = b.agent("alice", display_name="小艾")
    with a.buyer() as buyer:
        buyer.say("鞋子开胶了")
        assert buyer.message_from("bot")["text"] == "收到：鞋子开胶了"
        handoff = b.open_handoff(reason="complaint")  # the bot's handoff, served by worker B
        assert buyer.expect("mode")["mode"] == "agent"
        with b.console(alice, watch=CONVERSATION) as console:
            assert b.claim(handoff["handoff_id"], alice).status_code == 200
            assert buyer.message_from("system")["text"] == "人工客服 小艾 已接入，正在查看您的问题。"
            assert b.reply("您好，我来看看", alice).status_code == 201
            assert buyer.message_from("agent")["text"] == "您好，我来看看"
            buyer.say("图片已经发了")
            heard, _ = console.until(lambda f: f.get("type") == "message" and f["message"]["author"] == "buyer"
                                  and f["message"]["text"] == "图片已经发了")
            assert heard["conversation_id"] == CONVERSATION
    assert [c["message"] for c in a.rasa.calls] == ["鞋子开胶了"]  # nothing forwarded during the handoff
    texts = [(m["author"], m["text"]) for m in a.transcript()]
    assert texts.count(("buyer", "图片已经发了")) == 1 and texts.count(("agent", "您好，我来看看")) == 1


def test_readiness_says_whether_the_worker_hears_the_others(two_workers: tuple[Gateway, Gateway]) -> None:
    a, _ = two_workers
    ready = a.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["hub"] == "redis connected"
    a.app.state.hub.connected = False  # what the listener records when Redis drops
    assert a.client.get("/readyz").json()["hub"] == "redis disconnected"


def test_the_message_allowance_is_shared_by_the_workers(two_workers: tuple[Gateway, Gateway]) -> None:
    a, b = two_workers
    token = a.token()
    with a.buyer(token=token) as on_a, b.buyer(token=token) as on_b:
        for i in range(MESSAGE_BURST):
            sock = on_a if i % 2 == 0 else on_b
            assert sock.say(f"第{i}条", client_id=f"m-{i}")["type"] == "ack"
        refused = on_b.say("再来一条", client_id="m-over")
    assert refused["type"] == "error" and refused["code"] == "too_fast"
    assert len(a.rasa.calls) == MESSAGE_BURST


def test_both_tabs_of_one_buyer_get_every_message_in_one_order(two_workers: tuple[Gateway, Gateway]) -> None:
    a, b = two_workers
    token = a.token()
    with a.buyer(token=token) as on_a, b.buyer(token=token) as on_b:
        for i in range(6):
            (on_a if i % 2 == 0 else on_b).say(f"消息{i}", client_id=f"t-{i}")
        seen_a = [m["seq"] for m in on_a.messages(12)]
        seen_b = [m["seq"] for m in on_b.messages(12)]
    assert seen_a == seen_b == list(range(1, 13))
    log = a.transcript()
    # Every buyer message is followed by its own answer: the conversation was never interleaved.
    pairs = [(log[i]["text"], log[i + 1]["text"]) for i in range(0, 12, 2)]
    assert pairs == [(f"消息{i}", f"收到：消息{i}") for i in range(6)]


def test_a_publish_from_a_request_thread_reaches_the_other_worker_in_order(prefix: str) -> None:
    async def scenario() -> list[dict[str, int]]:
        one, two = RedisHub(REDIS_URL, prefix), RedisHub(REDIS_URL, prefix)
        await one.start()
        await two.start()
        try:
            sub = two.subscribe("conv:web:b_1")
            await asyncio.to_thread(lambda: [one.publish("conv:web:b_1", {"n": n}) for n in range(50)])
            one.publish("conv:web:other", {"n": -1})  # another topic: not for this subscriber
            got = [await asyncio.wait_for(sub.get(), 5) for _ in range(50)]
            await asyncio.sleep(0.2)
            assert sub.queue.empty()
            return got  # type: ignore[return-value]
        finally:
            await one.stop()
            await two.stop()

    assert asyncio.run(scenario()) == [{"n": n} for n in range(50)]


def test_an_unstarted_redis_hub_delivers_in_process_like_the_plain_hub() -> None:
    async def scenario() -> dict[str, str] | None:
        hub = RedisHub("redis://127.0.0.1:9/0")  # never started: tests and the CLI
        sub = hub.subscribe("agents")
        hub.publish("agents", {"type": "queue"})
        return await asyncio.wait_for(sub.get(), 1)

    assert asyncio.run(scenario()) == {"type": "queue"}
    assert issubclass(RedisHub, Hub)


def test_a_redis_hub_that_cannot_reach_redis_refuses_to_start() -> None:
    async def scenario() -> None:
        await RedisHub("redis://127.0.0.1:9/0").start(timeout=1.0)

    with pytest.raises(RuntimeError, match="did not answer"):
        asyncio.run(scenario())


def test_the_redis_rate_limit_is_one_allowance_for_every_worker(prefix: str) -> None:
    one, two = redis.Redis.from_url(REDIS_URL), redis.Redis.from_url(REDIS_URL)
    first, second = (RedisRateLimiter(c, "messages", 3, 1.0, prefix) for c in (one, two))
    assert [first.allow("web:b_1"), second.allow("web:b_1"), first.allow("web:b_1")] == [True, True, True]
    assert second.allow("web:b_1") is False and first.allow("web:b_1") is False
    assert first.allow("web:b_2") is True  # per buyer
    time.sleep(1.05)
    assert second.allow("web:b_1") is True  # the window slid on
    down = RedisRateLimiter(redis.Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2), "m", 1, 1.0)
    assert down.allow("x") and down.allow("x")  # Redis gone: let through rather than silence buyers
    one.close()
    two.close()


def test_the_conversation_lock_holds_across_workers(prefix: str) -> None:
    async def scenario() -> list[str]:
        clients = [aioredis.from_url(REDIS_URL) for _ in range(2)]
        one, two = (ConversationLocks(c, hold_seconds=5, prefix=prefix) for c in clients)
        order: list[str] = []

        async def turn(locks: ConversationLocks, name: str, delay: float) -> None:
            await asyncio.sleep(delay)
            async with locks.hold("web:b_1"):
                order.append(f"{name} in")
                await asyncio.sleep(0.3)
                order.append(f"{name} out")

        async def other_conversation() -> None:
            await asyncio.sleep(0.1)
            async with two.hold("web:b_2"):
                order.append("b_2")

        await asyncio.gather(turn(one, "A", 0), turn(two, "B", 0.05), other_conversation())
        for client in clients:
            await client.aclose()
        return order

    assert asyncio.run(scenario()) == ["A in", "b_2", "A out", "B in", "B out"]


def test_a_conversation_sticks_to_one_rasa_and_moves_only_when_it_refuses_connections() -> None:
    first, second = FakeRasa(), FakeRasa()
    try:
        async def scenario() -> None:
            pool = RasaPool([first.url, second.url], None, 1.0)
            senders = [f"web:b_{i}" for i in range(40)]
            for sender in senders:
                await pool.send(sender, "你好", {})
            by_first = {c["sender"] for c in first.calls}
            by_second = {c["sender"] for c in second.calls}
            assert by_first and by_second and not by_first & by_second  # spread, each on one instance
            for sender in senders:  # the same instance again
                await pool.send(sender, "还在吗", {})
            assert {c["sender"] for c in first.calls} == by_first
            home = next(iter(by_first))
            first.fail(status=500)  # an answer, even a bad one: never sent twice
            with pytest.raises(RasaUnavailable):
                await pool.send(home, "一", {})
            assert home not in {c["sender"] for c in second.calls}
            first.fail(status=200, delay=1.5)  # too slow: it may still be answering, so no second try
            with pytest.raises(RasaUnavailable):
                await pool.send(home, "二", {})
            assert home not in {c["sender"] for c in second.calls}
            first.close()  # refused: the next instance takes it (the tracker store is shared)
            first.close = lambda: None  # type: ignore[method-assign]
            assert [r["text"] for r in await pool.send(home, "三", {})] == ["收到：三"]
            assert [c["message"] for c in second.calls if c["sender"] == home] == ["三"]
            await pool.aclose()

        asyncio.run(scenario())
    finally:
        second.close()


def test_rasa_url_may_name_several_instances(gateway_app: GatewayApp) -> None:
    settings = gateway_settings(gateway_app.url, gateway_app.tmp, " http://a:5005, http://b:5006 ,", )
    assert settings.rasa_urls == ["http://a:5005", "http://b:5006"]


def test_a_message_whose_socket_closed_before_the_ack_is_answered_all_the_same(gw: Gateway) -> None:
    """Found by the load test: the ack failed, the bot was never asked, and the resend was taken for
    an already answered message, so the buyer never got an answer."""
    relay = gw.app.state.relay
    visitor = Visitor(channel="web", user="b_1001", buyer_id="b_1001")

    async def socket_gone(ack: Ack) -> None:
        raise WebSocketDisconnect(1006)

    async def scenario() -> None:
        await relay.open(visitor, 0)
        frame = MessageFrame.model_validate({"type": "message", "client_id": "lost-ack", "text": "退货运费谁出"})
        await relay.buyer_message(visitor, frame, socket_gone)

    asyncio.run(scenario())
    assert [c["message"] for c in gw.rasa.calls] == ["退货运费谁出"]
    assert [(m["author"], m["text"]) for m in gw.transcript()] == [("buyer", "退货运费谁出"), ("bot", "收到：退货运费谁出")]
    with gw.buyer(last_seq=0) as sock:  # the reconnecting tab resends: acknowledged, not asked again
        assert sock.history[-1]["text"] == "收到：退货运费谁出"
        assert sock.say("退货运费谁出", client_id="lost-ack") == {"type": "ack", "client_id": "lost-ack", "seq": 1}
    assert len(gw.rasa.calls) == 1
