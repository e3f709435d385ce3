"""Render benchmark results saved as JSON in fmref/results/ (:mod:`fmref.results`).

``.. fmref-benchmark:: kv_cache`` renders one result file as a table, with the
machine it was measured on; ``.. fmref-benchmark::`` with no argument renders
every file (the "Measured results" page). Numbers are never typed by hand: a
benchmark script writes the JSON and this directive shows it.

A result file is a JSON object. A key ``machine`` (an object: CPU, cores, torch
version, date ...) is shown as the caption; every other scalar value, nested keys
joined with dots, becomes a row.
"""

from __future__ import annotations

import json
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)
MACHINE_KEYS = ("machine", "environment", "env", "meta")


def flatten(value, prefix: str = "") -> list[tuple[str, str]]:
    """``[(dotted.key, text)]`` for every scalar in a JSON value."""
    rows: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            rows += flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            rows.append((prefix, ", ".join(_fmt(v) for v in value)))
        else:
            for i, item in enumerate(value):
                rows += flatten(item, f"{prefix}[{i}]")
    else:
        rows.append((prefix, _fmt(value)))
    return rows


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(rows: list[tuple[str, str]]) -> nodes.table:
    table = nodes.table(classes=["fmref-benchmark"])
    group = nodes.tgroup(cols=2)
    table += group
    group += [nodes.colspec(colwidth=60), nodes.colspec(colwidth=40)]
    head = nodes.thead()
    group += head
    body = nodes.tbody()
    group += body
    header = nodes.row()
    for text in ("quantity", "value"):
        header += nodes.entry("", nodes.paragraph(text=text))
    head += header
    for key, value in rows:
        row = nodes.row()
        row += nodes.entry("", nodes.paragraph("", "", nodes.literal(text=key)))
        row += nodes.entry("", nodes.paragraph(text=value))
        body += row
    return table


class BenchmarkDirective(SphinxDirective):
    optional_arguments = 1

    def run(self):
        import fmref.results

        folder = Path(fmref.results.__file__).parent
        if self.arguments:
            files = [folder / f"{self.arguments[0]}.json"]
        else:
            files = [folder / f"{name}.json" for name in fmref.results.names()]
        out: list[nodes.Node] = []
        for path in files:
            self.env.note_dependency(str(path))
            if not path.exists():
                logger.warning(
                    f"benchmark result {path.name} does not exist; run benchmarks/{path.stem}.py",
                    location=self.get_location(),
                )
                continue
            data = json.loads(path.read_text())
            machine = next((data.pop(k) for k in MACHINE_KEYS if k in data), None)
            if not self.arguments:
                section = nodes.rubric(text=path.stem)
                out.append(section)
            if machine is not None:
                text = "; ".join(f"{k}: {v}" for k, v in flatten(machine))
                out.append(nodes.paragraph("", "", nodes.emphasis(text=f"Measured on {text}")))
            out.append(_table(flatten(data)))
        return out


def setup(app):
    app.add_directive("fmref-benchmark", BenchmarkDirective)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
