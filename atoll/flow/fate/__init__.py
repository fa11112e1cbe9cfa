"""Run a FATE job with Atoll: convert its DSL and conf (or its DAG) into an Atoll job file.

Three FATE formats are read:

* **DSL v1** (FATE 1.x): a DSL ``{"components": {name: {"module", "input", "output"}}}``
  and a conf with ``role`` (party ids per role), ``role_parameters`` (per role, per
  component, each value a list with one entry per party of that role; ``args.data``
  names the input tables) and ``algorithm_parameters`` (common to all parties);
* **DSL v2** (FATE 1.5+, ``dsl_version: 2``): the same DSL with ``Reader`` components,
  and a conf with ``component_parameters`` ``{"common": {...}, "role": {role: {"0":
  {...}, "0|1": {...}, "all": {...}}}}`` (or the early v2 form: ``role_parameters``
  keyed by party index plus ``algorithm_parameters``);
* **FATE 2.x DAG** (YAML): ``dag: {parties, tasks: {name: {component_ref, inputs,
  parameters, parties, ...}}, party_tasks: {alias: {parties, tasks: {name:
  {parameters}}}}}``. Pass it as ``dsl`` with no conf.

::

    from atoll.flow.fate import import_fate_job, load_fate_job
    spec = load_fate_job("hetero_lr_dsl.json", "hetero_lr_conf.json",
                         tables={"experiment.breast_hetero_guest": "guest.csv",
                                 "experiment.breast_hetero_host": "host.csv"})
    job = atoll.flow.spec.parse_job(spec)

Modules map to Atoll components through the registry's FATE names (``Reader``,
``Intersection``, ``HeteroLR``, ...). FATE's ``DataTransform`` / ``DataIO`` has no
component of its own: its label and id settings are folded into the reader task
that feeds it, and references to it become references to that reader. A FATE
table (``namespace.name``) becomes the reader's ``path`` when ``tables`` maps it
to a file; otherwise the reader reads the table of that name uploaded at each
site (``table: "namespace.name"``; ``atoll data upload``).

Parameters are translated one by one (:data:`PARAMETER_MAP` lists each module's).
A parameter Atoll cannot honour is refused with an error naming the task, module,
parameter and what is supported; the few that change nothing Atoll computes
(FATE's fixed-point precision, cache and logging settings, ...) are ignored and
logged on the ``atoll.flow.fate`` logger. Raw (plaintext-hash) intersection is
refused: it reveals ids. Parameters a FATE job leaves out take Atoll's defaults.

The package, in the order a job goes through it: :mod:`._dsl` (DSL v1/v2 and conf)
and :mod:`._dag` (2.x DAG) read a FATE job into the tasks of :mod:`._tasks`;
:mod:`._convert` translates their parameters with the rules of :mod:`._parameters`
(built from :mod:`._rules`; readers' through :mod:`._reader`) and writes Atoll's job.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from atoll.flow.fate._convert import _convert as _to_atoll
from atoll.flow.fate._dag import _from_dag
from atoll.flow.fate._dsl import _from_dsl
from atoll.flow.fate._errors import FateImportError
from atoll.flow.fate._parameters import PARAMETER_MAP
from atoll.flow.fate._rules import _ignored_seen
from atoll.flow.spec import JobSpecError, parse_job

__all__ = ["PARAMETER_MAP", "FateImportError", "import_fate_job", "load_fate_job"]


def import_fate_job(
    dsl: Mapping[str, Any] | None,
    conf: Mapping[str, Any] | None = None,
    *,
    tables: Mapping[str, str] | None = None,
    name: str | None = None,
    base_dir: str | None = None,
    validate: bool = True,
) -> dict[str, Any]:
    """An Atoll job spec (the dict :func:`atoll.flow.spec.parse_job` takes) from a FATE job.

    ``dsl`` and ``conf`` are FATE 1.x's DSL (v1 or v2) and runtime conf; a FATE 2.x DAG
    (``{"dag": ...}``) is passed as ``dsl`` alone (a conf holding the DAG works too).
    ``tables`` maps FATE tables (``"namespace.name"``) to files; a table it does not
    map is read from the site's uploaded tables (the reader's ``table``). ``name`` is the job's
    name (default ``fate-job``); ``base_dir`` anchors relative paths. With ``validate``
    the result is checked with ``parse_job``, so every error surfaces here.
    Raises :class:`FateImportError`.
    """
    _ignored_seen.clear()
    for what, value in (("the DSL", dsl), ("the conf", conf), ("tables", tables)):
        if value is not None and not isinstance(value, Mapping):
            raise FateImportError(f"FATE job: {what} must be a mapping, got {type(value).__name__}")
    tables = dict(tables or {})
    for key, file in tables.items():
        if not isinstance(key, str) or not isinstance(file, str | os.PathLike):
            raise FateImportError(
                f"FATE job: tables maps a FATE table ('namespace.name') to a file path; "
                f"got {key!r}: {file!r}"
            )
    doc: Mapping[str, Any] | None = dsl
    if doc is not None and "dag" in doc:
        if conf is not None:
            raise FateImportError(
                "FATE DAG: pass the DAG alone (its parties are in it), not with a conf"
            )
        parties, tasks = _from_dag(doc)
        v2 = True
    elif doc is None and conf is not None and "dag" in conf:
        parties, tasks = _from_dag(conf)
        v2 = True
    else:
        if doc is None:
            raise FateImportError("FATE job: no DSL given")
        if conf is None:
            raise FateImportError("FATE DSL: a DSL v1/v2 job needs its conf (roles and parameters)")
        parties, tasks = _from_dsl(doc, conf)
        v2 = False
    spec = _to_atoll(parties, tasks, tables, v2, name or "fate-job")
    if base_dir is not None:
        spec["base_dir"] = str(base_dir)
    if validate:
        try:
            parse_job(spec, f"FATE job {spec['name']!r}")
        except FateImportError:
            raise
        except JobSpecError as exc:
            raise FateImportError(str(exc)) from None
    return spec


def _read(path: str | Path) -> Any:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise FateImportError(f"{p}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise FateImportError(f"{p}: not UTF-8 text (byte {exc.start}): {exc.reason}") from None
    what = "JSON" if p.suffix.lower() == ".json" else "YAML"
    try:
        return json.loads(text) if what == "JSON" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise FateImportError(f"{p}: not valid {what}: {exc}") from None
    except RecursionError:
        raise FateImportError(f"{p}: the {what} is nested too deeply") from None


def load_fate_job(
    dsl_path: str | Path,
    conf_path: str | Path | None = None,
    tables: Mapping[str, str] | None = None,
    *,
    validate: bool = True,
) -> dict[str, Any]:
    """:func:`import_fate_job` on files (JSON or YAML); relative table paths are relative
    to the DSL's directory, and the job is named after the DSL file."""
    dsl = _read(dsl_path)
    conf = None if conf_path is None else _read(conf_path)
    if not isinstance(dsl, Mapping) or (conf is not None and not isinstance(conf, Mapping)):
        raise FateImportError(f"{dsl_path}: a FATE DSL, conf or DAG is a mapping")
    stem = Path(dsl_path).stem
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem) or "fate-job"
    return import_fate_job(
        dsl,
        conf,
        tables=tables,
        name=safe,
        base_dir=str(Path(dsl_path).resolve().parent),
        validate=validate,
    )
