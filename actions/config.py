"""Action server settings, from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class ActionSettings:
    backend_url: str
    api_token: str
    timeout_seconds: float
    retries: int


@lru_cache
def get_settings() -> ActionSettings:
    return ActionSettings(
        backend_url=os.environ.get("CASE_BACKEND_URL", "http://127.0.0.1:8000").rstrip("/"),
        api_token=os.environ.get("CASE_API_TOKEN", "dev-service-token"),
        # Well under Rasa's own 300 s wait for the action server: a slow backend gets a polite
        # message in seconds, not a silent bot.
        timeout_seconds=float(os.environ.get("CASE_BACKEND_TIMEOUT", "5")),
        retries=int(os.environ.get("CASE_BACKEND_RETRIES", "2")),
    )
