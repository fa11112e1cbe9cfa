"""A self-contained HTML report of one or several ``BinaryEvaluation``.

``write_html_report`` draws one or several evaluations (say ``train`` and
``test``, overlaid in different colours) as inline SVG: ROC, KS, cumulative
gain, lift and precision-recall charts, a metrics table and the confusion
matrices. The page needs no script and no other file, every text in it is
escaped, and it is written to a temporary file renamed into place, so a reader
never sees half a report.
"""

from __future__ import annotations

import dataclasses
import html
import math
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from atoll.ml.evaluation.metrics import BinaryEvaluation

__all__ = ["render_html", "write_html_report"]

# ---- SVG charts ----

WIDTH, HEIGHT = 480, 360
LEFT, RIGHT, TOP, BOTTOM = 58, 24, 30, 46
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
GREY = "#888888"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _nice_ticks(lo: float, hi: float, count: int = 5) -> tuple[float, float, list[float]]:
    """A range covering ``[lo, hi]`` and round ticks in it (steps of 1, 2 or 5 times a power of 10)."""
    if not hi > lo:
        pad = max(abs(lo) * 0.1, 0.5)
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(lo / step + 1e-9) * step
    stop = math.ceil(hi / step - 1e-9) * step
    ticks = [start + i * step for i in range(round((stop - start) / step) + 1)]
    return start, stop, ticks


def _tick_label(v: float, step: float) -> str:
    if not 1e-4 <= step < 1e5:
        return f"{v:.3g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    text = f"{v:.{decimals}f}"
    return "0" if text.strip("-0.") == "" else text


@dataclasses.dataclass(frozen=True)
class _Series:
    label: str
    colour: str
    x: Sequence[float]
    y: Sequence[float]
    dash: bool = False
    markers: bool = False


def _chart(
    title: str,
    x_label: str,
    y_label: str,
    series: list[_Series],
    *,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    legend: str = "bottom-right",
    marks: list[tuple[float, float, float, str, str]] | None = None,
) -> str:
    """One line chart as an ``<svg>`` element; ``marks`` are vertical segments (x, y0, y1, colour, label)."""
    x0, x1, xt = _nice_ticks(*x_range)
    y0, y1, yt = _nice_ticks(*y_range)
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return TOP + ph - (y - y0) / (y1 - y0) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{WIDTH / 2:.1f}" y="19" text-anchor="middle" class="title">{_e(title)}</text>',
    ]
    x_step = xt[1] - xt[0] if len(xt) > 1 else 1.0
    y_step = yt[1] - yt[0] if len(yt) > 1 else 1.0
    for v in xt:
        x = px(v)
        out.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + ph}" class="grid"/>'
            f'<line x1="{x:.1f}" y1="{TOP + ph}" x2="{x:.1f}" y2="{TOP + ph + 5}" class="axis"/>'
            f'<text x="{x:.1f}" y="{TOP + ph + 18}" text-anchor="middle">{_e(_tick_label(v, x_step))}</text>'
        )
    for v in yt:
        y = py(v)
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + pw}" y2="{y:.1f}" class="grid"/>'
            f'<line x1="{LEFT - 5}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" class="axis"/>'
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{_e(_tick_label(v, y_step))}</text>'
        )
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" class="frame"/>')
    out.append(
        f'<text x="{LEFT + pw / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" class="label">{_e(x_label)}</text>'
        f'<text x="14" y="{TOP + ph / 2:.1f}" text-anchor="middle" class="label" '
        f'transform="rotate(-90 14 {TOP + ph / 2:.1f})">{_e(y_label)}</text>'
    )
    for s in series:
        points = " ".join(f"{px(x):.2f},{py(y):.2f}" for x, y in zip(s.x, s.y, strict=True))
        dash = ' stroke-dasharray="6 4"' if s.dash else ""
        out.append(
            f'<polyline points="{points}" fill="none" stroke="{s.colour}" stroke-width="2"{dash}/>'
        )
        if s.markers:
            out.extend(
                f'<circle cx="{px(x):.2f}" cy="{py(y):.2f}" r="3" fill="{s.colour}"/>'
                for x, y in zip(s.x, s.y, strict=True)
            )
    for i, (x, ya, yb, colour, label) in enumerate(marks or []):
        # labels side by side would overlap: stack them, on the roomier side of the mark
        right = px(x) < LEFT + 0.7 * pw
        tx, anchor = (px(x) + 6, "start") if right else (px(x) - 6, "end")
        ty = (py(ya) + py(yb)) / 2 + 4 + 15 * (i - (len(marks or []) - 1) / 2)
        out.append(
            f'<line x1="{px(x):.2f}" y1="{py(ya):.2f}" x2="{px(x):.2f}" y2="{py(yb):.2f}" '
            f'stroke="{colour}" stroke-width="3" stroke-linecap="round"/>'
            f'<text x="{tx:.2f}" y="{ty:.2f}" text-anchor="{anchor}" fill="{colour}">{_e(label)}</text>'
        )
    named = [s for s in series if s.label]
    if named:
        row, box_w = 16, min(pw - 8, 12 + 34 + 7 * max(len(s.label) for s in named))
        box_h = 8 + row * len(named)
        bx = LEFT + pw - box_w - 6 if legend.endswith("right") else LEFT + 6
        by = TOP + ph - box_h - 6 if legend.startswith("bottom") else TOP + 6
        out.append(
            f'<rect x="{bx:.1f}" y="{by:.1f}" width="{box_w:.1f}" height="{box_h}" class="legend"/>'
        )
        for i, s in enumerate(named):
            ly = by + 4 + row * i + row / 2
            dash = ' stroke-dasharray="6 4"' if s.dash else ""
            out.append(
                f'<line x1="{bx + 6:.1f}" y1="{ly:.1f}" x2="{bx + 34:.1f}" y2="{ly:.1f}" '
                f'stroke="{s.colour}" stroke-width="2"{dash}/>'
                f'<text x="{bx + 40:.1f}" y="{ly + 4:.1f}">{_e(s.label)}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)


def _charts(evaluations: dict[str, BinaryEvaluation]) -> list[str]:
    many = len(evaluations) > 1
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(evaluations)}

    def tag(name: str) -> str:
        return f"{name} " if many else ""

    diagonal = _Series("random", GREY, [0.0, 1.0], [0.0, 1.0], dash=True)
    roc = [
        _Series(f"{tag(k)}AUC = {e.auc:.4f}", colours[k], e.roc.fpr.tolist(), e.roc.tpr.tolist())
        for k, e in evaluations.items()
    ]
    ks_series: list[_Series] = []
    marks = []
    lo = min(float(e.ks_curve.thresholds.min()) for e in evaluations.values())
    hi = max(float(e.ks_curve.thresholds.max()) for e in evaluations.values())
    for k, e in evaluations.items():
        c = e.ks_curve
        ks_series.append(_Series(f"{tag(k)}TPR", colours[k], c.thresholds.tolist(), c.tpr.tolist()))
        ks_series.append(
            _Series(f"{tag(k)}FPR", colours[k], c.thresholds.tolist(), c.fpr.tolist(), dash=True)
        )
        at = int(np.argmax(c.difference))
        marks.append(
            (
                float(c.thresholds[at]),
                float(c.fpr[at]),
                float(c.tpr[at]),
                colours[k],
                f"{tag(k)}KS = {e.ks:.3f}",
            )
        )
    gain = [
        _Series(
            f"{tag(k)}gain" if many else "model",
            colours[k],
            [0.0, *e.lift_gain.quantiles.tolist()],
            [0.0, *e.lift_gain.gain.tolist()],
            markers=True,
        )
        for k, e in evaluations.items()
    ]
    lift = [
        _Series(
            f"{tag(k)}lift" if many else "model",
            colours[k],
            e.lift_gain.quantiles.tolist(),
            e.lift_gain.lift.tolist(),
            markers=True,
        )
        for k, e in evaluations.items()
    ]
    top_lift = max(float(e.lift_gain.lift.max()) for e in evaluations.values())
    pr = [
        _Series(
            f"{tag(k)}AP = {e.average_precision:.4f}",
            colours[k],
            e.pr_curve.recall.tolist(),
            e.pr_curve.precision.tolist(),
        )
        for k, e in evaluations.items()
    ]
    unit = (0.0, 1.0)
    return [
        _chart("ROC curve", "False positive rate", "True positive rate", [*roc, diagonal],
               x_range=unit, y_range=unit),
        _chart("KS curve", "Threshold (score \u2265 threshold is positive)", "Rate", ks_series,
               x_range=(lo, hi), y_range=unit, legend="top-right", marks=marks),
        _chart("Cumulative gain", "Share of rows, highest scores first", "Share of positives captured",
               [*gain, diagonal], x_range=unit, y_range=unit),
        _chart("Lift", "Share of rows, highest scores first", "Cumulative lift",
               [*lift, _Series("random", GREY, [0.0, 1.0], [1.0, 1.0], dash=True)],
               x_range=unit, y_range=(0.0, max(top_lift, 1.0)), legend="top-right"),
        _chart("Precision-recall curve", "Recall", "Precision", pr, x_range=unit, y_range=unit,
               legend="bottom-left"),
    ]  # fmt: skip


# ---- the page ----

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 24px 16px 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th { background: #f3f3f3; }
th.row { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.matrices { display: flex; flex-wrap: wrap; }
svg { font-size: 12px; border: 1px solid #ddd; }
svg text { fill: #222; }
svg .title { font-size: 14px; font-weight: bold; }
svg .label { font-size: 13px; }
svg .grid { stroke: #eeeeee; stroke-width: 1; }
svg .axis { stroke: #444444; stroke-width: 1; }
svg .frame { fill: none; stroke: #444444; stroke-width: 1; }
svg .legend { fill: #ffffff; fill-opacity: 0.85; stroke: #cccccc; }
"""


def _number(v: float | int | None, digits: int = 4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, int):
        return str(v)
    return f"{v:.{digits}f}" if v == 0 or 1e-3 <= abs(v) < 1e6 else f"{v:.{digits}g}"


def _metrics_table(evaluations: dict[str, BinaryEvaluation]) -> str:
    rows: list[tuple[str, str]] = [
        ("rows", "n"),
        ("positives", "positives"),
        ("negatives", "negatives"),
        ("AUC", "auc"),
        ("KS", "ks"),
        ("KS threshold", "ks_threshold"),
        ("average precision", "average_precision"),
        ("threshold", "threshold"),
        ("accuracy", "accuracy"),
        ("precision", "precision"),
        ("recall", "recall"),
        ("F1", "f1"),
        ("log loss", "log_loss"),
    ]
    head = "".join(f"<th>{_e(name)}</th>" for name in evaluations)
    body = "".join(
        f'<tr><th class="row">{_e(label)}</th>'
        + "".join(f"<td>{_e(_number(getattr(e, attr)))}</td>" for e in evaluations.values())
        + "</tr>\n"
        for label, attr in rows
    )
    return f'<table>\n<tr><th class="row">metric</th>{head}</tr>\n{body}</table>'


def _confusion_table(name: str, e: BinaryEvaluation) -> str:
    return (
        f"<table>\n<caption>{_e(name)} (score \u2265 {_e(_number(e.threshold))})</caption>\n"
        '<tr><th class="row">actual \\ predicted</th><th>0</th><th>1</th></tr>\n'
        f'<tr><th class="row">0</th><td>{e.tn}</td><td>{e.fp}</td></tr>\n'
        f'<tr><th class="row">1</th><td>{e.fn}</td><td>{e.tp}</td></tr>\n</table>'
    )


def render_html(
    evaluation: BinaryEvaluation | Mapping[str, BinaryEvaluation], *, title: str
) -> str:
    """The report as a string (``write_html_report`` writes it)."""
    if isinstance(evaluation, BinaryEvaluation):
        evaluations = {"model": evaluation}
    elif isinstance(evaluation, Mapping):
        evaluations = dict(evaluation)
        if not evaluations:
            raise ValueError("evaluation: no evaluations to report")
        for name, e in evaluations.items():
            if not isinstance(name, str):
                raise ValueError(f"evaluation: names must be strings, got {name!r}")
            if not isinstance(e, BinaryEvaluation):
                raise ValueError(
                    f"evaluation[{name!r}] is a {type(e).__name__}, not a BinaryEvaluation"
                )
    else:
        raise ValueError(
            f"evaluation must be a BinaryEvaluation or a dict of them, got {type(evaluation).__name__}"
        )
    if not isinstance(title, str):
        raise ValueError(f"title must be a string, got {type(title).__name__}")
    charts = "\n".join(_charts(evaluations))
    matrices = "\n".join(_confusion_table(k, e) for k, e in evaluations.items())
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8"/>\n'
        f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{_e(title)}</h1>\n"
        f"<h2>Metrics</h2>\n{_metrics_table(evaluations)}\n"
        f'<h2>Confusion matrices</h2>\n<div class="matrices">\n{matrices}\n</div>\n'
        f'<h2>Charts</h2>\n<div class="charts">\n{charts}\n</div>\n'
        "</body>\n</html>\n"
    )


def write_html_report(
    evaluation: BinaryEvaluation | Mapping[str, BinaryEvaluation],
    path: str | os.PathLike[str],
    *,
    title: str,
) -> Path:
    """Write the report to ``path`` atomically (temporary file in the same folder, then ``os.replace``).

    ``evaluation``: one evaluation, or several by name (``{"train": ..., "test": ...}``),
    overlaid on the same charts. Returns the path written.
    """
    page = render_html(evaluation, title=title).encode("utf-8")
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(page)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
