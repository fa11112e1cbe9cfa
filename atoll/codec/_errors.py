"""Errors raised by the codec."""

from __future__ import annotations

__all__ = ["CodecError"]


class CodecError(ValueError):
    """Bytes that are not a valid Atoll message, or an object that cannot be encoded.

    The message says what was wrong and where (offset, field, type id), so a
    malformed or hostile message from another party can be reported precisely.
    Decoding raises nothing else for bad input.
    """
