"""The optional AVX-512 IFMA kernel (atoll.crypto.he._native) against gmpy2: products, powers."""

from __future__ import annotations

import functools
import os
import pickle
import random
import shlex
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gmpy2
import numpy as np
import pytest
from gmpy2 import mpz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atoll.crypto.he import _native as native


@pytest.fixture
def fresh_native(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Reset the module's cached decision before and after (environment restored in between)."""
    native._reset()
    yield monkeypatch
    monkeypatch.undo()
    native._reset()


def _need_native() -> None:
    if not native.available():
        pytest.skip(native.reason())


def _reference(entries: list[mpz], modulus: mpz, index: np.ndarray) -> list[mpz]:
    return [
        functools.reduce(
            lambda a, b: a * b % modulus,
            (mpz(entries[i]) % modulus for i in row if i >= 0),
            mpz(1) % modulus,
        )
        for row in index.tolist()
    ]


def _odd_modulus(rng: random.Random, bits: int) -> mpz:
    return mpz(rng.getrandbits(bits) | 1 | (1 << (bits - 1)))


# ---------------------------------------------------------------------------------------------
# Always run: switching off, build failures.


def test_disabled_by_environment(fresh_native: pytest.MonkeyPatch) -> None:
    fresh_native.setenv("ATOLL_NATIVE", "0")
    native._reset()
    assert native.available() is False
    assert native.reason() == "ATOLL_NATIVE=0"
    with pytest.raises(RuntimeError, match="ATOLL_NATIVE=0"):
        native.ModularProductTable([1, 2, 3], 7)
    with pytest.raises(RuntimeError, match="ATOLL_NATIVE=0"):
        native.powmod_many([2], [3], 7)
    with pytest.raises(RuntimeError, match="ATOLL_NATIVE=0"):
        native.MontgomeryContext(7)
    with pytest.raises(ValueError):  # the modulus is checked first, as for the table
        native.powmod_many([2], [3], 8)


def test_bad_compiler_reports_build_failure(
    fresh_native: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fresh_native.delenv("ATOLL_NATIVE", raising=False)
    fresh_native.setenv("ATOLL_CACHE_DIR", str(tmp_path / "cache"))
    fresh_native.setenv("CC", str(tmp_path / "no-such-compiler"))
    native._reset()
    assert native.available() is False
    assert native.reason().startswith("build failed:")
    assert "\n" not in native.reason()
    with pytest.raises(RuntimeError, match="build failed"):
        native.ModularProductTable([1], 7)


def test_compile_error_reports_first_error_line(
    fresh_native: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "fakecc"
    fake.write_text(
        "#!/bin/sh\necho 'x.c: In function f:' >&2\necho 'x.c:1: error: boom' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    fresh_native.delenv("ATOLL_NATIVE", raising=False)
    fresh_native.setenv("ATOLL_CACHE_DIR", str(tmp_path / "cache"))
    fresh_native.setenv("CC", str(fake))
    native._reset()
    assert native.available() is False
    assert native.reason() == "build failed: x.c:1: error: boom"
    assert not [p for p in (tmp_path / "cache").iterdir() if p.suffix == ".so"]


# ---------------------------------------------------------------------------------------------
# Build and cache behaviour (needs a working compiler + CPU).


def test_build_cache_reuse(fresh_native: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _need_native()
    cache = tmp_path / "cache"
    fresh_native.delenv("ATOLL_NATIVE", raising=False)
    fresh_native.setenv("ATOLL_CACHE_DIR", str(cache))
    native._reset()
    assert native.available(), native.reason()
    assert native.reason() == ""
    built = sorted(cache.glob("montgomery-*.so"))
    assert len(built) == 1
    assert len(built[0].name) == len("montgomery-") + 16 + len(".so")
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert [p.name for p in cache.iterdir()] == [built[0].name]  # no temp files left
    mtime = built[0].stat().st_mtime_ns
    native._reset()
    assert native.available()
    assert built[0].stat().st_mtime_ns == mtime  # reused, not rebuilt


def test_unusable_cache_dir_falls_back(fresh_native: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _need_native()
    cache = tmp_path / "shared"
    cache.mkdir()
    cache.chmod(0o777)  # others can write: must not be used
    fresh_native.delenv("ATOLL_NATIVE", raising=False)
    fresh_native.setenv("ATOLL_CACHE_DIR", str(cache))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    fresh_native.setattr(tempfile, "tempdir", str(scratch))
    native._reset()
    assert native.available(), native.reason()
    assert not list(cache.iterdir())
    assert list(scratch.glob("atoll-native-*/montgomery-*.so"))


# ---------------------------------------------------------------------------------------------
# Known answers.


@pytest.mark.parametrize("bits", [3, 61, 1024, 2048, 2049, 3072, 4096, 8192])
def test_known_answers(bits: int) -> None:
    _need_native()
    rng = random.Random(bits)
    n = _odd_modulus(rng, bits) if bits > 3 else mpz(7)
    entries: list[mpz] = [mpz(0), mpz(1), n - 1, n, n + 5, 3 * n + 2, -mpz(5)]
    entries += [mpz(rng.getrandbits(bits + 8)) for _ in range(25)]
    table = native.ModularProductTable(entries, n)
    assert len(table) == len(entries)
    assert table.nbytes >= len(entries) * table.limbs * 8
    for count in (0, 1, 7, 8, 9, 100):
        steps = rng.randrange(1, 12)
        index = np.array(
            [[rng.randrange(-1, len(entries)) for _ in range(steps)] for _ in range(count)],
            dtype=np.int64,
        ).reshape(count, steps)
        if count > 2:
            index[1] = -1  # all skipped -> 1
            index[2, :] = 2  # (N-1)^steps
        got = table.products(index)
        assert got == _reference(entries, n, index)
        assert all(isinstance(v, type(mpz(0))) and 0 <= v < n for v in got)
        if count > 2:
            assert got[1] == 1


@pytest.mark.parametrize("bits", [2, 50, 51, 52, 53, 102, 103, 104, 2078, 2079, 2080, 4094])
@pytest.mark.parametrize("shape", ["all_ones", "top_bit"])
def test_limb_boundaries(bits: int, shape: str) -> None:
    """Moduli at the edges of the limb count, with extreme entries (carries, lazy reduction)."""
    _need_native()
    n = mpz((1 << bits) - 1) if shape == "all_ones" else mpz((1 << (bits - 1)) + 1)
    if n < 3:
        n = mpz(3)
    rng = random.Random(bits)
    entries = [n - 1, n - 2, mpz(1) << (bits - 1), mpz(2), mpz(0), n + 1]
    entries += [mpz(rng.getrandbits(bits)) for _ in range(6)]
    table = native.ModularProductTable(entries, n)
    index = np.array(
        [[0] * 30, [1] * 30, [2] * 30, [3, 3, -1] * 10, [5] * 30]
        + [[rng.randrange(-1, len(entries)) for _ in range(30)] for _ in range(11)]
    )
    assert table.products(index) == _reference(entries, n, index)


def test_long_rows_and_int_entries() -> None:
    _need_native()
    rng = random.Random(11)
    n = _odd_modulus(rng, 2048)
    entries = [rng.getrandbits(2048) for _ in range(64)]  # plain ints
    index = np.array([[rng.randrange(64) for _ in range(60)] for _ in range(17)], dtype=np.int32)
    assert native.ModularProductTable(entries, int(n)).products(index) == _reference(
        [mpz(e) for e in entries], n, index
    )


def test_index_dtypes_and_layouts() -> None:
    _need_native()
    rng = random.Random(12)
    n = _odd_modulus(rng, 256)
    entries = [mpz(rng.getrandbits(256)) for _ in range(10)]
    table = native.ModularProductTable(entries, n)
    base = np.array([[rng.randrange(10) for _ in range(6)] for _ in range(13)], dtype=np.int64)
    want = _reference(entries, n, base)
    for variant in (
        base.astype(np.uint8),
        base.astype(np.int16),
        base.astype(np.uint64),
        np.asfortranarray(base),
        np.ascontiguousarray(base.T).T,
    ):
        assert table.products(variant) == want
    wide = np.concatenate([base, base], axis=1)[:, ::2]  # non-contiguous view
    assert table.products(wide) == _reference(entries, n, wide)
    assert table.products(np.zeros((5, 0), dtype=np.int64)) == [mpz(1)] * 5


def test_empty_table_only_skips() -> None:
    _need_native()
    table = native.ModularProductTable([], 101)
    assert table.products(np.full((3, 4), -1)) == [mpz(1)] * 3
    with pytest.raises(IndexError):
        table.products(np.zeros((1, 1), dtype=np.int64))


def test_tables_are_independent_and_reusable() -> None:
    _need_native()
    rng = random.Random(13)
    tables = []
    for bits in (100, 700):
        n = _odd_modulus(rng, bits)
        entries = [mpz(rng.getrandbits(bits)) for _ in range(8)]
        tables.append((native.ModularProductTable(entries, n), entries, n))
    index = np.array([[rng.randrange(-1, 8) for _ in range(5)] for _ in range(20)])
    for _ in range(2):
        for table, entries, n in tables:
            assert table.products(index) == _reference(entries, n, index)


# ---------------------------------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize("modulus", [0, 1, 2, 4, 100, -7, 2**8193 + 1])
def test_bad_modulus(modulus: int) -> None:
    with pytest.raises(ValueError):
        native.ModularProductTable([1, 2], modulus)


def test_non_integer_inputs() -> None:
    with pytest.raises(ValueError):
        native.ModularProductTable([1, 2], 7.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        native.ModularProductTable([1, 2], "7")  # type: ignore[arg-type]
    _need_native()
    with pytest.raises(TypeError):
        native.ModularProductTable([1.5], 7)  # type: ignore[list-item]
    mixed: list[Any] = [np.int64(3), True, mpz(5)]
    table = native.ModularProductTable(mixed, 7)
    assert table.products(np.array([[0, 1, 2]])) == [mpz(1)]


def test_bad_index() -> None:
    _need_native()
    table = native.ModularProductTable([2, 3, 5], 1009)
    with pytest.raises(IndexError):
        table.products(np.array([[0, 3]]))
    with pytest.raises(IndexError):
        table.products(np.array([[0, -2]]))
    with pytest.raises(ValueError, match="2-D"):
        table.products(np.array([0, 1]))
    with pytest.raises(ValueError, match="2-D"):
        table.products(np.zeros((1, 1, 1), dtype=np.int64))
    with pytest.raises(TypeError):
        table.products(np.array([[0.0, 1.0]]))
    assert table.products(np.zeros((0, 3), dtype=np.int64)) == []


def test_not_picklable() -> None:
    _need_native()
    table = native.ModularProductTable([2, 3], 11)
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(table)


# ---------------------------------------------------------------------------------------------
# Properties.

_moduli = st.integers(min_value=1, max_value=2**700).map(lambda v: mpz(2 * v + 1))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), modulus=_moduli)
def test_matches_gmpy2(data: st.DataObject, modulus: mpz) -> None:
    _need_native()
    bits = int(modulus.bit_length())
    k = data.draw(st.integers(1, 12), label="k")
    entries = data.draw(
        st.lists(st.integers(0, 2 ** (bits + 4)), min_size=k, max_size=k), label="entries"
    )
    count = data.draw(st.integers(0, 20), label="count")
    steps = data.draw(st.integers(0, 8), label="steps")
    flat = data.draw(
        st.lists(st.integers(-1, k - 1), min_size=count * steps, max_size=count * steps),
        label="index",
    )
    index = np.array(flat, dtype=np.int64).reshape(count, steps)
    table = native.ModularProductTable(entries, modulus)
    assert table.products(index) == _reference([mpz(e) for e in entries], modulus, index)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), modulus=_moduli)
def test_product_of_halves(data: st.DataObject, modulus: mpz) -> None:
    _need_native()
    k = data.draw(st.integers(1, 10), label="k")
    entries = data.draw(st.lists(st.integers(0, 2**800), min_size=k, max_size=k), label="entries")
    count = data.draw(st.integers(1, 17), label="count")
    steps = data.draw(st.integers(2, 10), label="steps")
    split = data.draw(st.integers(0, steps), label="split")
    flat = data.draw(
        st.lists(st.integers(-1, k - 1), min_size=count * steps, max_size=count * steps),
        label="index",
    )
    index = np.array(flat, dtype=np.int64).reshape(count, steps)
    table = native.ModularProductTable(entries, modulus)
    whole = table.products(index)
    left = table.products(index[:, :split])
    right = table.products(index[:, split:])
    assert whole == [gmpy2.f_mod(a * b, modulus) for a, b in zip(left, right, strict=True)]


def test_environment_switch_in_fresh_process(tmp_path: Path) -> None:
    code = (
        "from atoll.crypto.he import _native as n\n"
        "assert n.available() is False, n.reason()\n"
        "assert n.reason() == 'ATOLL_NATIVE=0', n.reason()\n"
        "try:\n"
        "    n.ModularProductTable([1], 7)\n"
        "except RuntimeError as e:\n"
        "    assert str(e) == 'ATOLL_NATIVE=0'\n"
        "else:\n"
        "    raise AssertionError('no RuntimeError')\n"
        "try:\n"
        "    n.powmod_many([1], [1], 7)\n"
        "except RuntimeError as e:\n"
        "    assert str(e) == 'ATOLL_NATIVE=0'\n"
        "else:\n"
        "    raise AssertionError('no RuntimeError')\n"
    )
    env = {**os.environ, "ATOLL_NATIVE": "0", "ATOLL_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert not list(tmp_path.iterdir())  # nothing was built


def test_threads_share_a_table() -> None:
    _need_native()
    rng = random.Random(14)
    n = _odd_modulus(rng, 1024)
    entries = [mpz(rng.getrandbits(1024)) for _ in range(32)]
    table = native.ModularProductTable(entries, n)
    indexes = [
        np.array([[rng.randrange(-1, 32) for _ in range(20)] for _ in range(40)]) for _ in range(8)
    ]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(table.products, indexes))
    for index, got in zip(indexes, results, strict=True):
        assert got == _reference(entries, n, index)


def test_damaged_cached_library_is_rebuilt(
    fresh_native: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _need_native()
    cache = tmp_path / "cache"
    fresh_native.delenv("ATOLL_NATIVE", raising=False)
    fresh_native.setenv("ATOLL_CACHE_DIR", str(cache))
    native._reset()
    assert native.available()
    (built,) = cache.glob("montgomery-*.so")
    # Replace (new inode; this process keeps its mapping) and load it in a fresh process.
    damaged = cache / "damaged"
    damaged.write_bytes(b"not an ELF file")
    os.replace(damaged, built)
    code = "from atoll.crypto.he import _native as n\nassert n.available(), n.reason()\n"
    env = {**os.environ, "ATOLL_CACHE_DIR": str(cache)}
    env.pop("ATOLL_NATIVE", None)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    assert built.read_bytes()[:4] == b"\x7fELF"


def test_stub_build_reports_cpu(fresh_native: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A build without the kernel (as on non-x86) loads, and the CPU check says no."""
    cc = native._compiler()
    if cc is None:
        pytest.skip("no C compiler")
    fresh_native.delenv("ATOLL_NATIVE", raising=False)
    fresh_native.setenv("ATOLL_CACHE_DIR", str(tmp_path / "cache"))
    fresh_native.setenv("CC", shlex.join([*cc, "-DATOLL_FB_NO_KERNEL"]))
    native._reset()
    assert native.available() is False
    assert native.reason() == "CPU lacks avx512ifma"
    with pytest.raises(RuntimeError, match="avx512ifma"):
        native.ModularProductTable([1], 7)
    with pytest.raises(RuntimeError, match="avx512ifma"):
        native.powmod_many([1], [1], 7)


def test_abi_versions_agree() -> None:
    """The Python side checks the library's ABI number; it must be the one in the source."""
    source = native._SOURCE.read_text(encoding="utf-8")
    assert native._SOURCE.name == "montgomery.c"
    assert f"#define ATOLL_FB_ABI {native._ABI}\n" in source
    assert native._ABI == 2


# ---------------------------------------------------------------------------------------------
# powmod_many: a different base and exponent per lane.

_POW_MODULI = [61, 1024, 1366, 2048, 2049, 3072, 4096]
_EXP_BITS = [0, 1, 53, 64, 224, 1024, 2048]
_COUNTS = [0, 1, 7, 8, 9, 100]


def _powmod_reference(bases: list[Any], exps: list[Any], modulus: mpz) -> list[mpz]:
    return [gmpy2.powmod(b, e, modulus) for b, e in zip(bases, exps, strict=True)]


def _exponent(rng: random.Random, bits: int) -> mpz:
    return mpz(rng.getrandbits(bits) | (1 << (bits - 1))) if bits else mpz(0)


def _special_bases(n: mpz, rng: random.Random, count: int) -> list[mpz]:
    bits = int(n.bit_length())
    bases = [mpz(0), mpz(1), n - 1, n, n + 1, 3 * n + 2, -mpz(3), mpz(2)]
    bases += [mpz(rng.getrandbits(bits + 8)) for _ in range(max(0, count - len(bases)))]
    rng.shuffle(bases)
    return bases[:count]


@pytest.mark.parametrize("bits", _POW_MODULI)
def test_powmod_known_answers(bits: int) -> None:
    _need_native()
    rng = random.Random(1000 + bits)
    n = _odd_modulus(rng, bits)
    ctx = native.MontgomeryContext(n)
    assert ctx.modulus == n
    for i, ebits in enumerate(_EXP_BITS):
        # every count for short exponents; 0/7/9 or 1/8/100 (alternating) for long ones
        for count in _COUNTS if ebits <= 224 else _COUNTS[i % 2 :: 2]:
            bases = _special_bases(n, rng, count)
            exps = [_exponent(rng, ebits) for _ in range(count)]
            want = _powmod_reference(bases, exps, n)
            got = native.powmod_many(bases, exps, n)
            assert got == want, (bits, ebits, count)
            assert all(type(v) is type(mpz(0)) and 0 <= v < n for v in got)
            assert ctx.powmod_many(bases, [int(e) for e in exps]) == want
    # Mixed lengths in one call (sorted by length inside, results in input order).
    count = 100
    bases = _special_bases(n, rng, count)
    exps = [_exponent(rng, rng.choice(_EXP_BITS[:6])) for _ in range(count)]
    want = _powmod_reference(bases, exps, n)
    assert native.powmod_many(bases, exps, n) == want
    assert ctx.powmod_many(bases, exps, sort=False) == want


def test_powmod_special_values() -> None:
    _need_native()
    n = mpz(1000003)
    bases = [0, 0, 1, n - 1, n - 1, n, n, n + 2, 10**30, -5, 2]
    exps = [0, 5, 0, 1, 2, 0, 7, 3, 2**200 + 1, 3, 0]
    want = _powmod_reference(bases, exps, n)
    assert want[0] == 1 and want[5] == 1 and want[6] == 0  # as gmpy2: 0^0 = 1
    assert native.powmod_many(bases, exps, n) == want
    assert native.powmod_many([], [], n) == []
    assert native.powmod_many([7], np.zeros(1, dtype=np.int64), 3) == [mpz(1)]
    assert native.powmod_many([5, 2], [1, 1], 3) == [mpz(2), mpz(2)]


@pytest.mark.parametrize("bits", [2, 51, 52, 53, 103, 104, 2078, 2079, 2080, 4094, 8190, 8192])
@pytest.mark.parametrize("shape", ["all_ones", "top_bit"])
def test_powmod_limb_boundaries(bits: int, shape: str) -> None:
    _need_native()
    n = mpz((1 << bits) - 1) if shape == "all_ones" else mpz((1 << (bits - 1)) + 1)
    if n < 3:
        n = mpz(3)
    rng = random.Random(bits)
    bases = [n - 1, n - 2, mpz(1) << (bits - 1), mpz(2), mpz(0), n + 1]
    bases += [mpz(rng.getrandbits(bits)) for _ in range(5)]
    exps = [mpz(rng.getrandbits(130)) for _ in bases]
    exps[0] = mpz(2**130 - 1)  # all-ones digits
    assert native.powmod_many(bases, exps, n) == _powmod_reference(bases, exps, n)


def test_powmod_every_window() -> None:
    _need_native()
    rng = random.Random(21)
    n = _odd_modulus(rng, 700)
    ctx = native.MontgomeryContext(n)
    bases = _special_bases(n, rng, 19)
    exps = [_exponent(rng, rng.randrange(0, 300)) for _ in range(19)]
    want = _powmod_reference(bases, exps, n)
    for window in range(1, 7):
        assert ctx.powmod_many(bases, exps, window=window) == want
        assert ctx.powmod_many(bases, exps, window=window, sort=False) == want
    for window in (0, 7):
        with pytest.raises(ValueError, match="window"):
            ctx.powmod_many(bases, exps, window=window)


def test_powmod_numpy_exponents() -> None:
    _need_native()
    rng = random.Random(22)
    n = _odd_modulus(rng, 2048)
    bases = [mpz(rng.getrandbits(2048)) for _ in range(13)]
    values = [rng.getrandbits(rng.randrange(0, 64)) for _ in range(13)]
    values[3] = 2**64 - 1
    values[4] = 0
    want = _powmod_reference(bases, values, n)
    assert native.powmod_many(bases, np.array(values, dtype=np.uint64), n) == want
    small = [v % 2**63 for v in values]
    want_small = _powmod_reference(bases, small, n)
    assert native.powmod_many(bases, np.array(small, dtype=np.int64), n) == want_small
    tiny = [v % 128 for v in values]
    want_tiny = _powmod_reference(bases, tiny, n)
    for dtype in (np.uint8, np.int8, np.int16, np.int32, np.uint32):
        assert native.powmod_many(bases, np.array(tiny, dtype=dtype), n) == want_tiny
    strided = np.array(small + small, dtype=np.int64)[::2]
    assert native.powmod_many(bases, strided, n) == _powmod_reference(
        bases, [int(e) for e in strided], n
    )
    objects = np.array([2**100 + v for v in values], dtype=object)  # Python ints
    assert native.powmod_many(bases, objects, n) == _powmod_reference(bases, list(objects), n)
    mixed: list[Any] = [np.int64(3), True, mpz(5), 7]
    assert native.powmod_many([2, 3, 4, 5], mixed, n) == _powmod_reference(
        [2, 3, 4, 5], [3, 1, 5, 7], n
    )


def test_powmod_bad_input() -> None:
    with pytest.raises(ValueError):
        native.powmod_many([2], [3], 9.0)  # type: ignore[arg-type]
    _need_native()
    with pytest.raises(ValueError, match="non-negative"):
        native.powmod_many([2, 3], [1, -1], 101)
    with pytest.raises(ValueError, match="non-negative"):
        native.powmod_many([2, 3], np.array([1, -1]), 101)
    with pytest.raises(ValueError, match="2 bases but 1 exponents"):
        native.powmod_many([2, 3], [1], 101)
    with pytest.raises(ValueError, match="1-D"):
        native.powmod_many([2], np.ones((1, 1), dtype=np.int64), 101)
    with pytest.raises(TypeError):
        native.powmod_many([2], np.array([1.0]), 101)
    with pytest.raises(TypeError):
        native.powmod_many([2], [1.5], 101)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        native.powmod_many(["2"], [1], 101)  # type: ignore[list-item]


@pytest.mark.parametrize("modulus", [0, 1, 2, 4, 100, -7, 2**8193 + 1])
def test_powmod_bad_modulus(modulus: int) -> None:
    with pytest.raises(ValueError):
        native.powmod_many([1, 2], [1, 2], modulus)
    with pytest.raises(ValueError):
        native.MontgomeryContext(modulus)


def test_powmod_8192_bit_modulus() -> None:
    _need_native()
    rng = random.Random(23)
    n = _odd_modulus(rng, 8192)
    bases = _special_bases(n, rng, 9)
    exps = [_exponent(rng, 64) for _ in range(9)]
    assert native.powmod_many(bases, exps, n) == _powmod_reference(bases, exps, n)


def test_context_pickles_as_its_modulus_and_is_thread_safe() -> None:
    _need_native()
    rng = random.Random(24)
    n = _odd_modulus(rng, 1024)
    ctx = native.MontgomeryContext(n)
    assert "1024-bit" in repr(ctx)
    clone = pickle.loads(pickle.dumps(ctx))
    assert isinstance(clone, native.MontgomeryContext) and clone.modulus == n
    jobs = []
    for _ in range(8):
        bases = [mpz(rng.getrandbits(1024)) for _ in range(17)]
        exps = [_exponent(rng, rng.randrange(0, 200)) for _ in range(17)]
        jobs.append((bases, exps))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda job: clone.powmod_many(*job), jobs))
    for (bases, exps), got in zip(jobs, results, strict=True):
        assert got == _powmod_reference(bases, exps, n)


_pow_moduli = st.integers(min_value=1, max_value=2**1100).map(lambda v: mpz(2 * v + 1))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), modulus=_pow_moduli)
def test_powmod_matches_gmpy2(data: st.DataObject, modulus: mpz) -> None:
    _need_native()
    count = data.draw(st.integers(0, 20), label="count")
    bases = data.draw(
        st.lists(st.integers(-(2**1200), 2**1200), min_size=count, max_size=count), label="b"
    )
    exps = data.draw(st.lists(st.integers(0, 2**300), min_size=count, max_size=count), label="e")
    assert native.powmod_many(bases, exps, modulus) == _powmod_reference(bases, exps, modulus)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), modulus=_pow_moduli)
def test_powmod_exponents_add(data: st.DataObject, modulus: mpz) -> None:
    _need_native()
    count = data.draw(st.integers(1, 12), label="count")
    bases = data.draw(
        st.lists(st.integers(0, 2**1200), min_size=count, max_size=count), label="bases"
    )
    e1 = data.draw(st.lists(st.integers(0, 2**200), min_size=count, max_size=count), label="e1")
    e2 = data.draw(st.lists(st.integers(0, 2**200), min_size=count, max_size=count), label="e2")
    ctx = native.MontgomeryContext(modulus)
    left = ctx.powmod_many(bases, e1)
    right = ctx.powmod_many(bases, e2)
    whole = ctx.powmod_many(bases, [a + b for a, b in zip(e1, e2, strict=True)])
    assert whole == [a * b % modulus for a, b in zip(left, right, strict=True)]


def test_module_state_is_restored() -> None:
    # The fixtures above reset the cached decision; the default environment decides again.
    assert native.available() == (native.reason() == "")
    assert os.environ.get("ATOLL_NATIVE") != "0" or not native.available()
