"""Optional native kernel: many modular products and powers at once with AVX-512 IFMA.

The HE layer's hot loops are fixed-base exponentiation, a product of ~40-60 precomputed table
entries per exponent modulo a 2048- or 4096-bit modulus, and variable-base exponentiation
(ciphertext x plaintext, CRT decryption). From Python each modular multiplication costs
~1.4 us (4096-bit: ~5 us), mostly interpreter overhead around GMP. Here numbers live in native
memory, in Montgomery form with 52-bit limbs, and 8 independent numbers are processed at once
per AVX-512 register (one per 64-bit lane) with ``vpmadd52luq``/``vpmadd52huq``:

* :class:`ModularProductTable` -- products of entries of a fixed table modulo N;
* :func:`powmod_many` / :class:`MontgomeryContext` -- ``pow(b_i, e_i, N)`` for many pairs
  with a different base and exponent per lane (fixed-window exponentiation, each lane with
  its own table of ``b^0 .. b^(2^w - 1)``).

The C source (``montgomery.c``, next to this file) is compiled lazily, on the first call to
:func:`available`, with the system C compiler into a per-user cache directory
(``$ATOLL_CACHE_DIR``, else ``$XDG_CACHE_HOME/atoll/native``, else ``~/.cache/atoll/native``)
and loaded with :mod:`ctypes`. Nothing here is required: when there is no compiler, the CPU
lacks AVX-512 IFMA, or ``ATOLL_NATIVE=0`` is set, :func:`available` is False and
:func:`reason` says why.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import importlib.util
import logging
import operator
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import gmpy2
import numpy as np
from gmpy2 import mpz

__all__ = ["ModularProductTable", "MontgomeryContext", "available", "powmod_many", "reason"]

logger = logging.getLogger(__name__)

_SOURCE = Path(__file__).with_name("montgomery.c")
_ABI = 2
_LIMB_BITS = 52
_MAX_MODULUS_BITS = 8192
_LANES = 8
_MAX_WINDOW = 6  # ATOLL_FB_MAXW
_BUILD_TIMEOUT_S = 60.0
_FLAGS = ("-O3", "-shared", "-fPIC", "-std=c11")

_lock = threading.Lock()
_state: tuple[ctypes.CDLL | None, str] | None = None  # (library, reason) once decided


def _cache_dir() -> Path:
    explicit = os.environ.get("ATOLL_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "atoll" / "native"
    return Path.home() / ".cache" / "atoll" / "native"


def _writable_dir() -> Path:
    """The cache directory (created 0700), or a fresh temporary one if that is not usable.

    A directory that another user owns or that others can write to is not used: a library
    loaded from it could have been planted.
    """
    path = _cache_dir()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.stat()
        private = st.st_uid == os.getuid() and not st.st_mode & 0o022
        if private and os.access(path, os.W_OK | os.X_OK):
            return path
    except OSError:
        pass
    fallback = Path(tempfile.mkdtemp(prefix="atoll-native-"))
    logger.debug("native cache %s is not writable; building in %s", path, fallback)
    return fallback


def _compiler() -> list[str] | None:
    cc = os.environ.get("CC", "").strip()
    if cc:
        return shlex.split(cc)
    for name in ("cc", "gcc", "clang"):
        found = shutil.which(name)
        if found:
            return [found]
    if importlib.util.find_spec("ziglang") is not None:
        return [sys.executable, "-m", "ziglang", "cc"]
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _first_line(text: str) -> str:
    """The first line that mentions an error, else the first non-empty line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower():
            return line
    return lines[0] if lines else "(no output)"


def _build(*, reuse: bool = True) -> tuple[Path | None, str]:
    """Compile (or reuse) the shared library; returns (path, "") or (None, reason)."""
    cc = _compiler()
    if cc is None:
        return None, "no C compiler (tried cc, gcc, clang)"
    source = _SOURCE.read_text(encoding="utf-8")
    key = hashlib.sha256(
        "\0".join([source, *cc, *_FLAGS]).encode("utf-8", "surrogateescape")
    ).hexdigest()[:16]
    directory = _writable_dir()
    target = directory / f"montgomery-{key}.so"
    if reuse and target.is_file():
        logger.debug("native kernel: reusing %s", target)
        return target, ""
    fd, tmp_name = tempfile.mkstemp(prefix=f".montgomery-{key}-", suffix=".so", dir=directory)
    os.close(fd)
    tmp = Path(tmp_name)
    cmd = [*cc, *_FLAGS, "-o", str(tmp), str(_SOURCE)]
    try:
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=_BUILD_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None, f"build failed: compiler timed out after {_BUILD_TIMEOUT_S:.0f} s"
        except OSError as exc:
            return None, f"build failed: {exc}"
        if proc.returncode != 0:
            return None, f"build failed: {_first_line(proc.stderr or proc.stdout)}"
        os.chmod(tmp, 0o700)
        os.replace(tmp, target)  # atomic: concurrent builders all produce the same file
    finally:
        tmp.unlink(missing_ok=True)
    logger.debug("native kernel: built %s with %s", target, " ".join(cmd))
    return target, ""


_P = ctypes.c_void_p
_I64 = ctypes.c_int64
_U64 = ctypes.c_uint64


def _load(path: Path) -> tuple[ctypes.CDLL | None, str]:
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        return None, f"load failed: {exc}"
    lib.atoll_fb_abi.restype = ctypes.c_int
    lib.atoll_fb_abi.argtypes = []
    if lib.atoll_fb_abi() != _ABI:
        return None, "load failed: ABI version mismatch"
    lib.atoll_fb_cpu_ok.restype = ctypes.c_int
    lib.atoll_fb_cpu_ok.argtypes = []
    if not lib.atoll_fb_cpu_ok():
        return None, "CPU lacks avx512ifma"
    lib.atoll_fb_max_limbs.restype = ctypes.c_int
    lib.atoll_fb_max_limbs.argtypes = []
    lib.atoll_fb_limbs_from_bytes.restype = None
    lib.atoll_fb_limbs_from_bytes.argtypes = [_P, _I64, _I64, _P, _I64]
    lib.atoll_fb_to_mont.restype = ctypes.c_int
    lib.atoll_fb_to_mont.argtypes = [_P, _I64, _P, _U64, _P, _I64]
    lib.atoll_fb_products.restype = ctypes.c_int
    lib.atoll_fb_products.argtypes = [_P, _P, _I64, _I64, _P, _U64, _P, _I64, _P, _I64]
    lib.atoll_fb_powmod.restype = ctypes.c_int
    lib.atoll_fb_powmod.argtypes = [_P, _P, _I64, _I64, _P, _U64, _P, _P, _I64, _I64, _P, _I64]
    lib.atoll_fb_window.restype = ctypes.c_int
    lib.atoll_fb_window.argtypes = [_I64]
    return lib, ""


def _decide() -> tuple[ctypes.CDLL | None, str]:
    if os.environ.get("ATOLL_NATIVE", "").strip() == "0":
        return None, "ATOLL_NATIVE=0"
    try:
        path, why = _build()
    except Exception as exc:  # never raise from available()
        return None, _one_line(f"build failed: {type(exc).__name__}: {exc}")
    if path is None:
        if why.startswith("no C compiler"):  # the one reason a user can fix in a minute
            logger.info(
                "HE native kernel off (%s): HE runs on gmpy2, 4-6x slower; install a C "
                "compiler or pip install 'atoll[native]' to turn it on",
                why,
            )
        return None, _one_line(why)
    lib, why = _load(path)
    if lib is None and why.startswith("load failed"):
        # A damaged cached file (it was reused): build it again, once.
        logger.debug("native kernel: %s; rebuilding %s", why, path)
        try:
            rebuilt, why = _build(reuse=False)
        except Exception as exc:
            return None, _one_line(f"build failed: {type(exc).__name__}: {exc}")
        if rebuilt is None:
            return None, _one_line(why)
        lib, why = _load(rebuilt)
        path = rebuilt
    if lib is not None:
        logger.debug("native kernel: loaded %s", path)
    else:
        logger.debug("native kernel unavailable: %s", why)
    return lib, _one_line(why)


def _get() -> tuple[ctypes.CDLL | None, str]:
    global _state
    state = _state
    if state is None:
        with _lock:
            if _state is None:
                _state = _decide()
            state = _state
    return state


def _reset() -> None:
    """Forget the decision (tests): the next :func:`available` re-reads the environment."""
    global _state
    with _lock:
        _state = None
        _context.cache_clear()


def available() -> bool:
    """True when the compiled kernel is loaded and this CPU supports it (builds on first call)."""
    return _get()[0] is not None


def reason() -> str:
    """``""`` when :func:`available`, else one line saying why not."""
    return _get()[1]


_MPZ = type(mpz(0))


def _to_mpz(value: Any) -> mpz:
    """mpz of an integer (int, mpz, numpy integer); TypeError for floats, strings, ..."""
    return value if type(value) is _MPZ else mpz(operator.index(value))


def _aligned_zeros(rows: int, cols: int) -> np.ndarray:
    """A zeroed C-contiguous (rows, cols) uint64 array starting on a 64-byte boundary."""
    size = rows * cols
    raw = np.zeros(size + 8, dtype=np.uint64)
    skip = (-raw.ctypes.data % 64) // 8
    return raw[skip : skip + size].reshape(rows, cols)


def _limbs(values: Sequence[Any], nbytes: int, nlimbs: int, lib: ctypes.CDLL) -> np.ndarray:
    """Non-negative values < 2^(8 nbytes) -> (len, nlimbs) uint64 array of 52-bit limbs."""
    count = len(values)
    raw = b"".join(v.to_bytes(nbytes, "little") for v in values)
    buf = np.frombuffer(raw, dtype=np.uint8) if raw else np.zeros(1, dtype=np.uint8)
    out = _aligned_zeros(max(count, 1), nlimbs)
    lib.atoll_fb_limbs_from_bytes(buf.ctypes.data, count, nbytes, out.ctypes.data, nlimbs)
    return out


def _check_modulus(modulus: Any) -> mpz:
    """The modulus as mpz; ValueError unless it is an odd integer in [3, 2^8192)."""
    try:
        n = _to_mpz(modulus)
    except TypeError as exc:
        raise ValueError(f"modulus must be an integer, got {type(modulus).__name__}") from exc
    if n < 3 or n % 2 == 0:
        raise ValueError(f"modulus must be odd and >= 3, got {modulus}")
    bits = int(n.bit_length())
    if bits > _MAX_MODULUS_BITS:
        raise ValueError(f"modulus has {bits} bits; at most {_MAX_MODULUS_BITS} supported")
    return n


class ModularProductTable:
    """Entries e_0..e_{k-1} modulo an odd modulus N, kept in Montgomery form in native memory.

    :meth:`products` computes, for each row of an index array, the product of the selected
    entries modulo N, 8 rows at a time per AVX-512 register.
    """

    __slots__ = ("_ctx", "_table", "k", "limbs", "modulus")

    def __init__(self, entries: Sequence[int], modulus: int) -> None:
        ctx = MontgomeryContext(modulus)
        n, nlimbs, lib = ctx.modulus, ctx.limbs, ctx._lib
        k = len(entries)
        if k * nlimbs >= 2**31:
            raise ValueError(f"too many entries ({k}) for one table")
        self._ctx = ctx
        self.modulus = n
        self.k = k
        self.limbs = nlimbs
        self._table = _limbs([_to_mpz(e) % n for e in entries], ctx._nbytes, nlimbs, lib)
        rc = lib.atoll_fb_to_mont(
            self._table.ctypes.data, k, ctx._n.ctypes.data, ctx._n0inv, ctx._r2.ctypes.data, nlimbs
        )
        if rc != 0:
            raise RuntimeError(f"native kernel failed (to_mont rc={rc})")

    @property
    def nbytes(self) -> int:
        """Native memory held (bytes)."""
        ctx = self._ctx
        return int(self._table.nbytes + ctx._n.nbytes + ctx._one.nbytes + ctx._r2.nbytes)

    def __len__(self) -> int:
        return self.k

    def __getstate__(self) -> NoReturn:
        raise TypeError(
            "ModularProductTable holds native memory and cannot be pickled; "
            "send the entries and modulus and rebuild it in the receiving process"
        )

    def products(self, index: np.ndarray) -> list[mpz]:
        """``out[r] = prod_s entries[index[r, s]] mod N``; index ``-1`` skips a step.

        ``index`` is an integer array of shape ``(count, steps)``. Results are fully reduced
        to ``[0, N)``; a row of only ``-1`` gives 1.
        """
        idx = np.asarray(index)
        if idx.ndim != 2:
            raise ValueError(f"index must be 2-D (count, steps), got shape {idx.shape}")
        if idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"index must be an integer array, got dtype {idx.dtype}")
        count, steps = idx.shape
        if count == 0:
            return []
        if idx.size:
            lo, hi = int(idx.min()), int(idx.max())
            if lo < -1 or hi >= self.k:
                bad = lo if lo < -1 else hi
                raise IndexError(f"index {bad} out of range for a table of {self.k} entries")
        groups = -(-count // _LANES)
        # (groups, steps, 8): lane-minor, so the kernel loads 8 indices per step at once.
        lanes = np.full((groups * _LANES, steps), -1, dtype=np.int32)
        lanes[:count] = idx
        lanes = np.ascontiguousarray(lanes.reshape(groups, _LANES, steps).transpose(0, 2, 1))
        ctx = self._ctx
        nbytes = ctx._nbytes
        out = np.empty(groups * _LANES * nbytes, dtype=np.uint8)
        rc = ctx._lib.atoll_fb_products(
            self._table.ctypes.data,
            lanes.ctypes.data,
            groups,
            steps,
            ctx._n.ctypes.data,
            ctx._n0inv,
            ctx._one.ctypes.data,
            self.limbs,
            out.ctypes.data,
            nbytes,
        )
        if rc != 0:
            raise RuntimeError(f"native kernel failed (products rc={rc})")
        from_bytes = mpz.from_bytes
        view = memoryview(out.data)
        return [
            from_bytes(view[i : i + nbytes], "little") for i in range(0, count * nbytes, nbytes)
        ]


def _exponent_rows(exps: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exponents -> ((count, ebytes) little-endian uint8 rows, (count,) approximate bit lengths).

    A numpy integer array is converted as a whole (8 bytes each); anything else one value at a
    time (Python ints / mpz of any size). ValueError for a negative exponent.
    """
    if isinstance(exps, np.ndarray) and exps.dtype != object:
        if exps.ndim != 1:
            raise ValueError(f"exponents must be 1-D, got shape {exps.shape}")
        if exps.size and not np.issubdtype(exps.dtype, np.integer):
            raise TypeError(f"exponents must be integers, got dtype {exps.dtype}")
        if exps.size and np.issubdtype(exps.dtype, np.signedinteger) and int(exps.min()) < 0:
            raise ValueError(f"exponents must be non-negative, got {int(exps.min())}")
        words = exps.astype("<u8")
        # float64 rounding can overstate a length by one bit above 2^53: fine for sorting.
        lengths = np.frexp(words.astype(np.float64))[1]
        return words.view(np.uint8).reshape(len(words), 8), lengths
    values = [_to_mpz(e) for e in exps]
    if values and min(values) < 0:
        raise ValueError(f"exponents must be non-negative, got {min(values)}")
    lengths = np.fromiter((v.bit_length() for v in values), dtype=np.int64, count=len(values))
    ebytes = max(1, (int(lengths.max(initial=0)) + 7) // 8)
    raw = b"".join(v.to_bytes(ebytes, "little") for v in values)
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(values), ebytes), lengths


class MontgomeryContext:
    """An odd modulus N prepared for the native kernel: N's limbs, -N^-1 mod 2^52, R mod N and
    R^2 mod N (R = 2^(52 L) > 4N).

    Building one costs a modular inverse and a squaring (~30 us at 4096 bits);
    :func:`powmod_many` keeps the last 16 in a cache, so holding a context only saves that
    lookup. Contexts are immutable and may be shared between threads (the kernel releases the
    GIL, so threads calling it run in parallel); they pickle as their modulus.
    """

    __slots__ = ("_lib", "_n", "_n0inv", "_nbytes", "_one", "_r2", "limbs", "modulus")

    def __init__(self, modulus: int) -> None:
        lib, why = _get()
        n = _check_modulus(modulus)
        if lib is None:
            raise RuntimeError(why)
        bits = int(n.bit_length())
        nlimbs = -(-(bits + 2) // _LIMB_BITS)  # R = 2^(52 L) > 4N
        nbytes = (bits + 7) // 8
        self._lib = lib
        self.modulus = n
        self.limbs = nlimbs
        self._nbytes = nbytes
        r = mpz(1) << (_LIMB_BITS * nlimbs)
        self._n0inv = int((-gmpy2.invert(n, mpz(1) << _LIMB_BITS)) % (1 << _LIMB_BITS))
        self._n = _limbs([n], nbytes, nlimbs, lib)
        self._one = _limbs([r % n], nbytes, nlimbs, lib)
        self._r2 = _limbs([r * r % n], nbytes, nlimbs, lib)

    def __reduce__(self) -> tuple[type[MontgomeryContext], tuple[int]]:
        return (MontgomeryContext, (int(self.modulus),))

    def __repr__(self) -> str:
        return f"MontgomeryContext(<{int(self.modulus.bit_length())}-bit modulus>)"

    def powmod_many(
        self,
        bases: Sequence[int],
        exps: Sequence[int] | np.ndarray,
        *,
        window: int | None = None,
        sort: bool = True,
    ) -> list[mpz]:
        """``[pow(b, e, N) for b, e in zip(bases, exps)]``, 8 per AVX-512 register.

        ``bases`` are integers of any value (reduced mod N); ``exps`` are non-negative
        integers of any size, or a 1-D numpy integer array. Results are fully reduced to
        ``[0, N)`` and equal ``gmpy2.powmod`` (``e == 0`` gives 1).

        Lanes in a group of 8 share the number of windows of the group's longest exponent;
        with ``sort`` (the default) the inputs are grouped by exponent length first (results
        come back in input order). ``window`` (1..6) fixes the window width; by default each
        group picks the width with the fewest multiplications for its longest exponent.
        (Both are for tests and benchmarks.)
        """
        count = len(bases)
        if len(exps) != count:
            raise ValueError(f"got {count} bases but {len(exps)} exponents")
        if window is not None and not 1 <= window <= _MAX_WINDOW:
            raise ValueError(f"window must be in 1..{_MAX_WINDOW}, got {window}")
        erows, lengths = _exponent_rows(exps)
        if count == 0:
            return []
        n = self.modulus
        nbytes = self._nbytes
        raw = b"".join((_to_mpz(b) % n).to_bytes(nbytes, "little") for b in bases)
        brows = np.frombuffer(raw, dtype=np.uint8).reshape(count, nbytes)
        order: np.ndarray | None = None
        if sort and count > _LANES and bool(np.any(lengths[1:] < lengths[:-1])):
            order = np.argsort(lengths, kind="stable")
            brows = brows[order]
            erows = erows[order]
        groups = -(-count // _LANES)
        padded = groups * _LANES
        ebytes = erows.shape[1]
        ebuf = np.zeros((padded, ebytes), dtype=np.uint8)
        ebuf[:count] = erows
        bbuf = np.zeros((padded, nbytes), dtype=np.uint8)
        bbuf[:count] = brows
        lib = self._lib
        blimbs = _aligned_zeros(padded, self.limbs)
        lib.atoll_fb_limbs_from_bytes(
            bbuf.ctypes.data, padded, nbytes, blimbs.ctypes.data, self.limbs
        )
        out = np.empty((padded, nbytes), dtype=np.uint8)
        rc = lib.atoll_fb_powmod(
            blimbs.ctypes.data,
            ebuf.ctypes.data,
            groups,
            ebytes,
            self._n.ctypes.data,
            self._n0inv,
            self._r2.ctypes.data,
            self._one.ctypes.data,
            self.limbs,
            window or 0,
            out.ctypes.data,
            nbytes,
        )
        if rc != 0:
            raise RuntimeError(f"native kernel failed (powmod rc={rc})")
        if order is not None:
            unsorted = np.empty((count, nbytes), dtype=np.uint8)
            unsorted[order] = out[:count]
            out = unsorted
        from_bytes = mpz.from_bytes
        view = memoryview(out.data).cast("B")
        return [
            from_bytes(view[i : i + nbytes], "little") for i in range(0, count * nbytes, nbytes)
        ]


@functools.lru_cache(maxsize=16)
def _context(modulus: mpz, lib: ctypes.CDLL) -> MontgomeryContext:
    del lib  # part of the key only: a context is tied to the library that was loaded
    return MontgomeryContext(modulus)


def powmod_many(bases: Sequence[int], exps: Sequence[int] | np.ndarray, modulus: int) -> list[mpz]:
    """``[pow(b, e, modulus) for b, e in zip(bases, exps)]``, 8 per AVX-512 register.

    Same as ``MontgomeryContext(modulus).powmod_many(bases, exps)``, with the context taken
    from a small cache of recently used moduli. ValueError for a bad modulus, mismatched
    lengths or a negative exponent; RuntimeError (:func:`reason`) when the kernel is not
    :func:`available`.
    """
    lib, why = _get()
    n = _check_modulus(modulus)
    if lib is None:
        raise RuntimeError(why)
    return _context(n, lib).powmod_many(bases, exps)
