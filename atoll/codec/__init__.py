"""The safe wire codec: the only way bytes cross a site boundary.

Everything one party sends to another, or stores for another to read, is
encoded here, and nothing else decodes such bytes. There is no pickle, marshal,
eval or import by name: the decoder knows a fixed set of types plus the
dataclasses that modules register with :func:`message`, and refuses everything
else with :class:`CodecError`.

>>> from atoll.codec import decode, encode
>>> decode(encode({"w": [1.5, -2.0], "c": 2**2048 + 1}))["c"] == 2**2048 + 1
True
"""

from atoll.codec._errors import CodecError
from atoll.codec._registry import allow_secrets, message
from atoll.codec._wire import FORMAT_VERSION, Limits, decode, encode

__all__ = ["FORMAT_VERSION", "CodecError", "Limits", "allow_secrets", "decode", "encode", "message"]
