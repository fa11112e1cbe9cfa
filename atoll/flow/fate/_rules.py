"""Parameter rules: each takes ``(value, out, at)`` and writes Atoll parameters into ``out``.

:class:`_At` says where a parameter is (for messages); :func:`to`, :func:`choice`,
:func:`ignore`, :func:`only` and :func:`nested` build rules, :func:`_apply` runs a
module's rules over its FATE parameters. Ignored parameters are logged once per job
on the ``atoll.flow.fate`` logger (:data:`_ignored_seen`, cleared per import).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any

from atoll.flow.fate._errors import FateImportError

log = logging.getLogger("atoll.flow.fate")

Rule = Callable[[Any, dict[str, Any], "_At"], None]


@dataclasses.dataclass(frozen=True)
class _At:
    """Where a parameter is: task, FATE module, parameter path (for messages)."""

    task: str
    module: str
    path: str = ""

    def child(self, key: str) -> _At:
        return dataclasses.replace(self, path=f"{self.path}.{key}" if self.path else key)

    def __str__(self) -> str:
        return f"task {self.task!r} ({self.module}), parameter {self.path!r}"

    def refuse(self, why: str) -> FateImportError:
        return FateImportError(f"FATE job: {self}: {why}")


_ignored_seen: set[tuple[str, str]] = set()


def _note_ignored(at: _At, value: Any, why: str) -> None:
    key = (at.task, at.path)
    if key not in _ignored_seen:
        _ignored_seen.add(key)
        log.info("FATE job: %s = %r ignored: %s", at, value, why)


def to(name: str, conv: Callable[[Any, _At], Any] | None = None, doc: str = "") -> Rule:
    """The value goes to Atoll's ``name`` (through ``conv``); ``doc`` describes it."""

    def rule(v: Any, out: dict[str, Any], at: _At) -> None:
        out[name] = conv(v, at) if conv is not None else v

    rule.__doc__ = doc or f"-> {name}"
    return rule


def choice(name: str, mapping: Mapping[Any, Any], refused: Mapping[Any, str] | None = None) -> Rule:
    """FATE's value, looked up in ``mapping`` (case-insensitively for text), goes to ``name``."""
    lowered = {(k.lower() if isinstance(k, str) else k): v for k, v in mapping.items()}

    def rule(v: Any, out: dict[str, Any], at: _At) -> None:
        key = v.lower() if isinstance(v, str) else v
        if not isinstance(key, str | int | float | bool | None):  # a list, a mapping: no choice
            supported = ", ".join(repr(k) for k in mapping)
            raise at.refuse(f"{v!r} is not supported (supported: {supported})")
        if refused and key in refused:
            raise at.refuse(f"{v!r} is refused: {refused[key]}")
        if key not in lowered:
            supported = ", ".join(repr(k) for k in mapping)
            raise at.refuse(f"{v!r} is not supported (supported: {supported})")
        out[name] = lowered[key]

    pairs = ", ".join(f"{k!r}->{v!r}" for k, v in mapping.items())
    no = f"; refused: {', '.join(repr(k) for k in refused)}" if refused else ""
    rule.__doc__ = f"-> {name} ({pairs}{no})"
    return rule


def ignore(why: str) -> Rule:
    """Accepted and ignored (logged): it changes nothing Atoll computes."""

    def rule(v: Any, out: dict[str, Any], at: _At) -> None:
        _note_ignored(at, v, why)

    rule.__doc__ = f"ignored: {why}"
    return rule


def only(*allowed: Any, why: str = "") -> Rule:
    """Accepted only with these values (FATE's defaults: they change nothing); else refused."""

    def norm(x: Any) -> Any:
        return x.lower() if isinstance(x, str) else x

    ok = [norm(a) for a in allowed]

    def rule(v: Any, out: dict[str, Any], at: _At) -> None:
        if norm(v) not in ok:
            supported = " or ".join(repr(a) for a in allowed)
            raise at.refuse(
                f"{v!r} is not supported; Atoll supports only {supported}"
                + (f" ({why})" if why else "")
            )

    rule.__doc__ = "only " + " or ".join(repr(a) for a in allowed)
    return rule


def nested(rules: Mapping[str, Rule]) -> Rule:
    """A FATE parameter object (``init_param``, ``encrypt_param``, ...): its fields' own rules."""

    def rule(v: Any, out: dict[str, Any], at: _At) -> None:
        if v is None:
            return
        if not isinstance(v, Mapping):
            raise at.refuse(f"expected a mapping of {', '.join(rules)}, got {v!r}")
        _apply(rules, v, out, at)

    rule.__doc__ = (
        "{" + ", ".join(f"{k}: {(r.__doc__ or '').strip()}" for k, r in rules.items()) + "}"
    )
    return rule


def _apply(
    rules: Mapping[str, Rule], values: Mapping[str, Any], out: dict[str, Any], at: _At
) -> None:
    for key, v in values.items():
        here = at.child(key)
        r = rules.get(key)
        if r is None:
            raise here.refuse(
                f"FATE parameter {key!r} of {at.module} is not supported by Atoll "
                f"(supported: {', '.join(sorted(rules))})"
            )
        r(v, out, here)


def _number(v: Any, at: _At) -> Any:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise at.refuse(f"expected a number, got {v!r}")
    return v


def _need_false(flag: str) -> Rule:
    """A FATE parameter object that is off unless ``flag`` is true (cv_param, stepwise_param)."""

    def rule(v: Any, out: dict[str, Any], at: _At) -> None:
        if isinstance(v, Mapping) and v.get(flag):
            raise at.child(flag).refuse(
                f"{v.get(flag)!r} is not supported; Atoll supports only False"
            )
        _note_ignored(at, v, f"{flag} is off, so its other settings do nothing")

    rule.__doc__ = f"only {flag}=False"
    return rule


def _callbacks(v: Any, out: dict[str, Any], at: _At) -> None:
    """only callbacks ['ModelCheckpoint'] (ignored: the final model is always saved)"""
    if not v:
        return
    if not isinstance(v, Mapping):
        raise at.refuse(f"expected a mapping, got {v!r}")
    cbs = v.get("callbacks") or []
    bad = [c for c in cbs if c != "ModelCheckpoint"]
    if bad:
        raise at.child("callbacks").refuse(
            f"{bad!r} are not supported (Atoll trains without validation callbacks; only "
            "'ModelCheckpoint' is accepted, and ignored: the final model is always saved)"
        )
    _note_ignored(at, v, "no callbacks beyond saving the model")


def _init_method(v: Any, out: dict[str, Any], at: _At, allowed: tuple[str, ...]) -> None:
    key = v.lower() if isinstance(v, str) else v
    if key == "ones" and "const" in allowed:
        out["init"], out["init_const"] = "const", 1.0
        return
    if key not in allowed:
        raise at.refuse(f"{v!r} is not supported (supported: {', '.join(allowed)})")
    out["init"] = key


def _init(*allowed: str) -> Rule:
    def rule(v: Any, out: dict[str, Any], at: _At) -> None:
        _init_method(v, out, at, allowed)

    extra = ", 'ones'->'const' with init_const 1" if "const" in allowed else ""
    rule.__doc__ = f"-> init ({', '.join(allowed)}{extra})"
    return rule
