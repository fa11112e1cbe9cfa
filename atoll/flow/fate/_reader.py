"""The reader's parameters: a FATE table becomes a path (when ``tables=`` maps it to a
file) or the reader's ``table`` (``"namespace.name"``, the table uploaded at each site),
and DataTransform / DataIO settings (label, id, missing values) fold into the reader
that feeds them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atoll.flow.fate._errors import FateImportError
from atoll.flow.fate._rules import Rule, _apply, _At, choice, ignore, only, to
from atoll.flow.fate._tasks import _as_list, _Task


def _reader_params(
    task: _Task, fate: Mapping[str, Any], tables: Mapping[str, str], v2: bool
) -> dict[str, Any]:
    """A FATE reader's table (1.x ``table: {name, namespace}``, 2.x ``name``/``namespace``)
    -> ``path`` when ``tables`` maps it, else ``table: "namespace.name"``."""
    at = _At(task.name, task.module)
    out: dict[str, Any] = {}
    rest = dict(fate)
    table = rest.pop("table", None)
    if table is None and ("name" in rest or "namespace" in rest):
        table = {"name": rest.pop("name", None), "namespace": rest.pop("namespace", None)}
    if "path" in rest:
        out["path"] = rest.pop("path")
    elif table is not None:
        if not isinstance(table, Mapping) or not table.get("name"):
            raise at.child("table").refuse(f"expected {{name, namespace}}, got {table!r}")
        namespace, name = table.get("namespace"), table["name"]
        key = f"{namespace or ''}.{name}".lstrip(".")
        if key in tables:
            out["path"] = str(tables[key])
        elif isinstance(namespace, str) and namespace and isinstance(name, str):
            # not mapped to a file: the job reads the table uploaded at each site
            out["table"] = key
        else:
            known = ", ".join(sorted(tables)) or "none given"
            raise FateImportError(
                f"FATE job: task {task.name!r} ({task.module}) reads FATE table {key!r}, which "
                f"has no namespace (a site's table is 'namespace.name') and tables= does not "
                f"map to a file (mapped: {known})"
            )
    else:
        raise at.refuse("the reader names no table (table: {name, namespace})")
    rules: dict[str, Rule] = {
        "format": choice("format", {"csv": "csv", "parquet": "parquet"}),
        "id_name": to("id_column"),
        "delimiter": to("delimiter"),
        "label_name": to("label_column"),
        "label_type": ignore("Atoll reads labels as numbers"),
        "dtype": ignore("Atoll reads features as float64"),
        "match_id_name": to("id_column"),
        "sample_id_name": ignore("Atoll keeps one id column"),
    }
    _apply(rules, rest, out, at)
    if v2 and "label_column" not in out and "table" not in out:
        # FATE 2.x keeps the label in the table's meta ("y"); a site's registered table
        # brings its own label column
        out["label_column"] = "auto"
    return out


def _data_transform(task: _Task, fate: Mapping[str, Any]) -> dict[str, Any]:
    """DataTransform / DataIO settings -> the reader's parameters (label, id, missing values)."""
    at = _At(task.name, task.module)
    f = dict(fate)
    out: dict[str, Any] = {}
    with_label = f.pop("with_label", False)
    label_name = f.pop("label_name", "y")
    if with_label:
        out["label_column"] = label_name
    else:
        out["label_column"] = None
    if f.pop("with_match_id", False) or "match_id_name" in f:
        name = f.pop("match_id_name", None)
        if name:
            out["id_column"] = name
    missing_fill = f.pop("missing_fill", False)
    method = f.pop("missing_fill_method", None)
    default = f.pop("default_value", 0)
    impute = f.pop("missing_impute", None)
    if missing_fill:
        if method not in (None, "designated"):
            raise at.child("missing_fill_method").refuse(
                f"{method!r} is not supported; Atoll fills missing cells with one value "
                "(missing_fill_method None or 'designated' with default_value)"
            )
        if isinstance(default, list | dict):
            raise at.child("default_value").refuse(
                f"{default!r}: Atoll fills every column with one value"
            )
        out["missing"] = "fill"
        out["fill_value"] = float(default if default is not None else 0)
        if impute is not None:
            out["missing_values"] = [str(x) for x in _as_list(impute)]
    outlier = f.pop("outlier_replace", False)
    o_impute = f.pop("outlier_impute", None)
    o_method = f.pop("outlier_replace_method", None)
    o_value = f.pop("outlier_replace_value", 0)
    if outlier and o_impute not in (None, []):
        raise at.child("outlier_impute").refuse(
            f"{o_impute!r}: replacing outliers is not supported (without outlier_impute "
            "nothing counts as an outlier, and outlier_replace is accepted)"
        )
    del o_method, o_value
    rules: dict[str, Rule] = {
        "label_type": ignore("Atoll reads labels as numbers"),
        "output_format": only("dense"),
        "input_format": only("dense"),
        "delimitor": to("delimiter"),
        "data_type": ignore("Atoll reads features as float64"),
        "exclusive_data_type": only(None),
        "tag_with_value": only(False),
        "tag_value_delimitor": ignore("used only by input_format 'tag'"),
        "match_id_index": only(0),
        "need_run": only(True),
    }
    _apply(rules, f, out, at)
    return out
