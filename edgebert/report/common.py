"""What the report's sections share: the reference figures (edgebert/reference.json), short model names, chart
saving, bench rows grouped by device, model and format at one shape, and the relabelling that keeps two bundles of one
format from sharing those groups."""
from __future__ import annotations

import functools
import json
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from edgebert.bench.rows import Row
from edgebert.device_info import DeviceKey

BASELINE_MODEL = "bert-base-uncased"  # relative figures and the gate's ratio rule: BERT-base in eager PyTorch fp32
SHORT_NAMES = {"bert-base-uncased": "BERT-base", "distilbert-base-uncased": "DistilBERT"}


@functools.lru_cache(maxsize=1)
def reference() -> dict[str, Any]:
    """The only typed-in numbers of a report: the seed's and the paper's figures, shown beside measured ones."""
    return json.loads(resources.files("edgebert").joinpath("reference.json").read_text())


def short_name(model: str, width: int) -> str:
    """A chart label: BERT-base / DistilBERT for the two baselines, else the model name cut to `width`."""
    return SHORT_NAMES.get(model, model[:width])


def save_chart(fig: Any, path: Path) -> Path:
    """Lay out, write (PNG, 110 dpi) and close a matplotlib figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def per_artifact(rows: list[Row], batch: int, seq_len: int, keep: Callable[[Row], bool] = lambda r: True
                 ) -> dict[tuple[DeviceKey, str, str], list[Row]]:
    """(device, model, format) -> its ok rows at (batch, seq_len) that `keep` accepts, repeats together."""
    found: dict[tuple[DeviceKey, str, str], list[Row]] = {}
    for r in rows:
        if r.ok and r.batch == batch and r.seq_len == seq_len and keep(r):
            found.setdefault((r.device_key, r.model, r.format), []).append(r)
    return found


def tell_bundles_apart(rows: list[Row], evals: list[dict[str, Any]]) -> tuple[list[Row], list[dict[str, Any]]]:
    """Every section groups by (model, format), so two bundles of one model and format (an A/B of two onnx-int8
    files, a four-bucket tflite-int8 beside a one-length one) would merge into one median. Where a (model, format)
    has rows of more than one bundle, each of its rows (bench and eval alike) gets the format 'FORMAT (BUNDLE)'; with
    one bundle per format nothing changes. Rows measured before rows named their bundle ("") never cause a split."""
    names: dict[tuple[str, str], set[str]] = {}
    for model, fmt, bundle in [(r.model, r.format, r.bundle) for r in rows] + \
            [(e["model"], e["format"], e.get("bundle", "")) for e in evals]:
        if bundle:
            names.setdefault((model, fmt), set()).add(bundle)
    split = {key for key, found in names.items() if len(found) > 1}
    return ([replace(r, format=f"{r.format} ({r.bundle})") if (r.model, r.format) in split and r.bundle else r
             for r in rows],
            [{**e, "format": f"{e['format']} ({e['bundle']})"} if (e["model"], e["format"]) in split and
             e.get("bundle") else e for e in evals])
