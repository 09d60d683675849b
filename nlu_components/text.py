"""Text normalisation the NLU applies before anything else sees a message.

Buyers write traditional or simplified Chinese, with full-width digits and letters from Chinese
input methods; the model is trained on simplified, half-width text.
"""

from __future__ import annotations

from functools import lru_cache

FULL_WIDTH_OFFSET = 0xFEE0  # U+FF01..U+FF5E are U+0021..U+007E shifted by this


@lru_cache(maxsize=1)
def _t2s():  # type: ignore[no-untyped-def]
    from opencc import OpenCC

    return OpenCC("t2s")


def to_half_width(text: str) -> str:
    return "".join(
        chr(ord(c) - FULL_WIDTH_OFFSET) if 0xFF01 <= ord(c) <= 0xFF5E else (" " if c == "\u3000" else c)
        for c in text
    )


def normalise(text: str) -> str:
    """Traditional → simplified, full-width → half-width, zero-width characters removed."""
    text = text.replace("\u200b", "").replace("\ufeff", "")
    return _t2s().convert(to_half_width(text))
