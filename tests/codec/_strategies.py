"""Hypothesis strategies for every type the codec carries, and a strict equality."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from atoll.codec import message

DTYPES = [
    "?",
    "i1",
    "i2",
    "<i4",
    ">i4",
    "<i8",
    "u1",
    "<u2",
    "<u4",
    "<u8",
    "<f2",
    "<f4",
    "<f8",
    ">f8",
    "<c8",
    "<c16",
]


@message(type_id=90)
@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: float
    label: str | None = None


@message(type_id=91)
@dataclasses.dataclass
class Batch:
    points: list[Point]
    weights: np.ndarray
    meta: dict[str, Any]
    pair: tuple[int, bytes]


ints = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.integers(min_value=-(2**4100), max_value=2**4100),
    st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(),
)
arrays = st.sampled_from(DTYPES).flatmap(
    lambda dt: hnp.arrays(
        np.dtype(dt), hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
    )
)
fortran_arrays = arrays.map(np.asfortranarray)
np_scalars = arrays.filter(lambda a: a.size > 0).map(lambda a: a.flat[0])
keys = st.one_of(
    st.text(max_size=8), ints, st.binary(max_size=8), st.tuples(st.integers(), st.text(max_size=4))
)
big_int_lists = st.lists(
    st.integers(min_value=-(2**2100), max_value=2**2100), min_size=1, max_size=20
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=6),
        st.lists(children, max_size=6).map(tuple),
        st.dictionaries(keys, children, max_size=6),
        st.builds(Point, st.integers(), st.floats(allow_nan=False), st.none() | st.text()),
    )


values = st.recursive(
    st.one_of(scalars, arrays, fortran_arrays, np_scalars, big_int_lists),
    _containers,
    max_leaves=30,
)


def assert_same(a: Any, b: Any, where: str = "value") -> None:
    """Equal in type and value, NaN-aware, arrays by dtype, shape, order and bytes."""
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert a.tobytes() == b.tobytes(), where
        if a.ndim > 1 and a.flags.f_contiguous and not a.flags.c_contiguous:
            assert b.flags.f_contiguous, f"{where}: Fortran order lost"
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), where
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        ), where
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    else:
        assert a == b, where
