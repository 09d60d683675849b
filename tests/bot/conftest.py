"""Fixtures of the end-to-end conversations: a buyer of their own for every test."""

from __future__ import annotations

import uuid

import pytest

from tests.support.stack import Chat, Stack


@pytest.fixture
def chat(stack: Stack) -> Chat:
    """A buyer of their own, so tests never see each other's cases."""
    return Chat(stack, sender=f"web:{uuid.uuid4().hex[:12]}", buyer_id=f"b_{uuid.uuid4().hex[:10]}")


@pytest.fixture
def anonymous_chat(stack: Stack) -> Chat:
    return Chat(stack, sender=f"web:{uuid.uuid4().hex[:12]}", buyer_id=None)
