"""The wire format: a small header, a msgpack body with typed extensions, raw buffers.

Layout of one message (all integers little-endian)::

    offset  size        field
    0       3           magic  b"ATL"
    3       1           format version (1)
    4       4           number of out-of-band buffers, B
    8       8           body length, L
    16      8 * B       length of each buffer
    ...     L           msgpack body
    ...     sum(...)    the buffers, back to back

The body is plain msgpack for None, bool, small ints, floats, str, bytes, lists
and dicts, which msgpack's C extension packs fast. Everything else is a msgpack
extension whose code is one of the ``EXT_*`` constants below; nothing in the
data can name a Python type, module or function. Large numpy arrays and long
lists of big integers (ciphertexts) travel out of band: the body holds their
dtype, shape and a buffer index, and the bytes follow the body unchanged, so a
100 MB array costs one memory copy to encode and one to decode. A list of big
integers is stored at one fixed width (the widest element, two's complement),
not as decimal text or one object per element.

Decoding checks every declared length against the bytes actually present and
against :class:`Limits`, so a truncated, padded or hostile message raises
:class:`CodecError` and never allocates more than it was given.
"""

from __future__ import annotations

import dataclasses
import re
import struct
from collections.abc import Callable
from typing import Any

import msgpack
import numpy as np

from atoll.codec._errors import CodecError
from atoll.codec._registry import secrets_allowed, spec_for_id, spec_for_type

__all__ = ["FORMAT_VERSION", "Limits", "decode", "encode"]

MAGIC = b"ATL"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<3sBIQ")  # magic, version, buffer count, body length
_U64 = struct.Struct("<Q")

EXT_BIGINT = 1  # one int outside 64 bits: signed little-endian bytes
EXT_TUPLE = 2  # packed list of the items
EXT_NDARRAY = 3  # packed [dtype, shape, fortran, data bytes | buffer index]
EXT_NPSCALAR = 4  # packed [dtype, data bytes]
EXT_INTLIST = 5  # packed [width, count, signed, data bytes | buffer index]
EXT_MESSAGE = 6  # packed [type id, [field values]]

OUT_OF_BAND_MIN = 16 * 1024  # arrays and int lists at least this large go out of band
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1
_DTYPE_RE = re.compile(r"^[<>|=](b1|[iu][1248]|f[248]|c(8|16))$")
_MAX_NDIM = 64


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds that decoding enforces; a message beyond any of them is refused.

    ``max_message_bytes`` bounds the whole message and every length it declares;
    ``max_depth`` bounds how deeply tuples and registered messages nest (plain
    lists and dicts are bounded by msgpack's fixed stack of 1024 levels as well);
    ``max_buffers`` bounds the out-of-band buffer table.
    """

    max_message_bytes: int = 2 * 1024**3
    max_depth: int = 64
    max_buffers: int = 1 << 20


DEFAULT_LIMITS = Limits()


class _NeedsIntLists(Exception):
    """Raised by the fast encoder when it meets an integer beyond 64 bits."""


@dataclasses.dataclass
class _IntList:
    items: list[Any]


@dataclasses.dataclass
class _Walked:
    """A registered message whose fields were already prepared by ``_walk``."""

    type_id: int
    values: list[Any]


# --------------------------------------------------------------------------- encode


def encode(obj: object) -> bytes:
    """Encode ``obj`` into bytes that :func:`decode` (and only it) reads back.

    Raises :class:`CodecError` for a type the codec does not carry (an arbitrary
    object, a numpy object array, an unregistered dataclass, a secret message
    outside :func:`allow_secrets`).
    """
    try:
        return _Encoder(fast=True).run(obj)
    except _NeedsIntLists:
        # Only messages that hold big integers pay for this second, Python-level pass.
        return _Encoder(fast=False).run(_walk(obj, 0))


class _Encoder:
    def __init__(self, *, fast: bool) -> None:
        self.fast = fast
        self.buffers: list[memoryview] = []
        self.depth = 0

    def run(self, obj: object) -> bytes:
        body = self.pack(obj)
        header = _HEADER.pack(MAGIC, FORMAT_VERSION, len(self.buffers), len(body))
        lengths = b"".join(_U64.pack(b.nbytes) for b in self.buffers)
        return b"".join([header, lengths, body, *self.buffers])

    def pack(self, obj: object) -> bytes:
        try:
            return msgpack.packb(obj, default=self.default, strict_types=True, use_bin_type=True)
        except (CodecError, _NeedsIntLists):
            raise
        except (TypeError, ValueError, OverflowError) as exc:
            raise CodecError(f"cannot encode: {exc}") from exc

    def nested(self, obj: object) -> bytes:
        self.depth += 1
        if self.depth > DEFAULT_LIMITS.max_depth:
            raise CodecError(f"cannot encode: nesting deeper than {DEFAULT_LIMITS.max_depth}")
        try:
            return self.pack(obj)
        finally:
            self.depth -= 1

    def out_of_band(self, view: memoryview) -> int:
        self.buffers.append(view)
        return len(self.buffers) - 1

    def default(self, obj: Any) -> msgpack.ExtType:
        cls = type(obj)
        if cls is int or _is_mpz(obj):
            if self.fast:
                raise _NeedsIntLists
            value = int(obj)
            if _INT64_MIN <= value <= _UINT64_MAX:
                return value  # an mpz that fits: plain msgpack int
            return msgpack.ExtType(EXT_BIGINT, _int_to_bytes(value))
        if cls is tuple:
            return msgpack.ExtType(EXT_TUPLE, self.nested(list(obj)))
        if cls is np.ndarray:
            return self.ndarray(obj)
        if isinstance(obj, np.generic):
            dtype = _checked_dtype(obj.dtype)
            return msgpack.ExtType(EXT_NPSCALAR, self.nested([dtype.str, obj.tobytes()]))
        if cls is _IntList:
            return self.int_list(obj.items)
        if cls is _Walked:
            return msgpack.ExtType(EXT_MESSAGE, self.nested([obj.type_id, obj.values]))
        if cls in (bytearray, memoryview):
            return bytes(obj)
        spec = spec_for_type(cls)
        if spec is not None:
            if spec.secret and not secrets_allowed():
                raise CodecError(
                    f"refusing to encode {cls.__name__}: it holds a secret (a private key "
                    "never leaves its owner); its owner may export it inside "
                    "atoll.codec.allow_secrets()"
                )
            values = [getattr(obj, name) for name in spec.field_names]
            return msgpack.ExtType(EXT_MESSAGE, self.nested([spec.type_id, values]))
        if dataclasses.is_dataclass(obj):
            raise CodecError(
                f"cannot encode {cls.__module__}.{cls.__qualname__}: a dataclass must be "
                "registered with @atoll.codec.message(type_id=...) to cross a site boundary"
            )
        raise CodecError(f"cannot encode an object of type {cls.__module__}.{cls.__qualname__}")

    def ndarray(self, arr: np.ndarray) -> msgpack.ExtType:
        dtype = _checked_dtype(arr.dtype)
        fortran = bool(arr.flags.f_contiguous and not arr.flags.c_contiguous and arr.ndim > 1)
        if fortran:
            flat = arr.T  # C-contiguous view of the same memory
        elif arr.flags.c_contiguous:
            flat = arr
        else:
            flat = np.ascontiguousarray(arr)
        view = memoryview(flat).cast("B") if flat.nbytes else memoryview(b"")  # type: ignore[arg-type]
        shape = list(arr.shape)
        if view.nbytes >= OUT_OF_BAND_MIN:
            ref: bytes | int = self.out_of_band(view)
        else:
            ref = view.tobytes()
        return msgpack.ExtType(EXT_NDARRAY, self.nested([dtype.str, shape, fortran, ref]))

    def int_list(self, items: list[Any]) -> msgpack.ExtType:
        values = [int(x) for x in items] if any(type(x) is not int for x in items) else items
        hi, lo = max(values), min(values)
        signed = lo < 0
        if signed:
            width = (max(hi.bit_length(), (-lo - 1).bit_length()) + 8) // 8
        else:
            width = max(1, (hi.bit_length() + 7) // 8)
        raw = b"".join([x.to_bytes(width, "little", signed=signed) for x in values])
        ref: bytes | int = self.out_of_band(memoryview(raw)) if len(raw) >= OUT_OF_BAND_MIN else raw
        return msgpack.ExtType(EXT_INTLIST, self.nested([width, len(values), signed, ref]))


def _walk(obj: Any, depth: int) -> Any:
    """Second encoding pass: mark lists of integers that need more than 64 bits."""
    if depth > DEFAULT_LIMITS.max_depth + 1024:
        raise CodecError("cannot encode: nesting too deep")
    cls = type(obj)
    if cls is list:
        if obj and all(type(x) is int or _is_mpz(x) for x in obj):
            if any(not _INT64_MIN <= x <= _UINT64_MAX for x in obj):
                return _IntList(obj)
            return obj
        return [_walk(x, depth + 1) for x in obj]
    if cls is tuple:
        return tuple(_walk(x, depth + 1) for x in obj)
    if cls is dict:
        return {k: _walk(v, depth + 1) for k, v in obj.items()}
    spec = spec_for_type(cls)
    if spec is not None:
        if spec.secret and not secrets_allowed():
            return obj  # the encoder refuses it with the full explanation
        values = [_walk(getattr(obj, name), depth + 1) for name in spec.field_names]
        return _Walked(spec.type_id, values)
    return obj


def _int_to_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)


def _checked_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    if not _DTYPE_RE.match(dtype.str):
        raise CodecError(
            f"cannot encode numpy dtype {dtype} ({dtype.str}): only bool, integer, float and "
            "complex arrays cross a site boundary (object, string, datetime and record "
            "dtypes are refused)"
        )
    return dtype


try:  # gmpy2 is a dependency, but the codec must not break without it.
    import gmpy2

    _MPZ: type | None = type(gmpy2.mpz(0))
except ImportError:  # pragma: no cover
    _MPZ = None


def _is_mpz(obj: object) -> bool:
    return _MPZ is not None and type(obj) is _MPZ


# --------------------------------------------------------------------------- decode


def decode(
    data: bytes | bytearray | memoryview,
    *,
    limits: Limits = DEFAULT_LIMITS,
    zero_copy: bool = False,
) -> object:
    """Decode one message produced by :func:`encode`.

    Raises :class:`CodecError` (and nothing else) for anything that is not a
    complete, well-formed message within ``limits``. Arrays come back writable
    copies; with ``zero_copy=True`` large arrays are views into ``data``
    (read-only when ``data`` is ``bytes``).
    """
    try:
        view = memoryview(data)
    except TypeError:
        raise CodecError(f"decode needs bytes, got {type(data).__name__}") from None
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    return _Decoder(view, limits, zero_copy).run()


class _Decoder:
    def __init__(self, view: memoryview, limits: Limits, zero_copy: bool) -> None:
        self.view = view
        self.limits = limits
        self.zero_copy = zero_copy
        self.buffers: list[memoryview] = []
        self.depth = 0

    def run(self) -> object:
        view, limits = self.view, self.limits
        size = view.nbytes
        if size > limits.max_message_bytes:
            raise CodecError(
                f"message of {size} bytes exceeds the limit of {limits.max_message_bytes}"
            )
        if size < _HEADER.size:
            raise CodecError(
                f"truncated: {size} bytes is shorter than the {_HEADER.size}-byte header"
            )
        magic, version, nbuf, body_len = _HEADER.unpack_from(view, 0)
        if magic != MAGIC:
            raise CodecError(f"not an Atoll message: bad magic {bytes(magic)!r} at offset 0")
        if version != FORMAT_VERSION:
            raise CodecError(
                f"unsupported format version {version} at offset 3 (this codec reads {FORMAT_VERSION})"
            )
        if nbuf > limits.max_buffers:
            raise CodecError(
                f"buffer count {nbuf} at offset 4 exceeds the limit of {limits.max_buffers}"
            )
        offset = _HEADER.size + 8 * nbuf
        if offset > size:
            raise CodecError(
                f"truncated: header declares {nbuf} buffers but the message has {size} bytes"
            )
        lengths = struct.unpack_from(f"<{nbuf}Q", view, _HEADER.size) if nbuf else ()
        for name, length, where in [
            ("body", body_len, 8),
            *(("buffer", n, _HEADER.size + 8 * i) for i, n in enumerate(lengths)),
        ]:
            if length > limits.max_message_bytes:
                raise CodecError(
                    f"{name} length {length} declared at offset {where} exceeds the limit of "
                    f"{limits.max_message_bytes}"
                )
        total = offset + body_len + sum(lengths)
        if total > size:
            raise CodecError(
                f"truncated: the header declares {total} bytes, the message has {size}"
            )
        if total < size:
            raise CodecError(
                f"{size - total} trailing bytes after the message end at offset {total}"
            )
        body = view[offset : offset + body_len]
        pos = offset + body_len
        for n in lengths:
            self.buffers.append(view[pos : pos + n])
            pos += n
        return self.unpack(body, f"body at offset {offset}")

    def unpack(self, data: bytes | memoryview, where: str) -> Any:
        try:
            return msgpack.unpackb(
                data,
                ext_hook=self.ext_hook,
                raw=False,
                strict_map_key=False,
                use_list=True,
            )
        except CodecError:
            raise
        except UnicodeDecodeError as exc:
            raise CodecError(f"invalid UTF-8 in a string in the {where}: {exc.reason}") from None
        except msgpack.ExtraData:
            raise CodecError(f"trailing bytes after the value in the {where}") from None
        except msgpack.StackError:
            raise CodecError(f"nesting deeper than msgpack's limit in the {where}") from None
        except RecursionError:
            raise CodecError(f"nesting too deep in the {where}") from None
        except (ValueError, TypeError, OverflowError, MemoryError, IndexError) as exc:
            raise CodecError(f"malformed {where}: {exc}") from None
        except Exception as exc:  # msgpack may raise others on hostile input
            raise CodecError(f"malformed {where}: {exc.__class__.__name__}: {exc}") from None

    def nested(self, data: bytes, what: str) -> Any:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise CodecError(f"{what} nested deeper than the limit of {self.limits.max_depth}")
        try:
            return self.unpack(data, what)
        finally:
            self.depth -= 1

    def ext_hook(self, code: int, data: bytes) -> Any:
        handler = _EXT_DECODERS.get(code)
        if handler is None:
            raise CodecError(f"unknown extension type {code} (depth {self.depth})")
        return handler(self, data)

    def buffer_or_bytes(self, ref: object, what: str) -> memoryview | bytes:
        if type(ref) is bytes:
            return ref
        if type(ref) is int and 0 <= ref < len(self.buffers):
            return self.buffers[ref]
        raise CodecError(f"{what}: bad data reference {ref!r} ({len(self.buffers)} buffers)")

    # ------------------------------------------------------------- extensions

    def ext_bigint(self, data: bytes) -> int:
        if not data:
            raise CodecError("big integer with an empty payload")
        return int.from_bytes(data, "little", signed=True)

    def ext_tuple(self, data: bytes) -> tuple[Any, ...]:
        items = self.nested(data, "tuple")
        if type(items) is not list:
            raise CodecError(f"tuple payload is {type(items).__name__}, expected a list")
        return tuple(items)

    def ext_ndarray(self, data: bytes) -> np.ndarray:
        fields = self.nested(data, "ndarray header")
        if type(fields) is not list or len(fields) != 4:
            raise CodecError("ndarray header must be [dtype, shape, fortran, data]")
        dtype_str, shape, fortran, ref = fields
        dtype = _parse_dtype(dtype_str, "ndarray")
        if (
            type(shape) is not list
            or len(shape) > _MAX_NDIM
            or any(type(d) is not int or d < 0 for d in shape)
        ):
            raise CodecError(
                f"ndarray shape {shape!r} is not a list of at most 64 non-negative ints"
            )
        if type(fortran) is not bool:
            raise CodecError("ndarray order flag must be a bool")
        raw = self.buffer_or_bytes(ref, "ndarray")
        count = 1
        for d in shape:
            count *= d
        if count * dtype.itemsize != len(raw):
            raise CodecError(
                f"ndarray {dtype.str}{tuple(shape)} needs {count * dtype.itemsize} bytes, "
                f"the message holds {len(raw)}"
            )
        flat = np.frombuffer(raw, dtype=dtype, count=count)
        if fortran:
            arr = flat.reshape(shape[::-1]).T
        else:
            arr = flat.reshape(shape)
        if self.zero_copy and type(ref) is int:
            return arr
        return arr.copy(order="F" if fortran else "C")

    def ext_npscalar(self, data: bytes) -> np.generic:
        fields = self.nested(data, "numpy scalar")
        if type(fields) is not list or len(fields) != 2 or type(fields[1]) is not bytes:
            raise CodecError("numpy scalar payload must be [dtype, bytes]")
        dtype = _parse_dtype(fields[0], "numpy scalar")
        if len(fields[1]) != dtype.itemsize:
            raise CodecError(
                f"numpy scalar {dtype.str} needs {dtype.itemsize} bytes, got {len(fields[1])}"
            )
        return np.frombuffer(fields[1], dtype=dtype)[0]

    def ext_intlist(self, data: bytes) -> list[int]:
        fields = self.nested(data, "integer list header")
        if type(fields) is not list or len(fields) != 4:
            raise CodecError("integer list header must be [width, count, signed, data]")
        width, count, signed, ref = fields
        if type(width) is not int or type(count) is not int or width < 1 or count < 0:
            raise CodecError(f"integer list width {width!r} / count {count!r} invalid")
        if type(signed) is not bool:
            raise CodecError("integer list sign flag must be a bool")
        raw = self.buffer_or_bytes(ref, "integer list")
        if width * count != len(raw):
            raise CodecError(
                f"integer list of {count} x {width} bytes does not match its {len(raw)} data bytes"
            )
        from_bytes = int.from_bytes
        return [
            from_bytes(b, "little", signed=signed) for (b,) in struct.iter_unpack(f"{width}s", raw)
        ]

    def ext_message(self, data: bytes) -> object:
        fields = self.nested(data, "message")
        if type(fields) is not list or len(fields) != 2 or type(fields[0]) is not int:
            raise CodecError("message payload must be [type id, fields]")
        type_id, values = fields
        spec = spec_for_id(type_id)
        if spec is None:
            raise CodecError(f"unknown message type id {type_id}")
        name = spec.cls.__name__
        if type(values) is not list or len(values) != len(spec.field_names):
            got = len(values) if type(values) is list else type(values).__name__
            raise CodecError(
                f"message {name} (type id {type_id}): expected {len(spec.field_names)} fields, got {got}"
            )
        for field_name, check, value in zip(spec.field_names, spec.checkers, values, strict=True):
            check(value, f"message {name}.{field_name}")
        try:
            return spec.cls(**dict(zip(spec.field_names, values, strict=True)))
        except CodecError:
            raise
        except Exception as exc:
            raise CodecError(
                f"message {name} (type id {type_id}) rejected its fields: {exc}"
            ) from None


_EXT_DECODERS: dict[int, Callable[[_Decoder, bytes], Any]] = {
    EXT_BIGINT: _Decoder.ext_bigint,
    EXT_TUPLE: _Decoder.ext_tuple,
    EXT_NDARRAY: _Decoder.ext_ndarray,
    EXT_NPSCALAR: _Decoder.ext_npscalar,
    EXT_INTLIST: _Decoder.ext_intlist,
    EXT_MESSAGE: _Decoder.ext_message,
}


def _parse_dtype(text: object, what: str) -> np.dtype[Any]:
    if type(text) is not str or not _DTYPE_RE.match(text):
        raise CodecError(f"{what}: dtype {text!r} is not an allowed numeric dtype")
    return np.dtype(text)
