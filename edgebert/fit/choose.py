"""The answer: the trained student that meets the budget, exported to its cheapest surviving format (the real
parity gate and golden set, gated on the user's own held-out text), its artifact's retention measured on the
held-out rows, its latency measured again with the real weights, and the budget and evidence in its manifest."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from edgebert.fit.prepare import FitRequest, Prepared
from edgebert.fit.shape import Candidate

GATE_TEXTS = 64


def artifact_retention(bundle: Path, prep: Prepared, work: Path, teacher_score: float) -> dict[str, Any]:
    """The bundle's held-out score and retention: the task metric vs the teacher's, or the mean cosine of its
    sentence vectors to the teacher's embeddings."""
    data = prep.data
    if data.objective == "task":
        import csv

        from edgebert.distill.evaluate import evaluate

        dev = work / "held-out.csv"
        names = data.label_names or []
        with open(dev, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["text", "label"])
            writer.writerows([t, names[int(y)] if names else y] for t, y in zip(data.dev_texts, data.dev_labels))
        row = evaluate([str(bundle)], dev)[0]
        return {"score": row["score"], "metric": row["metric"], "retention": row["score"] / teacher_score,
                "rows": row["rows"], "truncated_rows": row.get("truncated_rows")}
    from edgebert.runtime import load

    vectors = np.array([r["embedding"] for r in load(bundle).predict(data.dev_texts)])
    teacher = np.load(work / "teacher-embeddings.npy")
    cos = (vectors * teacher).sum(1) / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(teacher, axis=1) + 1e-12)
    return {"score": float(cos.mean()), "metric": "cosine", "retention": float(cos.mean()), "rows": len(cos)}


def _real_row(bundle: Path, req: FitRequest, prep: Prepared) -> dict[str, Any]:
    """The chosen bundle's text-to-answer row with its real weights (costs were measured with random ones)."""
    from edgebert.fit.costs import CostContext, limited_row, limits_unavailable, row_costs

    ctx = CostContext(prep.teacher_dir, prep.teacher_config, prep.tokenizers(), req.texts, req.texts_name, req.work,
                      req.budget, req.threads, req.min_seconds)
    row, memory = limited_row(bundle, ctx, limits_unavailable(req.budget))
    return {**row_costs(row), "memory": memory, "status": row.status, "reason": row.reason}


def _finished(folder: Path, c: Candidate, evidence: dict[str, Any]) -> dict[str, Any] | None:
    """The evidence in an existing chosen/ bundle when it is this candidate from this training run."""
    try:
        found = json.loads((folder / "manifest.json").read_text())["fit"]["evidence"]
    except (OSError, ValueError, KeyError):
        return None
    same = found.get("candidate", {}).get("name") == c.name and found.get("training_key") == evidence["training_key"]
    return found if same and found.get("rungs") == evidence["rungs"] else None


def export_chosen(c: Candidate, model_dir: Path, req: FitRequest, prep: Prepared, evidence: dict[str, Any]
                  ) -> dict[str, Any]:
    """Export the trained student as OUT/chosen (staged: the folder appears only complete, with the fit section in
    its manifest); returns the evidence, the artifact's retention and real-weight row included."""
    from edgebert.bundle import write_manifest
    from edgebert.export import export_model
    from edgebert.formats.base import ExportOptions
    from edgebert.models import load_model, with_head

    done = _finished(req.out / "chosen", c, evidence)
    if done is not None:  # a resumed fit: this very student was exported and checked already
        return done
    model = with_head(load_model(str(model_dir)), prep.teacher_dir, None) if c.shape.task != "classification" \
        else load_model(str(model_dir))
    gate_texts = prep.data.dev_texts[:GATE_TEXTS]
    opts = ExportOptions(seq_lens=[c.seq] if c.seq else [128], calibration_texts=gate_texts,
                         fp32_layers={"fp32": "emb", "int8": "none"}.get(c.embedding, "auto"))
    staging = req.out / ".chosen.partial"
    shutil.rmtree(staging, ignore_errors=True)
    manifest = export_model(model, c.format, staging, opts, force=True, texts=gate_texts)
    try:
        evidence = {**evidence, "artifact": artifact_retention(staging, prep, req.work, evidence["teacher_score"]),
                    "real_weights_row": _real_row(staging, req, prep)}
        fields = {k: v for k, v in manifest.items() if k not in ("files", "manifest_version")}
        write_manifest(staging, {**fields, "fit": {"budget": req.budget.to_dict(), "evidence": evidence}})
        final = req.out / "chosen"
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    (req.work / "chosen.json").write_text(json.dumps(evidence, indent=2, default=str))
    return evidence
