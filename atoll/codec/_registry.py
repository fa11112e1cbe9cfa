"""Registered message types: dataclasses that may cross a site boundary.

A module that defines a wire message registers it explicitly, with a stable
numeric type id, so the codec never has to import or look up anything by a name
that came from the data::

    @message(type_id=301)
    @dataclasses.dataclass(frozen=True)
    class PublicKey:
        n: int
        bits: int

Type-id ranges, one per layer, so ids never collide:

=========  ==========================
0-99       reserved for the codec
100-199    computing
200-299    federation
300-999    crypto (300-399 homomorphic encryption, 400-499 PSI, ...)
1000-4999  ml components
5000-7999  flow, serving
8000-      applications built on Atoll
=========  ==========================

Field annotations are checked when a type is registered (only codec types are
allowed) and every decoded value is checked against them, so a peer cannot put
a string where an integer ciphertext belongs. A type registered with
``secret=True`` (a private key) is refused by ``encode`` unless the owner opens
:func:`allow_secrets` on purpose, e.g. to export the key to its own file.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from atoll.codec._errors import CodecError

__all__ = [
    "MessageSpec",
    "allow_secrets",
    "message",
    "secrets_allowed",
    "spec_for_id",
    "spec_for_type",
]

T = TypeVar("T")

MAX_TYPE_ID = 2**31 - 1

_BY_ID: dict[int, MessageSpec] = {}
_BY_TYPE: dict[type, MessageSpec] = {}
_SECRETS_ALLOWED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "atoll_codec_secrets_allowed", default=False
)

Checker = Callable[[object, str], None]


@dataclasses.dataclass(frozen=True)
class MessageSpec:
    """What the codec knows about one registered message type."""

    type_id: int
    cls: type
    field_names: tuple[str, ...]
    checkers: tuple[Checker, ...]
    secret: bool


def message(type_id: int, *, secret: bool = False) -> Callable[[type[T]], type[T]]:
    """Register a dataclass as a wire message type with a stable ``type_id``.

    Every field must be part of ``__init__`` and annotated with a codec type:
    ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, ``list[X]``,
    ``tuple[X, ...]``, ``tuple[X, Y]``, ``dict[K, V]``, ``numpy.ndarray``,
    another registered message, unions of these, or ``Any``.
    """

    def register(cls: type[T]) -> type[T]:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"@message({type_id}) needs a dataclass, got {cls!r}")
        if not isinstance(type_id, int) or not 0 <= type_id <= MAX_TYPE_ID:
            raise ValueError(
                f"message type id must be an int in [0, {MAX_TYPE_ID}], got {type_id!r}"
            )
        old = _BY_ID.get(type_id)
        if old is not None and _qualname(old.cls) != _qualname(cls):
            raise ValueError(
                f"message type id {type_id} is taken by {_qualname(old.cls)}; "
                f"cannot register {_qualname(cls)}"
            )
        hints = typing.get_type_hints(cls)
        names: list[str] = []
        checkers: list[Checker] = []
        for field in dataclasses.fields(cls):
            if not field.init:
                raise TypeError(
                    f"{_qualname(cls)}.{field.name}: message fields must be init fields"
                )
            names.append(field.name)
            try:
                checkers.append(_checker_for(hints[field.name]))
            except TypeError as exc:
                raise TypeError(f"{_qualname(cls)}.{field.name}: {exc}") from None
        spec = MessageSpec(type_id, cls, tuple(names), tuple(checkers), secret)
        if old is not None:  # module reloaded: replace the old class object
            _BY_TYPE.pop(old.cls, None)
        _BY_ID[type_id] = spec
        _BY_TYPE[cls] = spec
        return cls

    return register


def spec_for_type(cls: type) -> MessageSpec | None:
    return _BY_TYPE.get(cls)


def spec_for_id(type_id: int) -> MessageSpec | None:
    return _BY_ID.get(type_id)


@contextlib.contextmanager
def allow_secrets() -> Iterator[None]:
    """Let ``encode`` write secret message types (private keys) inside this block.

    Only the owner of a secret should do this, to store it in its own file; a
    secret must never be sent to another party.
    """
    token = _SECRETS_ALLOWED.set(True)
    try:
        yield
    finally:
        _SECRETS_ALLOWED.reset(token)


def secrets_allowed() -> bool:
    return _SECRETS_ALLOWED.get()


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _describe(value: object) -> str:
    return type(value).__name__


def _checker_for(hint: Any) -> Checker:
    """Build a function that checks a decoded value against a field annotation."""
    if hint is Any or hint is object:
        return lambda value, where: None
    if hint is None or hint is type(None):
        return _exact(type(None), "None")
    if hint is bool:
        return _exact(bool, "bool")
    if hint is int:
        return _int_checker
    if hint is float:
        return _float_checker
    if hint in (str, bytes):
        return _exact(hint, hint.__name__)
    if hint is np.ndarray:
        return _exact(np.ndarray, "ndarray")
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        cls = hint

        def check_message(value: object, where: str) -> None:
            if not isinstance(value, cls):
                raise CodecError(
                    f"{where}: expected message {cls.__name__}, got {_describe(value)}"
                )

        return check_message
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [_checker_for(a) for a in args]

        def check_union(value: object, where: str) -> None:
            for option in options:
                try:
                    option(value, where)
                    return
                except CodecError:
                    continue
            raise CodecError(f"{where}: {_describe(value)} matches none of {hint}")

        return check_union
    if origin is list:
        item = _checker_for(args[0]) if args else _checker_for(Any)

        def check_list(value: object, where: str) -> None:
            if type(value) is not list:
                raise CodecError(f"{where}: expected list, got {_describe(value)}")
            for i, v in enumerate(value):
                item(v, f"{where}[{i}]")

        return check_list
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _checker_for(args[0])

            def check_var_tuple(value: object, where: str) -> None:
                if type(value) is not tuple:
                    raise CodecError(f"{where}: expected tuple, got {_describe(value)}")
                for i, v in enumerate(value):
                    item(v, f"{where}[{i}]")

            return check_var_tuple
        items = [_checker_for(a) for a in args]

        def check_tuple(value: object, where: str) -> None:
            if type(value) is not tuple or len(value) != len(items):
                raise CodecError(
                    f"{where}: expected a tuple of {len(items)}, got {_describe(value)}"
                )
            for i, (check, v) in enumerate(zip(items, value, strict=True)):
                check(v, f"{where}[{i}]")

        return check_tuple
    if origin is dict:
        key_check = _checker_for(args[0]) if args else _checker_for(Any)
        val_check = _checker_for(args[1]) if args else _checker_for(Any)

        def check_dict(value: object, where: str) -> None:
            if type(value) is not dict:
                raise CodecError(f"{where}: expected dict, got {_describe(value)}")
            for k, v in value.items():
                key_check(k, f"{where} key")
                val_check(v, f"{where}[{k!r}]")

        return check_dict
    raise TypeError(f"annotation {hint!r} is not a codec type")


def _exact(cls: type, name: str) -> Checker:
    def check(value: object, where: str) -> None:
        if type(value) is not cls:
            raise CodecError(f"{where}: expected {name}, got {_describe(value)}")

    return check


def _int_checker(value: object, where: str) -> None:
    if type(value) is not int:
        raise CodecError(f"{where}: expected int, got {_describe(value)}")


def _float_checker(value: object, where: str) -> None:
    if type(value) is not float and type(value) is not int:
        raise CodecError(f"{where}: expected float, got {_describe(value)}")
