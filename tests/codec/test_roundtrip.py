"""Round-trip properties: decode(encode(x)) is x, for every type, nested."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atoll.codec import CodecError, decode, encode

from ._strategies import (
    Batch,
    Point,
    arrays,
    assert_same,
    big_int_lists,
    fortran_arrays,
    ints,
    values,
)


@given(values)
@settings(max_examples=400)
def test_roundtrip_any_nested_value(value):
    assert_same(value, decode(encode(value)))


@given(values)
def test_encoding_is_deterministic(value):
    assert encode(value) == encode(decode(encode(value)))


@given(ints)
def test_ints_of_any_size(n):
    assert_same(n, decode(encode(n)))


@given(arrays)
def test_arrays_keep_dtype_shape_and_are_writable(arr):
    out = decode(encode(arr))
    assert_same(arr, out)
    assert out.flags.writeable


@given(fortran_arrays)
def test_fortran_order_is_kept(arr):
    assert_same(arr, decode(encode(arr)))


@given(big_int_lists)
def test_big_int_lists_use_fixed_width(items):
    data = encode(items)
    assert decode(data) == items
    width = max(
        (max(items).bit_length() + 8) // 8,
        ((-min(items) - 1).bit_length() + 8) // 8 if min(items) < 0 else 1,
    )
    # fixed width per element plus a small, size-independent overhead
    assert len(data) <= width * len(items) + 64


def test_big_int_list_is_compact_for_paillier_ciphertexts():
    n2 = 2**4096 - 159
    items = [pow(7, 1000 + i, n2) for i in range(2000)]
    data = encode(items)
    assert len(data) < 2000 * 513 + 100  # 4096-bit values: 512 bytes + sign byte at most
    assert decode(data) == items


def test_non_contiguous_array_is_encoded_as_its_values():
    arr = np.arange(100.0).reshape(10, 10)[::2, 1::3]
    assert_same(np.ascontiguousarray(arr), decode(encode(arr)))


def test_large_array_zero_copy_view():
    arr = np.random.default_rng(0).random(100_000)
    data = encode(arr)
    view = decode(data, zero_copy=True)
    assert np.array_equal(view, arr)
    assert not view.flags.writeable  # a view into immutable bytes
    assert decode(bytearray(data), zero_copy=True).flags.writeable


def test_registered_messages_roundtrip():
    batch = Batch(
        points=[Point(1, 2.5), Point(-(2**90), float("inf"), "é")],
        weights=np.linspace(0, 1, 7),
        meta={"epoch": 3, "big": [2**300, 1]},
        pair=(5, b"\x00\xff"),
    )
    assert_same(batch, decode(encode(batch)))


def test_tuples_and_lists_stay_distinct():
    value = [(1, [2, (3,)]), [(), []]]
    out = decode(encode(value))
    assert out == value and type(out[0]) is tuple and type(out[1][0]) is tuple


def test_bytearray_and_memoryview_encode_as_bytes():
    assert decode(encode([bytearray(b"ab"), memoryview(b"cd")])) == [b"ab", b"cd"]


@given(st.lists(st.integers(min_value=-(2**63), max_value=2**64 - 1)))
def test_small_int_lists_stay_plain(items):
    assert decode(encode(items)) == items


@pytest.mark.parametrize(
    "value",
    [object(), {1, 2}, np.array(["a"]), np.array([object()]), np.datetime64("2020-01-01"), 1 + 2j],
    ids=["object", "set", "str-array", "object-array", "datetime", "complex"],
)
def test_unsupported_types_are_refused_by_name(value):
    with pytest.raises(CodecError) as info:
        encode(value)
    assert "encode" in str(info.value)


def test_unregistered_dataclass_is_refused_with_advice():
    import dataclasses

    @dataclasses.dataclass
    class Loose:
        x: int

    with pytest.raises(CodecError, match=r"registered with @atoll\.codec\.message"):
        encode(Loose(1))
