"""What every command shares: the two consoles, number parsing, and option declarations used by several commands.

Defaults are read from the core's own dataclasses (ExportOptions, SweepConfig, ReportOptions, TrainConfig), so a
default lives in one place; the options below only carry the help text.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, List, Optional

import typer
from rich.console import Console

from edgebert.errors import UsageError

# Markup off: "pip install 'edgebert[onnx]'" and CPU flags like "[asimddp]" must not be eaten as rich tags.
err = Console(stderr=True, highlight=False, markup=False)
out = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 220)


def positive(value: int | None, flag: str) -> None:
    if value is not None and value <= 0:
        raise UsageError(f"{flag} must be a positive whole number (got {value})")


def csv_ints(text: str, flag: str) -> list[int]:
    """'1,8' -> [1, 8]; anything else is a usage error naming the flag."""
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{flag} takes comma-separated whole numbers, e.g. 1,8 (got '{text}')") from None
    if not values or any(v < 1 for v in values):
        raise UsageError(f"{flag} takes positive whole numbers, e.g. 1,8 (got '{text}')")
    return values


def columns(text: str | None, pair: str | None, label: str | None) -> Any:
    """The data columns named by --text-column/--pair-column/--label-column, or None for the defaults."""
    from edgebert.distill.data import Columns

    return Columns.from_flags(text, pair, label) if (text or pair or label) else None


GLUE = "sst2, cola, mrpc, qqp, mnli, qnli, rte, stsb, wnli"
Device = Annotated[str, typer.Option(help="cpu | cuda | tensorrt", metavar="DEVICE")]
Threads = Annotated[Optional[int], typer.Option(help="Intra-op threads [default: the runtime's].", show_default=False)]
Force = Annotated[bool, typer.Option("--force", help="Replace a non-empty output folder.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Task = Annotated[Optional[str], typer.Option(help=f"A GLUE preset for columns, labels and metric: {GLUE}.")]
TextColumn = Annotated[Optional[str], typer.Option(help="Column with the text [text or sentence].")]
PairColumn = Annotated[Optional[str], typer.Option(help="Column with an optional second text (pairs).")]
LabelColumn = Annotated[Optional[str], typer.Option(help="Column with the label [label].")]
SkipBadRows = Annotated[bool, typer.Option(help="Skip (and count) malformed data rows instead of failing.")]
Bundles = Annotated[List[Path], typer.Argument(help="Bundle folders.", metavar="BUNDLES...")]
