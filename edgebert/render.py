"""Rich renderings of core results (the CLI prints these; the core returns plain data).

The consoles print with markup off: cells carry user data (paths, CPU flags like "[asimddp]", "edgebert[runtime]"
hints, gate strings) that rich would otherwise read as style tags and silently drop. Emphasis is a Text style."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Callable, Iterator

from rich.table import Table
from rich.text import Text


def export_summary(dest: Path, manifest: dict[str, Any]) -> Table:
    parity = manifest.get("parity", {})
    table = Table(title=f"{manifest['format']} bundle: {dest}", show_header=False, title_justify="left")
    table.add_row("source", f"{manifest['source']['spec']} ({manifest['source']['kind']})")
    table.add_row("task", f"{manifest['task']}, {manifest['parameters'] / 1e6:.1f}M parameters")
    files = manifest["files"]
    model_files = manifest.get("model_files") or [manifest["model_file"]]
    table.add_row("model size", f"{sum(files[f]['bytes'] for f in model_files) / 1e6:.1f} MB")
    table.add_row("parity", f"max-abs {parity.get('max_abs', float('nan')):.2e}, "
                            f"min cosine {parity.get('min_cosine', float('nan')):.6f}"
                  + (f", agreement {parity['agreement']:.1%}" if parity.get("agreement") is not None else "")
                  + f"  [gate: {parity.get('gate', '')}: passed]")
    shapes = manifest.get("shapes") or {}
    if shapes.get("static"):
        table.add_row("lengths", _buckets_line(shapes))
    table.add_row("files", ", ".join(sorted(files)))
    return table


def _buckets_line(shapes: dict[str, Any]) -> str:
    """Static lengths, how they were chosen, and what they cost on the user's texts when there were texts."""
    how = shapes.get("buckets") or {}
    line = ", ".join(map(str, shapes.get("seq_lens", []))) + (f" ({how['how']})" if how.get("how") else "")
    used = how.get("on_texts")
    if used:
        line += (f"; on your {used['texts']} texts: {used['cut']} cut ({used['cut_share']:.1%}), "
                 f"{used['padding_share']:.0%} of the tokens run are padding")
    return line


def efficiency_table(table: list[Any], batch: int, seq_len: int) -> Table:
    """The seed's efficiency table, measured, with the seed's figures beside (one block per device)."""
    from edgebert.report.efficiency import HEADER, table_cells

    weights = {t.weights for t in table}
    title = (f"Efficiency, batch {batch}, seq {seq_len} (BERT-base PyTorch fp32 = 100)"
             + (" — RANDOM WEIGHTS: speed/memory/size only" if "random" in weights else ""))
    tbl = Table(title=title, title_justify="left")
    keep = [0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16]  # drop weights (in title) and the RSS detail columns
    for i in keep:
        tbl.add_column(HEADER[i], justify="left" if i < 2 else "right")
    last_group = None
    for t in table:
        if t.group != last_group:
            tbl.add_row(Text(str(t.group), style="bold"), *[""] * (len(keep) - 1))
            last_group = t.group
        cells = table_cells(t)
        tbl.add_row(*[cells[i] for i in keep])
    return tbl


def rows_table(rows: list[Any], title: str) -> Table:
    """`edgebert bench`: the rows just written (bench.rows.Row), one line each."""
    tbl = Table(title=title, title_justify="left")
    for col in ("model", "format", "runtime", "batch", "seq", "p50 ms", "p90 ms", "p99 ms", "seq/s", "peak RSS MB",
                "status"):
        tbl.add_column(col)
    for r in rows:
        num = (lambda k, f=".1f": format(getattr(r, k), f) if r.ok else "–")
        tbl.add_row(r.model, r.format, f"{r.runtime} {r.runtime_version}", str(r.batch), str(r.seq_len),
                    num("p50_ms"), num("p90_ms"), num("p99_ms"), num("throughput_seq_s"), num("peak_rss_mb", ".0f"),
                    "ok" if r.ok else f"failed: {r.reason[:60]}")
    return tbl


def _num(value: Any, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def verify_table(results: list[Any]) -> Table:
    """One line per bundle: golden-set figures against PyTorch and the verdict of the gate recorded at export."""
    tbl = Table(title="edgebert verify: golden inputs vs PyTorch, gate recorded at export", title_justify="left")
    for col in ("bundle", "format", "runtime", "samples", "max-abs", "mean cosine", "agreement", "gate", "result"):
        tbl.add_column(col)
    for v in results:
        r = v.result
        verdict = {"pass": "PASS", "fail": "FAIL"}.get(r.status, "ERROR") + (f": {r.reason}" if r.reason else "")
        tbl.add_row(v.bundle, v.format, v.runtime, str(r.samples or "–"), _num(r.max_abs, ".2e"),
                    _num(r.mean_cosine, ".6f"), _num(r.agreement, ".1%"), r.gate or "–", verdict)
    return tbl


def formats_text() -> str:
    """`edgebert formats`: each format, the extras it needs, and what consumes it in an app."""
    from edgebert.formats import FORMATS

    return "\n".join(f"{spec.name:22} {spec.description}  (export: edgebert[{spec.export_extra}], "
                     f"run: edgebert[{spec.runtime_extra}])\n{'':22} in an app: {spec.app_sdk}"
                     for spec in FORMATS.values())


def eval_table(rows: list[dict[str, Any]], data: Path) -> Table:
    """`edgebert eval`: the metric, retention against the first target, and how much text each one cut."""
    tbl = Table(title=f"{rows[0]['task']} on {data} ({rows[0]['rows']} rows)", title_justify="left")
    for col in ("model", "format", rows[0]["metric"], "other metrics", "retention %", "max tokens", "truncated"):
        tbl.add_column(col)
    for r in rows:
        others = ", ".join(f"{k} {v:.4f}" for k, v in r["metrics"].items() if k != r["metric"])
        tbl.add_row(r["model"], r["format"], f"{r['score']:.4f}", others, f"{r['retention_pct']:.1f}",
                    str(r["max_tokens"]), str(r["truncated_rows"]))
    return tbl


@contextlib.contextmanager
def training_progress(console: Any, name: str, steps: int) -> Iterator[Callable[[int, dict], None]]:
    """A progress bar on `console`; yields the on_step callback the training loop calls."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(name, style="bold", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console) as progress:
        task = progress.add_task("", total=steps)

        def on_step(step: int, rec: dict) -> None:
            terms = " ".join(f"{k}={v:.4f}" for k, v in rec.items() if k not in ("step", "lr", "step_s"))
            progress.update(task, completed=step, description=terms)

        yield on_step


def _final(history: list[dict[str, float]]) -> str:
    last = history[-1] if history else {}
    return ("\nfinal: " + ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "step")) if last else ""


def _resumed(step: int) -> str:
    return f" (resumed at step {step})" if step else ""


def distill_summary(result: Any) -> str:
    return (f"Student ({len(result.layer_map)} layers from teacher layers {result.layer_map}): "
            f"{result.student_parameters / 1e6:.1f}M parameters vs teacher {result.teacher_parameters / 1e6:.1f}M; "
            f"saved to {result.out}{_resumed(result.resumed_from)}{_final(result.history)}")


def finetune_summary(model: str, result: Any) -> str:
    return (f"Fine-tuned {model} on {result.train_rows} rows, {len(result.labels)} labels ({', '.join(result.labels)})"
            f"; {result.parameters / 1e6:.1f}M parameters; saved to {result.out}{_resumed(result.resumed_from)}"
            f"{_final(result.history)}")


def diff_tables(found: list[Any], threshold: float) -> list[Table]:
    """`edgebert diff`: one table per text, a row per LayerNorm, the first below the threshold marked."""
    tables = []
    for d in found:
        title = (f"{d.text[:60]!r}: output cosine {d.output_cosine:.6f}" if d.output_cosine is not None else
                 repr(d.text[:60]))
        tbl = Table(title=title, title_justify="left")
        for col in ("k", "layer (PyTorch)", "graph tensor", "min token cos", "mean token cos", "max-abs", "note"):
            tbl.add_column(col)
        for r in d.rows:
            note = ("FIRST < %g" % threshold if r["k"] == d.first_below else "") + (
                " largest drop" if r["k"] == d.largest_drop else "")
            tbl.add_row(str(r["k"]), r["torch"], r["graph"][-48:], f"{r['min_token_cos']:.5f}",
                        f"{r['mean_token_cos']:.5f}", f"{r['max_abs']:.2e}", note.strip())
        if not d.rows:
            tbl.add_row("–", "output only: this runtime keeps no intermediate tensors", "", "", "", "", "")
        tables.append(tbl)
    return tables
