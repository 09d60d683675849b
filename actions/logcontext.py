"""Every log line of the action server names its conversation (the tracker's sender_id) and is redacted.

rasa_sdk offers no hook around an action and our actions share no base class, so the one place that
sees every call is `ActionExecutor.run`: `install()` wraps it once to bind the sender id for the
duration of the call. That covers rasa_sdk's own lines about the action as well as ours, and needs no
change to any action. The formatters and the redaction are the backend's
(`backend.observability.logs`, standard library only), so both processes write the same lines;
LOG_FORMAT=json selects JSON, as in the backend.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import Any

from rasa_sdk.executor import ActionExecutor

from backend.observability.logs import RedactionFilter, log_context, make_formatter

_MARK = "_aftersales_log_context"


def sender_of(action_call: dict[str, Any]) -> str | None:
    sender = action_call.get("sender_id") or (action_call.get("tracker") or {}).get("sender_id")
    return str(sender) if sender else None


def install_executor_hook() -> None:
    """Wrap ActionExecutor.run (idempotent: a reloaded actions package does not wrap it twice)."""
    run = ActionExecutor.run
    if getattr(run, _MARK, False):
        return

    @functools.wraps(run)
    async def run_with_conversation(self: ActionExecutor, action_call: dict[str, Any], *args: Any,
                                    **kwargs: Any) -> Any:
        with log_context(conversation_id=sender_of(action_call)):
            return await run(self, action_call, *args, **kwargs)

    setattr(run_with_conversation, _MARK, True)
    ActionExecutor.run = run_with_conversation  # type: ignore[method-assign]


def configure_handlers(fmt: str | None = None) -> None:
    """Our formatter and the redaction filter on the root handlers (rasa_sdk installs a coloredlogs
    handler before it imports the actions; a Sanic worker process may have none, so add one)."""
    formatter = make_formatter((fmt or os.environ.get("LOG_FORMAT", "text")).strip().lower())  # type: ignore[arg-type]
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
        root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    for handler in root.handlers:
        handler.setFormatter(formatter)
        if not any(isinstance(f, RedactionFilter) for f in handler.filters):
            handler.addFilter(RedactionFilter())


def running_action_server() -> bool:
    """True under `python -m rasa_sdk`, not when tests import the actions. Sanic's worker processes
    (ACTION_SERVER_SANIC_WORKERS > 1) are spawned without the module spec but inherit sys.argv."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name.split(".")[0] == "rasa_sdk":
        return True
    return sys.argv[0].replace("\\", "/").endswith("rasa_sdk/__main__.py")


def install() -> None:
    install_executor_hook()
    if running_action_server():
        configure_handlers()
