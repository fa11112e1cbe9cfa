"""A job's DAG drawn as SVG: one box per task, in columns by depth, coloured by state.

Each box names the task and its component and shows one coloured dot per party
(waiting grey, running blue, success green, failed red, canceled/interrupted
amber); arrows run from an output to the input it feeds, labelled ``output → input``.
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["dag_svg"]

COLOURS = {
    "waiting": "#b0b7c0",
    "running": "#2f7de1",
    "success": "#2e9e4f",
    "failed": "#d64541",
    "canceled": "#e0a030",
    "interrupted": "#e0a030",
    "timeout": "#e0a030",
}
BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 170, 62, 170, 30, 20


def _depths(dag: dict[str, Any]) -> dict[str, int]:
    depth = {n["task"]: 0 for n in dag["nodes"]}
    for node in dag["nodes"]:  # nodes come in topological order
        for e in dag["edges"]:
            if e["target"] == node["task"]:
                depth[node["task"]] = max(depth[node["task"]], depth[e["source"]] + 1)
    return depth


def dag_svg(dag: dict[str, Any], title: str = "") -> str:
    """The SVG text of ``dag`` (the shape of :meth:`Site.job_dag`)."""
    depth = _depths(dag)
    columns: dict[int, list[str]] = {}
    for node in dag["nodes"]:
        columns.setdefault(depth[node["task"]], []).append(node["task"])
    pos: dict[str, tuple[float, float]] = {}
    for d, names in columns.items():
        for i, name in enumerate(names):
            pos[name] = (PAD + d * (BOX_W + GAP_X), PAD + 30 + i * (BOX_H + GAP_Y))
    width = PAD * 2 + max(1, len(columns)) * (BOX_W + GAP_X) - GAP_X
    rows = max((len(v) for v in columns.values()), default=1)
    height = PAD * 2 + 30 + rows * (BOX_H + GAP_Y) - GAP_Y + 24
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>',
        f'<text x="{PAD}" y="{PAD + 12}" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    links: dict[tuple[str, str], list[str]] = {}
    for e in dag["edges"]:  # one arrow per pair of tasks, its labels stacked
        links.setdefault((e["source"], e["target"]), []).append(f"{e['output']} → {e['input']}")
    for (source, target), labels in links.items():
        (x1, y1), (x2, y2) = pos[source], pos[target]
        ax, ay, bx, by = x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
        mx = (ax + bx) / 2
        out.append(
            f'<path d="M{ax},{ay} C{mx},{ay} {mx},{by} {bx - 2},{by}" fill="none" '
            'stroke="#555" marker-end="url(#arrow)"/>'
        )
        for i, label in enumerate(reversed(labels)):
            out.append(
                f'<text x="{mx}" y="{(ay + by) / 2 - 5 - 11 * i}" text-anchor="middle" '
                f'font-size="9" fill="#555">{escape(label)}</text>'
            )
    for node in dag["nodes"]:
        x, y = pos[node["task"]]
        states = node.get("states") or {}
        worst = _summary(list(states.values()))
        out.append(
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="#fff" '
            f'stroke="{COLOURS.get(worst, "#888")}" stroke-width="2.5"/>'
        )
        out.append(
            f'<text x="{x + 10}" y="{y + 20}" font-weight="bold">{escape(node["task"])}</text>'
        )
        out.append(
            f'<text x="{x + 10}" y="{y + 36}" fill="#555">{escape(node["component"])}</text>'
        )
        for i, (party, state) in enumerate(sorted(states.items())):
            cx = x + 14 + i * 14
            out.append(
                f'<circle cx="{cx}" cy="{y + 50}" r="5" fill="{COLOURS.get(state, "#888")}">'
                f"<title>{escape(party)}: {escape(state)}</title></circle>"
            )
    legend_y = height - 10
    for i, state in enumerate(("waiting", "running", "success", "failed", "canceled")):
        lx = PAD + i * 90
        out.append(f'<circle cx="{lx + 5}" cy="{legend_y - 4}" r="5" fill="{COLOURS[state]}"/>')
        out.append(f'<text x="{lx + 14}" y="{legend_y}" font-size="10">{state}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _summary(states: list[str]) -> str:
    for s in ("failed", "interrupted", "canceled", "running", "waiting"):
        if s in states:
            return s
    return "success" if states else "waiting"
