"""`edgebert diff`: a bundle against its PyTorch reference, layer by layer."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from edgebert.cli.app import command
from edgebert.cli.common import AsJson, out
from edgebert.diff import DEFAULT_THRESHOLD
from edgebert.errors import CheckFailed


@command()
def diff(
    bundle: Annotated[Path, typer.Argument(help="An exported bundle folder (its source model must be loadable here).")],
    text: Annotated[Optional[List[str]], typer.Option("--text", help="A text to trace (repeatable) [default: the "
                                                      "bundle's golden texts].", show_default=False)] = None,
    threshold: Annotated[float, typer.Option(help="Flag the first layer whose worst token cosine falls below this.")
                         ] = DEFAULT_THRESHOLD,
    as_json: AsJson = False,
) -> None:
    """Where a bundle's numbers leave PyTorch's: each LayerNorm output compared token by token (cosine, max-abs),
    the first layer below --threshold and the layer adding the most drift named. Exit 3 when a layer falls below."""
    from edgebert.diff import diff as run_diff
    from edgebert.render import diff_tables

    found = run_diff(bundle, list(text or []), threshold)
    if as_json:
        out.print_json(json.dumps([d.to_dict() for d in found]))
    else:
        for table in diff_tables(found, threshold):
            out.print(table)
    below = [d for d in found if d.first_below is not None]
    if below:
        raise CheckFailed(f"{len(below)} of {len(found)} texts drift below {threshold:g} at layer "
                          + ", ".join(str(d.first_below) for d in below) + " (LayerNorm index; 0 = embeddings)", 3)
