"""Render the benchmark results saved in fmref/results/ (:mod:`fmref.results`).

``.. fmref-benchmark:: kv_cache`` renders one saved result: what was measured,
the machine and its load when it was measured, a table with one row per setting
and named columns with their units, the single figures beside it, and a plot
drawn with matplotlib at build time (a PNG with alt text, so the PDF has it
too). ``.. fmref-benchmark::`` with no argument renders every saved result (the
"Measured results" page). Numbers are never typed by hand: a benchmark script
writes the JSON and this directive shows it.

How each benchmark reads is declared once, in :data:`SPECS`: which part of
the JSON holds the settings, the columns (label with unit, how to compute and
format the value), the single figures, and the plot. A result without a spec
falls back to a two-column list of its values (:func:`flatten`), with a warning.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)
PLOT_DIR = "_results_plots"  # under the source folder, written at build time (git-ignored)
MIB = 2**20


@dataclass
class Column:
    """One column: its header (quantity and unit) and the value of a row."""

    label: str
    value: Callable[[str, dict, dict], Any]  # (setting, row, whole result) -> value
    fmt: str = "{:.4g}"


@dataclass
class Series:
    label: str
    value: Callable[[str, dict, dict], float]
    marker: str = "o-"


@dataclass
class Plot:
    """A line plot (or bars, when the setting is a name) of series against the setting."""

    ylabel: str
    series: list[Series]
    title: str  # the figure's caption
    xlabel: str = ""
    logx: bool = False
    logy: bool = False
    x: Callable[[str, dict], float] | None = None  # None: the settings are names (bars)
    ylim: tuple[float, float] | None = None  # the least range shown, so noise looks like noise


@dataclass
class Spec:
    """How one saved result reads."""

    title: str
    rows: Callable[[dict], list[tuple[str, dict]]]  # the settings, in order
    setting: str  # the header of the first column
    columns: list[Column]
    scalars: list[tuple[str, Callable[[dict], Any], str]] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    # more tables over the same settings, (title, columns), when one would be too wide
    more_tables: list[tuple[str, list[Column]]] = field(default_factory=list)


def _key(name: str, scale: float = 1.0):
    def value(setting, row, data):
        if row.get(name) is None or scale == 1.0:
            return row.get(name)
        return row[name] * scale

    return value


def _columns(*specs) -> list[Column]:
    """Columns from ``(label, key, fmt[, scale])``: the value is ``row[key] * scale``;
    a callable in place of the key computes the value from ``(setting, row, result)``."""
    return [
        Column(label, key if callable(key) else _key(key, *scale), fmt)
        for label, key, fmt, *scale in specs
    ]


def _four(name: str, scale: float = 1.0):
    """A column of the parallelism benchmark's four-process run, for the same strategy."""

    def value(setting, row, data):
        got = data.get("four_processes", {}).get(setting, {}).get(name)
        return got * scale if got is not None and scale != 1.0 else got

    return value


def _at(*path: str, scale: float = 1.0):
    """A single figure: the value at ``path`` in the result, times ``scale``."""

    def value(data):
        for part in path:
            data = data[part]
        return data * scale if scale != 1.0 else data

    return value


def _listed(key: str):
    return lambda data: [(str(r[key]), r) for r in data["results"]]


def _items(*path: str):
    def rows(data):
        for part in path:
            data = data[part]
        return list(data.items())

    return rows


SPECS: dict[str, Spec] = {
    "bpe_training": Spec(
        title="Byte-level BPE training time (Chapter II)",
        rows=_items("merges"),
        setting="merges learned",
        columns=_columns(
            ("training time (CPU s)", "total_s", "{:.3f}"),
            ("time per 1,000 merges (CPU s)", "s_per_1000_merges", "{:.3f}"),
            ("validation bytes per token", "val_bytes_per_token", "{:.2f}"),
        ),
        scalars=[
            ("training corpus (characters)", _at("corpus_characters"), "{:,}"),
            ("pre-tokenise and count (CPU s)", _at("pretokenize_and_count_s"), "{:.3f}"),
            ("merges timed against the naive trainer", _at("naive_vs_incremental", "merges"), "{}"),
            (
                "naive trainer, recount per merge (CPU ms per merge)",
                _at("naive_vs_incremental", "naive_s_per_merge", scale=1e3),
                "{:.2f}",
            ),
            (
                "incremental trainer (CPU ms per merge)",
                _at("naive_vs_incremental", "incremental_s_per_merge", scale=1e3),
                "{:.3f}",
            ),
            (
                "speed-up of the incremental trainer (×)",
                _at("naive_vs_incremental", "speedup"),
                "{:.1f}",
            ),
        ],
        plots=[
            Plot(
                ylabel="CPU s per 1,000 merges",
                xlabel="merges learned",
                series=[Series("incremental trainer", _key("s_per_1000_merges"))],
                title="BPE training: CPU time per 1,000 merges against the number of merges",
                x=lambda setting, row: float(setting),
            )
        ],
    ),
    "attention_memory": Spec(
        title="Naive vs tiled attention: extra peak memory (Chapter VI)",
        rows=_listed("n"),
        setting="sequence length N",
        columns=_columns(
            ("naive: extra peak (MiB)", "naive_peak_mib", "{:.2f}"),
            ("tiled: extra peak (MiB)", "tiled_peak_mib", "{:.2f}"),
            ("torch SDPA: extra peak (MiB)", "torch_sdpa_peak_mib", "{:.2f}"),
            ("memory, naive / tiled (×)", "memory_ratio", "{:.1f}"),
            ("model: naive (MiB)", "model_naive_mib", "{:.2f}"),
            ("model: tiled (MiB)", "model_tiled_mib", "{:.2f}"),
        ),
        more_tables=[
            (
                "Naive vs tiled attention: time of one call and exactness (Chapter VI)",
                _columns(
                    ("naive: time (s)", "naive_s", "{:.3f}"),
                    ("tiled: time (s)", "tiled_s", "{:.3f}"),
                    ("torch SDPA: time (s)", "torch_sdpa_s", "{:.3f}"),
                    ("time, tiled / naive (×)", "time_ratio_tiled_over_naive", "{:.2f}"),
                    ("max |tiled − naive|", "tiled_max_abs_diff", "{:.1e}"),
                    ("max |SDPA − naive|", "torch_sdpa_max_abs_diff", "{:.1e}"),
                ),
            )
        ],
        scalars=[
            ("head dimension d", _at("d_head"), "{}"),
            ("tile size (tokens)", _at("tile_size"), "{}"),
        ],
        plots=[
            Plot(
                ylabel="extra peak memory (MiB)",
                xlabel="sequence length N",
                series=[
                    Series("naive (fmref)", _key("naive_peak_mib")),
                    Series("tiled (fmref)", _key("tiled_peak_mib"), "s-"),
                    Series("torch SDPA (CPU)", _key("torch_sdpa_peak_mib"), "^-"),
                ],
                title="Attention: extra peak memory of one call against N (log-log)",
                logx=True,
                logy=True,
                x=lambda setting, row: float(setting),
            )
        ],
    ),
    "parallelism": Spec(
        title="Every parallelism on two CPU processes: time, bytes sent, memory (Chapter XII)",
        rows=_items("results"),
        setting="strategy",
        columns=_columns(
            ("time per step (ms)", "seconds_per_step", "{:.1f}", 1e3),
            ("sent per rank per step (KiB)", "bytes_sent_per_step", "{:.1f}", 1 / 1024),
            ("sent, formula (KiB)", "predicted_bytes_sent_per_step", "{:.1f}", 1 / 1024),
            ("sent / formula", "sent_over_predicted", "{:.2f}"),
            ("states on rank 0 (KiB)", "state_bytes_rank0", "{:.0f}", 1 / 1024),
            ("states, formula (KiB)", "predicted_state_bytes", "{:.0f}", 1 / 1024),
            ("max |Δ weight| vs 1 process", "max_abs_diff", "{:.1e}"),
        ),
        more_tables=[
            (
                "The same strategies on four processes (a model four ranks can split: "
                "4 layers, 4 key/value heads, 8 experts; four processes share two cores, "
                "so the times are not speed-ups)",
                _columns(
                    ("time per step (ms)", _four("seconds_per_step", 1e3), "{:.1f}"),
                    ("sent per rank per step (KiB)", _four("bytes_sent_per_step", 1 / 1024),
                     "{:.1f}"),
                    ("sent / formula", _four("sent_over_predicted"), "{:.2f}"),
                    ("states on rank 0 (KiB)", _four("state_bytes_rank0", 1 / 1024), "{:.0f}"),
                    ("states, formula (KiB)", _four("predicted_state_bytes", 1 / 1024),
                     "{:.0f}"),
                    ("max |Δ weight| vs 1 process", _four("max_abs_diff"), "{:.1e}"),
                ),
            )
        ],
        scalars=[
            ("model", _at("model"), "{}"),
            ("processes × steps", lambda d: f"{d['world_size']} × {d['steps']}", "{}"),
            ("final loss fp32 / bf16 / FP8", lambda d: " / ".join(
                f"{d['precision_final_loss'][k]:.3f}" for k in ("fp32", "bf16", "fp8")), "{}"),
        ],
        plots=[
            Plot(
                ylabel="bytes sent per rank per step (KiB)",
                series=[
                    Series("measured (socket writes)", _key("bytes_sent_per_step", 1 / 1024)),
                    Series("formula", _key("predicted_bytes_sent_per_step", 1 / 1024), "s-"),
                ],
                title="Bytes each rank sends per step: measured against the collectives' formulas",
            )
        ],
    ),
    "training_memory": Spec(
        title="Memory and time of one training step (Chapter XII)",
        rows=_items("results"),
        setting="configuration",
        columns=_columns(
            ("activation peak (MiB)", "activation_peak", "{:.0f}", 1 / MIB),
            (
                "activation peak / baseline",
                lambda s, row, d: d["ratios_to_baseline"][s]["activation_peak"],
                "{:.2f}",
            ),
            ("peak resident memory (MiB)", "peak_rss", "{:.0f}", 1 / MIB),
            ("step time (CPU s)", "cpu_seconds_per_step", "{:.2f}"),
            (
                "step time / baseline",
                lambda s, row, d: d["ratios_to_baseline"][s]["step_time"],
                "{:.2f}",
            ),
            ("loss after the steps", "final_loss", "{:.4f}"),
        ),
        scalars=[
            (
                "model (layers × width, context)",
                lambda d: "{n_layer} × {n_embd}, {block_size}".format(**d["model"]),
                "{}",
            ),
            ("batch (sequences) × steps", lambda d: f"{d['batch']} × {d['steps']}", "{}"),
            (
                "data parallel: processes × steps",
                lambda d: f"{d['ddp']['world_size']} × {d['ddp']['steps']}",
                "{}",
            ),
            ("data parallel: training time (s)", _at("ddp", "ddp_train_seconds"), "{:.2f}"),
            (
                "data parallel: with process launch (s)",
                _at("ddp", "ddp_wall_seconds_with_launch"),
                "{:.2f}",
            ),
            (
                "one process: training time (s)",
                _at("ddp", "single_process_train_seconds"),
                "{:.2f}",
            ),
            (
                "largest weight difference, 2 processes vs 1",
                _at("ddp", "max_weight_difference"),
                "{:.1e}",
            ),
        ],
        plots=[
            Plot(
                ylabel="activation peak (MiB)",
                series=[Series("activation peak", _key("activation_peak", 1 / MIB))],
                title="One training step: activation peak per configuration",
            )
        ],
    ),
    "kv_cache": Spec(
        title="Generation with and without the KV cache (Chapter XIII)",
        rows=_listed("new_tokens"),
        setting="new tokens",
        columns=_columns(
            ("with cache (CPU ms per token)", "cached_ms_per_token", "{:.1f}"),
            ("without cache (CPU ms per token)", "uncached_ms_per_token", "{:.1f}"),
            ("with cache (CPU s)", "cached_cpu_s", "{:.2f}"),
            ("without cache (CPU s)", "uncached_cpu_s", "{:.2f}"),
            ("speed-up, CPU time (×)", "speedup", "{:.1f}"),
            ("speed-up, wall clock (×)", "wall_speedup", "{:.1f}"),
        ),
        scalars=[
            (
                "model (layers × width, heads)",
                lambda d: "{n_layer} × {n_embd}, {n_head}".format(**d["model"]),
                "{}",
            ),
            ("parameters", _at("model", "parameters"), "{:,}"),
        ],
        plots=[
            Plot(
                ylabel="CPU ms per generated token",
                xlabel="new tokens",
                series=[
                    Series("without cache", _key("uncached_ms_per_token"), "s-"),
                    Series("with cache", _key("cached_ms_per_token")),
                ],
                title="Generation: CPU time per token with and without the KV cache (log-log)",
                logx=True,
                logy=True,
                x=lambda setting, row: float(setting),
            )
        ],
    ),
    "speculative": Spec(
        title="Speculative decoding with a small draft (Chapter XIII)",
        rows=lambda d: [
            ("plain sampling", {"target": d["plain_target_calls_per_token"], "draft": 0.0}),
            (
                "speculative (draft proposes)",
                {"target": d["target_calls_per_token"], "draft": d["draft_calls_per_token"]},
            ),
        ],
        setting="decoding",
        columns=_columns(
            ("target calls per token", "target", "{:.3f}"),
            ("draft calls per token", "draft", "{:.3f}"),
        ),
        scalars=[
            (
                "target / draft parameters",
                lambda d: f"{d['target_parameters']:,} / {d['draft_parameters']:,}",
                "{}",
            ),
            ("acceptance rate", _at("acceptance_rate"), "{:.3f}"),
            ("tokens per target call, measured", _at("tokens_per_target_call"), "{:.3f}"),
            ("tokens per target call, formula", _at("formula_tokens_per_target_call"), "{:.3f}"),
            (
                "CPU time, plain / speculative (×)",
                _at("cpu_time_ratio_plain_over_speculative"),
                "{:.3f}",
            ),
        ],
        plots=[
            Plot(
                ylabel="target model calls per generated token",
                series=[Series("target calls per token", _key("target"))],
                title="Speculative decoding: calls of the target model per generated token",
            )
        ],
    ),
    "quantization": Spec(
        title="Weight compression of a small GPT (Chapter XIV)",
        rows=_items("results"),
        setting="format",
        columns=_columns(
            ("group size", "group_size", "{}"),
            ("weight size (KiB)", "weight_bytes", "{:,.0f}", 1 / 1024),
            ("bits per parameter", "bits_per_parameter", "{:.3g}"),
            ("smaller than fp32 (×)", "size_ratio_vs_fp32", "{:.2f}"),
            ("validation perplexity", "perplexity", "{:.3f}"),
            ("perplexity change (%)", "perplexity_change_pct", "{:+.3f}"),
        ),
        scalars=[
            ("compressed parameters", _at("model", "compressed_parameters"), "{:,}"),
            ("validation tokens", _at("model", "validation_tokens"), "{:,}"),
        ],
        plots=[
            Plot(
                ylabel="perplexity change vs fp32 (%)",
                series=[Series("perplexity change", _key("perplexity_change_pct"))],
                title="Weight compression: validation perplexity change against fp32 per format",
                ylim=(-1.0, 1.0),
            )
        ],
    ),
}


def _format(fmt: str, value) -> str:
    if value is None:
        return "—"
    return fmt.format(value)


def table_rows(
    spec: Spec, data: dict, columns: list[Column] | None = None
) -> tuple[list[str], list[list[str]]]:
    """The header and the formatted rows of a result's table (default: its main table)."""
    columns = spec.columns if columns is None else columns
    header = [spec.setting] + [c.label for c in columns]
    rows = [
        [setting] + [_format(c.fmt, c.value(setting, row, data)) for c in columns]
        for setting, row in spec.rows(data)
    ]
    return header, rows


def scalar_rows(spec: Spec, data: dict) -> list[list[str]]:
    """``[quantity, value]`` of the single figures that are not per setting."""
    return [[label, _format(fmt, get(data))] for label, get, fmt in spec.scalars]


def machine_sentence(machine: dict | None, max_load: float | None = None) -> str:
    """Where and when a result was measured, and how busy the machine was, in one sentence."""
    if not machine:
        return "The machine it was measured on was not recorded."
    parts = [str(machine.get("cpu", "unknown CPU"))]
    if "cores" in machine:
        parts.append(f"{machine['cores']} cores")
    if "torch_threads" in machine:
        n = machine["torch_threads"]
        parts.append(f"{n} torch thread{'s' if n != 1 else ''}")
    if "torch" in machine:
        parts.append(f"torch {str(machine['torch']).split('+')[0]}")
    if "python" in machine:
        parts.append(f"Python {machine['python']}")
    text = "Measured on " + ", ".join(parts)
    if "date" in machine:
        text += f", {machine['date']}"
    if "timer" in machine:
        text += f"; timer: {machine['timer']}"
    load = machine.get("load_average_1min")
    limit = machine.get("max_load", max_load)
    if load is None:
        text += "; the load average was not recorded"
    elif limit is not None and load > limit:
        text += (
            f"; 1-minute load average {load}, above {limit}: the machine was busy, so "
            "times and memory may include its neighbours' work"
        )
    else:
        text += f"; 1-minute load average {load}"
    if machine.get("forced"):
        text += " (saved with --force)"
    return text + "."


def draw(spec: Spec, data: dict, plot: Plot, path: Path) -> str:
    """Draw ``plot`` of a result into ``path`` (PNG) and return its alt text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = spec.rows(data)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    described = []
    for series in plot.series:
        points = [(s, series.value(s, r, data)) for s, r in rows]
        points = [(s, v) for s, v in points if v is not None]
        if plot.x is None:
            offset = plot.series.index(series) / (len(plot.series) + 1)
            ax.bar(
                [i + offset for i in range(len(points))],
                [v for _, v in points],
                width=0.8 / len(plot.series),
                label=series.label,
            )
            ax.set_xticks(range(len(points)), [s for s, _ in points])
        else:
            xs = [plot.x(s, r) for s, r in rows if series.value(s, r, data) is not None]
            ax.plot(
                xs,
                [max(v, 1e-3) if plot.logy else v for _, v in points],
                series.marker,
                label=series.label,
            )
        described.append(f"{series.label}: " + ", ".join(f"{_short(v)} at {s}" for s, v in points))
    if plot.ylim is not None:
        low, high = ax.get_ylim()
        ax.set_ylim(min(low, plot.ylim[0]), max(high, plot.ylim[1]))
        ax.axhline(0, color="black", linewidth=0.8)
    if plot.logx:
        ax.set_xscale("log", base=2)
    if plot.logy:
        ax.set_yscale("log")
    ax.set_xlabel(plot.xlabel or spec.setting)
    ax.set_ylabel(plot.ylabel)
    if len(plot.series) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save_if_changed(fig, path)
    plt.close(fig)
    kind = "Bar chart" if plot.x is None else "Line plot"
    return (
        f"{kind} of {plot.ylabel} against {plot.xlabel or spec.setting}. "
        + "; ".join(described)
        + "."
    )


def _short(value: float) -> str:
    return f"{value:.3g}"


def _save_if_changed(fig, path: Path) -> None:
    """Write the PNG atomically and only when its bytes change (parallel and no-op builds)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150, metadata={"Software": None})
    data = buffer.getvalue()
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".png")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def flatten(value, prefix: str = "") -> list[tuple[str, str]]:
    """``[(dotted.key, text)]`` for every scalar in a JSON value (results without a spec)."""
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


def _table(header: list[str], rows: list[list[str]], title: str | None = None, literal_first=False):
    table = nodes.table(classes=["fmref-benchmark"])
    if title:
        table += nodes.title(text=title)
    group = nodes.tgroup(cols=len(header))
    table += group
    for i in range(len(header)):
        group += nodes.colspec(colwidth=2 if i == 0 else 1)
    head = nodes.thead()
    group += head
    body = nodes.tbody()
    group += body
    row = nodes.row()
    for text in header:
        row += nodes.entry("", nodes.paragraph(text=text))
    head += row
    for values in rows:
        row = nodes.row()
        for i, text in enumerate(values):
            content = nodes.literal(text=text) if literal_first and i == 0 else nodes.Text(text)
            row += nodes.entry("", nodes.paragraph("", "", content))
        body += row
    return table


class BenchmarkDirective(SphinxDirective):
    optional_arguments = 1

    def run(self):
        import fmref.results

        names = [self.arguments[0]] if self.arguments else fmref.results.names()
        out: list[nodes.Node] = []
        for name in names:
            try:
                data = fmref.results.load(name)
            except ValueError as err:
                logger.warning(
                    f"benchmark result {name!r}: {err}; run python -m benchmarks {name}",
                    location=self.get_location(),
                )
                continue
            self.env.note_dependency(str(Path(fmref.results.__file__).parent / f"{name}.json"))
            self.env.note_dependency(__file__)
            out += self._render(name, data, heading=not self.arguments)
        return out

    def _render(self, name: str, data: dict, heading: bool) -> list[nodes.Node]:
        from fmref.results import MAX_LOAD

        machine = data.pop("machine", None)
        spec = SPECS.get(name)
        out: list[nodes.Node] = []
        if heading:
            title = spec.title if spec else name
            out.append(nodes.rubric(text=title))
            source = nodes.literal(text=f"benchmarks/{name}.py")
            para = nodes.paragraph("", "Saved by ", source)
            what = data.get("what")
            para += nodes.Text(f": {what}." if what else ".")
            out.append(para)
        out.append(
            nodes.paragraph("", "", nodes.emphasis(text=machine_sentence(machine, MAX_LOAD)))
        )
        if spec is None:
            logger.warning(
                f"benchmark result {name!r} has no table spec in fmref_results.SPECS: "
                "shown as a list of values",
                location=self.get_location(),
            )
            out.append(
                _table(["quantity", "value"], [list(r) for r in flatten(data)], literal_first=True)
            )
            return out
        for title, columns in [(spec.title, spec.columns), *spec.more_tables]:
            header, rows = table_rows(spec, data, columns)
            out.append(_table(header, rows, title=title))
        if spec.scalars:
            out.append(_table(["quantity", "value"], scalar_rows(spec, data)))
        for i, plot in enumerate(spec.plots):
            rel = f"{PLOT_DIR}/{name}-{i}.png"
            alt = draw(spec, data, plot, Path(self.env.srcdir) / rel)
            figure = nodes.figure(classes=["fmref-benchmark-plot"])
            figure += nodes.image(uri="/" + rel, alt=alt, width="80%")
            figure += nodes.caption(text=plot.title)
            out.append(figure)
        return out


def setup(app):
    app.add_directive("fmref-benchmark", BenchmarkDirective)
    return {"version": "2.0", "parallel_read_safe": True, "parallel_write_safe": True}
