"""Rich renderings of core results (the CLI prints these; the core returns plain data)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table


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
    table.add_row("files", ", ".join(sorted(files)))
    return table
