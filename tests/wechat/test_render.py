"""Logged messages as WeChat text (no database, no server)."""

from __future__ import annotations

import pytest

from backend.channels.wechat import render
from backend.channels.wechat.binding import BIND_HINT, Bind, BindUsage, Unbind, command


def test_a_progress_card_adds_its_deadline_and_return_address_in_china_time() -> None:
    message = {"author": "system", "text": "您的售后单 AS2611200001 有新进度：待寄回商品。\n请寄回商品",
               "custom": {"type": "progress_card", "progress": {
                   "status": "awaiting_return", "return_address": "杭州市余杭区文一西路 969 号",
                   "deadline": {"due_at": "2026-11-27T15:59:00Z", "estimated": False}}}}
    assert render.render(message, bound=True).endswith("\n\n截止时间：11月27日 23:59\n\n寄回地址：杭州市余杭区文一西路 969 号")
    message["text"] += "\n截止时间：11月27日 23:59"
    assert render.render(message, bound=True).count("截止时间") == 1


def test_a_materials_request_says_photos_can_be_sent_here() -> None:
    message = {"author": "bot", "text": "还差：问题部位照片。", "custom": {"type": "materials_request", "materials": [
        {"code": "defect_photo", "kind": "image"}]}}
    assert render.render(message, bound=True) == f"还差：问题部位照片。\n\n{render.MSG_SEND_PHOTOS}"


def test_the_login_hint_is_for_unbound_visitors_only() -> None:
    message = {"author": "bot", "text": "为了保护您的订单信息，请先登录账号后再办理售后。"}
    assert BIND_HINT in render.render(message, bound=False)
    assert BIND_HINT not in render.render(message, bound=True)


@pytest.mark.parametrize(("text", "expected"), [("1", 1), (" 12 ", 12), ("３", 3), ("0", None), ("100", None),
                                                ("1个", None), ("", None)])
def test_choices(text: str, expected: int | None) -> None:
    assert render.choice(text) == expected


def test_split_never_cuts_a_character_and_keeps_short_texts_whole() -> None:
    assert render.split("短消息", 2048) == ["短消息"]
    pieces = render.split("售" * 1000, 100)
    assert all(len(p.encode()) <= 100 for p in pieces) and "".join(pieces) == "售" * 1000


@pytest.mark.parametrize(("text", "parsed"), [
    ("绑定 2026111812345678 5678", Bind("2026111812345678", "5678")),
    ("绑定2026111812345678，5678", Bind("2026111812345678", "5678")),
    ("绑定 订单号2026111812345678 手机后四位5678", Bind("2026111812345678", "5678")),
    ("ｂｉｎｄ　２０２６１１１８１２３４５６７８　５６７８", Bind("2026111812345678", "5678")),
    ("绑定 123", BindUsage()), ("bind 2026111812345678 567", BindUsage()),
    ("解绑", Unbind()), ("解除绑定", Unbind()),
    ("怎么绑定订单", None), ("我要退货", None),
])
def test_bind_commands(text: str, parsed: object) -> None:
    assert command(text) == parsed
