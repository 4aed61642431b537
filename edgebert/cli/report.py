"""`edgebert report`: bench and eval rows -> the efficiency table, cost, scenario picks, charts, regression gate."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from edgebert.cli.app import command
from edgebert.cli.common import out, positive
from edgebert.errors import CheckFailed, UsageError
from edgebert.report import ReportOptions
from edgebert.report.gate import Limits

D, L = ReportOptions(), Limits()


@command()
def report(
    results: Annotated[List[Path], typer.Argument(help="One or more results JSONL files (several machines merge).",
                                                  metavar="RESULTS...")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for report.md and charts.")
                       ] = Path("results/report"),
    batch: Annotated[int, typer.Option(help="Batch of the table's rows.")] = D.batch,
    seq: Annotated[int, typer.Option(help="Sequence length of the table's rows.")] = D.seq_len,
    baseline: Annotated[Optional[List[Path]], typer.Option(help="Earlier results to gate against (regression gate).")
                        ] = None,
    max_slowdown: Annotated[str, typer.Option(help="Gate: latency growth allowed vs --baseline.")
                            ] = f"{L.max_slowdown:.0%}",
    max_size_growth: Annotated[str, typer.Option(help="Gate: size growth allowed vs --baseline.")
                               ] = f"{L.max_size_growth:.0%}",
    max_accuracy_drop: Annotated[float, typer.Option(help="Gate: task-metric points (x 100) that may be lost.")
                                 ] = L.max_accuracy_drop,
    price_per_hour: Annotated[float, typer.Option(help="USD per core-hour for the cost table.")
                              ] = D.price_per_core_hour,
    constraint: Annotated[Optional[List[str]], typer.Option(help="Scenario limit, e.g. mobile-app.max_file_mb=50 "
                                                                 "(repeatable).")] = None,
) -> None:
    """Rebuild the efficiency table, cost, scenario picks, accuracy and charts from bench/eval results.

    With --baseline, also the regression gate: exit 1 naming each breach."""
    from edgebert.render import efficiency_table
    from edgebert.report import write_report
    from edgebert.report.gate import parse_fraction

    positive(batch, "--batch")
    positive(seq, "--seq")
    if max_accuracy_drop < 0:
        raise UsageError(f"--max-accuracy-drop must not be negative (got {max_accuracy_drop:g})")
    limits = Limits(parse_fraction(max_slowdown, "--max-slowdown"),
                    parse_fraction(max_size_growth, "--max-size-growth"), max_accuracy_drop)
    result = write_report(list(results), out_dir, ReportOptions(batch, seq, price_per_hour, list(constraint or []),
                                                                list(baseline or []), limits))
    if result.table:
        out.print(efficiency_table(result.table, batch, seq))
    out.print("Wrote " + ", ".join(str(p) for p in result.paths))
    if result.breaches:
        raise CheckFailed(f"{len(result.breaches)} regression(s) vs the baseline: " + "; ".join(
            f"{c.what} {c.key}: {c.old:.4g} -> {c.new:.4g}" for c in result.breaches)
            + f" (rules in {out_dir}/report.md)")
