"""Console progress for long operator steps.

Backups of a large upload folder or database take minutes; an operator watching a silent terminal
cannot tell a slow copy from a hang, so long steps print what they do and how far they are, at most
every few seconds (cron mails stay short).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def human_size(size: int) -> str:
    """1536 → '1.5 KiB': sizes as an operator reads them."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class Progress:
    """Prints step lines to stdout and, during a long step, a throttled 'done so far' line."""

    def __init__(self, stream: TextIO | None = None, interval_seconds: float = 2.0) -> None:
        self.stream = stream or sys.stdout
        self.interval = interval_seconds
        self._last = 0.0

    def say(self, message: str) -> None:
        print(message, file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        # stderr: cron mails it and log collectors flag it, even when the command succeeds.
        print(f"WARNING: {message}", file=sys.stderr, flush=True)

    def start(self) -> None:
        self._last = time.monotonic()

    def tick(self, message: str) -> None:
        """Print `message` if the last line is older than the interval (call it as often as you like)."""
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.say(f"  … {message}")
