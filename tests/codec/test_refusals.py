"""Decoding refuses malformed or hostile bytes with a CodecError that says what and where."""

from __future__ import annotations

import dataclasses
import struct

import msgpack
import numpy as np
import pytest

from atoll.codec import CodecError, Limits, allow_secrets, decode, encode, message

from ._strategies import Point

HEADER = struct.Struct("<3sBIQ")


def frame(body: bytes, buffers: list[bytes] = (), version: int = 1) -> bytes:
    lengths = b"".join(struct.pack("<Q", len(b)) for b in buffers)
    return (
        HEADER.pack(b"ATL", version, len(buffers), len(body)) + lengths + body + b"".join(buffers)
    )


def ext(code: int, payload: object) -> bytes:
    return msgpack.packb(msgpack.ExtType(code, msgpack.packb(payload)))


@message(type_id=92, secret=True)
@dataclasses.dataclass
class Secret:
    p: int


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "truncated"),
        (b"ATL", "truncated"),
        (b"PK\x03\x04" + bytes(20), "bad magic"),
        (frame(msgpack.packb(1), version=9), "version 9"),
        (frame(msgpack.packb([1, 2]))[:-1], "truncated"),
        (frame(msgpack.packb(1)) + b"\x00", "trailing bytes"),
        (frame(msgpack.packb(1) + b"\x01"), "trailing bytes after the value"),
        (frame(b"\xa3\xff\xfe\xfd"), "invalid UTF-8"),
        (frame(msgpack.packb(msgpack.ExtType(77, b""))), "unknown extension type 77"),
        (frame(ext(6, [12345, []])), "unknown message type id 12345"),
        (frame(ext(3, ["|O", [1], False, b"\x00" * 8])), "dtype '|O'"),
        (frame(ext(3, ["<f8", [2], False, b"\x00" * 8])), "needs 16 bytes"),
        (frame(ext(3, ["<f8", [-1], False, b""])), "shape"),
        (frame(ext(3, ["<f8", [1], False, 3])), "bad data reference"),
        (frame(ext(5, [512, 2, False, b"\x00" * 10])), "does not match"),
        (frame(ext(5, [512, 0, 1, b""])), "sign flag"),
        (frame(ext(6, [90, [1]])), "expected 3 fields"),
        (frame(ext(6, [90, ["one", 2.0, None]])), r"Point.x: expected int, got str"),
        (frame(b"\x91" * 5000 + b"\xc0"), "nesting"),
        (HEADER.pack(b"ATL", 1, 0, 2**40) + b"\x00", "exceeds the limit|truncated"),
        (HEADER.pack(b"ATL", 1, 2**31, 0), "buffer count"),
        (frame(b"\xdd\xff\xff\xff\xff"), "malformed"),  # array of 4 billion items, no data
        (frame(b"\xc6\x7f\xff\xff\xff"), "malformed"),  # 2 GiB bin, no data
    ],
)
def test_malformed_input_is_refused(data, match):
    with pytest.raises(CodecError, match=match):
        decode(data)


def test_nested_tuples_beyond_the_limit_are_refused():
    value: object = 1
    for _ in range(20):
        value = (value,)
    data = encode(value)
    assert decode(data, limits=Limits(max_depth=25)) == value
    with pytest.raises(CodecError, match="deeper than the limit of 10"):
        decode(data, limits=Limits(max_depth=10))


def test_message_size_limit_is_configurable():
    data = encode(np.zeros(1000))
    with pytest.raises(CodecError, match="exceeds the limit of 100"):
        decode(data, limits=Limits(max_message_bytes=100))


def test_decode_refuses_non_bytes():
    with pytest.raises(CodecError, match="needs bytes"):
        decode("ATL")  # type: ignore[arg-type]


def test_secret_messages_need_explicit_export():
    with pytest.raises(CodecError, match="holds a secret"):
        encode(Secret(7))
    with pytest.raises(CodecError, match="holds a secret"):
        encode({"k": [Secret(2**3000)]})  # also inside containers and with big ints
    with allow_secrets():
        data = encode(Secret(7))
    assert decode(data) == Secret(7)
    with pytest.raises(CodecError):
        encode(Secret(7))  # the permission ends with the block


def test_registration_checks_annotations_and_ids():
    with pytest.raises(TypeError, match="not a codec type"):

        @message(type_id=93)
        @dataclasses.dataclass
        class Bad:
            x: set[int]

    with pytest.raises(ValueError, match="taken by"):

        @message(type_id=90)
        @dataclasses.dataclass
        class Clash:
            x: int

    with pytest.raises(TypeError, match="needs a dataclass"):
        message(type_id=94)(int)


def test_message_post_init_validation_runs_on_decode():
    @message(type_id=95)
    @dataclasses.dataclass
    class Positive:
        n: int

        def __post_init__(self) -> None:
            if self.n <= 0:
                raise ValueError("n must be positive")

    data = frame(ext(6, [95, [-1]]))
    with pytest.raises(CodecError, match="n must be positive"):
        decode(data)
    assert decode(encode(Point(1, 2.0))) == Point(1, 2.0)
