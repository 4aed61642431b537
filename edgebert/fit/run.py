"""`edgebert fit`, end to end: prepare (checks first: a bad request writes nothing) -> the teacher's importance and
held-out score -> candidates -> costs (measured here, or read from another device's rows) -> training (successive
halving within --max-hours) -> the chosen bundle -> candidates.jsonl, report.md, charts. Every stage keeps what it
finished under OUT/work (content-keyed), so a killed fit resumes without redoing it."""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from edgebert.bench.rows import append_rows
from edgebert.fit.prepare import MARKER, FitRequest, Prepared, candidate_list, check_out, prepare
from edgebert.fit.search import Entry, Halving
from edgebert.fit.shape import Candidate, Shape, content_key
from edgebert.fit.train import MODEL_DIR, run_jobs, stop_ray

RECIPES = {"task": {"temperature": 4.0, "alpha_kd": 0.5, "alpha_ce": 0.5, "alpha_cos": 0.0, "alpha_mlm": 0.0},
           "embedding": {"temperature": 1.0, "alpha_kd": 0.0, "alpha_ce": 0.0, "alpha_cos": 0.0, "alpha_mlm": 0.0}}
RUNGS = "rungs.jsonl"


@dataclass
class FitResult:
    out: Path
    records: list[dict[str, Any]]
    chosen: dict[str, Any] | None
    seconds: dict[str, float]
    verdict: str  # "" when a candidate met the budget, else the one-line reason
    notes: dict[str, Any] = field(default_factory=dict)


def _teacher_side(req: FitRequest, prep: Prepared, log: Callable[[str], None]) -> dict[str, Any]:
    """Importance scores (saved for the training jobs) and the teacher's held-out score / embeddings; cached."""
    import numpy as np
    import torch

    from edgebert.distill.heldout import metric_eval
    from edgebert.distill.metrics import task_metric
    from edgebert.distill.run import load_teacher
    from edgebert.fit.student import pooled, teacher_importance

    key = content_key(prep.teacher_key, prep.data_key, req.max_len)
    meta_path = req.work / "teacher.json"
    if meta_path.is_file() and json.loads(meta_path.read_text()).get("key") == key:
        return json.loads(meta_path.read_text())
    log("[prepare] the teacher's head/neuron importance and held-out score")
    data = prep.data
    teacher, tokenizer = load_teacher(str(prep.teacher_dir), data.objective)
    scores = teacher_importance(teacher, tokenizer, data.train_texts, data.train_labels, req.max_len)
    torch.save({"heads": scores["heads"], "neurons": scores["neurons"]}, req.work / "importance.pt")
    meta: dict[str, Any] = {"key": key, "importance": {"method": scores["method"], "examples": scores["examples"]}}
    if data.objective == "task":
        metric = task_metric(data.task)
        meta["teacher_score"] = metric_eval(tokenizer, (data.dev_texts, None), data.dev_labels, data.task,
                                            req.max_len)(teacher)[metric]
        meta["metric"] = metric
    else:
        np.save(req.work / "teacher-embeddings.npy", pooled(teacher, tokenizer, data.dev_texts, req.max_len))
        meta["teacher_score"], meta["metric"] = 1.0, "cosine"
    meta_path.write_text(json.dumps(meta))
    return meta


def _costs(req: FitRequest, prep: Prepared, cands: list[Candidate], board: dict | None,
           log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    from edgebert.fit.costs import CostContext, run_costs

    if board is not None:
        return board
    ctx = CostContext(prep.teacher_dir, prep.teacher_config, prep.tokenizers(), req.texts, req.texts_name, req.work,
                      req.budget, req.threads, req.min_seconds, log=log)
    return run_costs(cands, ctx)


def _spread(items: list[Any], n: int) -> list[Any]:
    """At most n of `items` (ordered by cost), spread over the range: the cheapest and the dearest always in."""
    if len(items) <= n:
        return items
    picks = sorted({round(i * (len(items) - 1) / (n - 1)) for i in range(n)}) if n > 1 else [0]
    return [items[i] for i in picks]


def _job(req: FitRequest, prep: Prepared, meta: dict[str, Any], shape: Shape, steps: int) -> dict[str, Any]:
    vocab = content_key(prep.shrunk[1]) if prep.shrunk and shape.vocab == len(prep.shrunk[1]) else "teacher"
    recipe = RECIPES[prep.data.objective]
    key = content_key(shape.key(), prep.teacher_key, prep.data_key, req.train_settings(), recipe, vocab,
                      meta["importance"])
    workers = max(1, req.workers)
    return {"key": key, "label": shape.label, "shape": {**asdict(shape), "layer_map": list(shape.layer_map)},
            "teacher": str(prep.teacher_dir), "data": str(req.data),
            "eval_data": str(req.eval_data) if req.eval_data else None, "label_names": prep.data.label_names,
            "train": req.train_settings(), "stop_at": steps, "recipe": recipe,
            "scores": str(req.work / "importance.pt"), "vocab_dir": str(req.work / "vocab") if prep.shrunk else None,
            "workdir": str(req.work / "train" / key), "threads": max(1, (req.threads or os.cpu_count() or 1) // workers),
            "teacher_score": meta["teacher_score"], "teacher_embeddings": str(req.work / "teacher-embeddings.npy")}


def _cached(job: dict[str, Any]) -> dict[str, Any] | None:
    path = Path(job["workdir"]) / RUNGS
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("step") == job["stop_at"] and (Path(job["workdir"]) / MODEL_DIR).is_dir():
            return rec
    return None


def _survivors(req: FitRequest, cands: list[Candidate], costs: dict[str, dict]) -> dict[str, list[Candidate]]:
    """Shapes (by shape key) with at least one candidate meeting every cost limit, each with those candidates."""
    shapes: dict[str, list[Candidate]] = {}
    for c in cands:
        rec = costs.get(c.name) or {}
        if rec.get("status") == "measured" and not req.budget.misses(rec["costs"]):
            shapes.setdefault(c.shape.key(), []).append(c)
    return shapes


def _p95(costs: dict[str, dict], c: Candidate) -> float:
    return (costs[c.name]["costs"].get("p95_ms") or 0.0) if costs.get(c.name) else 0.0


def _training(req: FitRequest, prep: Prepared, meta: dict, survivors: dict[str, list[Candidate]],
              costs: dict[str, dict], deadline: float | None, log: Callable[[str], None]) -> dict[str, Any]:
    """Successive halving over the surviving shapes; returns entries and their jobs by training key."""
    ordered = sorted(survivors.values(), key=lambda cs: min(_p95(costs, c) for c in cs) or cs[0].shape.gflop(128))
    picked = _spread(ordered, req.max_trained)
    jobs = {}
    entries = []
    for cs in picked:
        job = _job(req, prep, meta, cs[0].shape, req.steps)
        jobs[job["key"]] = (job, cs)
        entries.append(Entry(job["key"], min(_p95(costs, c) for c in cs) or cs[0].shape.gflop(128)))

    def train(alive: list[Entry], steps: int) -> list[dict[str, Any]]:
        results, todo = [], []
        for e in alive:
            job = {**jobs[e.key][0], "stop_at": steps}
            hit = _cached(job)
            results.append(hit) if hit else todo.append(job)
        for result in run_jobs(todo, req.workers, req.ray):
            if "error" not in result:
                append_rows(Path(jobs[result["key"]][0]["workdir"]) / RUNGS, [result])
            log(f"[train] {jobs[result['key']][0]['label']}: " + (result.get("error") or
                f"step {result['step']}, retention {100 * result['retention']:.1f}% ({result['train_s']:.0f} s)"))
            results.append(result)
        return results

    halving = Halving(req.steps, req.budget.min_retention, deadline, req.eta, log)
    try:
        halving.run(entries, train)
    finally:
        stop_ray()
    return {"entries": entries, "jobs": jobs, "skipped": [cs for cs in ordered if cs not in picked],
            "stopped": halving.stopped}


def _choose(req: FitRequest, prep: Prepared, meta: dict, trained: dict[str, Any], costs: dict[str, dict],
            log: Callable[[str], None]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """Export the best trained candidate meeting the budget (most trained, then best retention); a format whose
    export or artifact retention fails falls through to the next. Returns evidence and failures by name."""
    from edgebert.fit.choose import export_chosen

    failures: dict[str, str] = {}
    ranked = sorted((e for e in trained["entries"] if e.rungs and not e.error),
                    key=lambda e: (-len(e.rungs), -(e.retention or 0), e.cost))
    for entry in ranked:
        if req.budget.min_retention is not None and entry.retention < req.budget.min_retention:
            continue
        job, cs = trained["jobs"][entry.key]
        for c in sorted(cs, key=lambda c: _p95(costs, c)):
            evidence = {"candidate": c.to_dict(), "costs_random_weights": costs[c.name]["costs"],
                        "dev_retention_pytorch": entry.retention, "rungs": entry.rungs,
                        "teacher_score": meta["teacher_score"], "metric": meta["metric"],
                        "held_out": prep.data.held_out, "texts": req.texts_name, "training_key": entry.key}
            log(f"[export] {c.label} -> {req.out / 'chosen'}")
            try:
                evidence = export_chosen(c, Path(job["workdir"]) / MODEL_DIR, req, prep, evidence)
            except Exception as err:  # noqa: BLE001 - a gate miss falls through to the next candidate
                failures[c.name] = f"chosen export failed: {type(err).__name__}: {err}"[:300]
                continue
            art = evidence["artifact"]["retention"]
            if req.budget.min_retention is not None and art < req.budget.min_retention:
                failures[c.name] = f"artifact retention {100 * art:.1f}% < --min-retention"
                continue
            return evidence, failures
    return None, failures


def _candidates_only(req: FitRequest, prep: Prepared, cands: list[Candidate], log: Callable[[str], None]
                     ) -> FitResult:
    """Write every candidate's random-weight bundle straight into OUT (so `edgebert bench OUT/*` takes them all) and
    the plan beside them (a dot-file the glob skips)."""
    from edgebert.bundle import MANIFEST
    from edgebert.fit.costs import CostContext, export_candidate, predicted_miss

    ctx = CostContext(prep.teacher_dir, prep.teacher_config, prep.tokenizers(), req.texts, req.texts_name, req.out,
                      req.budget)
    records = []
    for i, c in enumerate(cands, 1):
        reason = predicted_miss(c, req.budget)
        if reason is None and not (req.out / c.name / MANIFEST).is_file():
            log(f"[candidates {i}/{len(cands)}] {c.label} -> {req.out / c.name}")
            export_candidate(c, ctx, req.out / c.name)
        records.append({**c.to_dict(), "status": "dropped" if reason else "exported", "reason": reason or ""})
    (req.out / ".fit-plan.json").write_text(json.dumps(records, indent=1))
    return FitResult(req.out, records, None, {}, "")


def fit(req: FitRequest, log: Callable[[str], None] = lambda m: None) -> FitResult:
    """The whole fit; a request that cannot be met ends with `verdict` set (the report is written either way)."""
    import shutil

    from edgebert.fit.costs import board_costs
    from edgebert.fit.report import build_records, verdict, write_outputs

    start = time.time()
    prep = prepare(req)  # every refusal happens before the output folder is touched
    cands = candidate_list(req, prep)
    board = board_costs(req.costs, cands, req.budget) if req.costs else None
    check_out(req)
    req.out.mkdir(parents=True, exist_ok=True)
    if req.candidates_only:
        return _candidates_only(req, prep, cands, log)
    req.work.mkdir(parents=True, exist_ok=True)
    (req.out / MARKER).write_text(json.dumps({"teacher": req.teacher, "data": str(req.data), "state": "running"}))
    if prep.shrunk:
        from edgebert.fit.vocab import save

        save(req.work / "vocab", *prep.shrunk)
    meta = _teacher_side(req, prep, log)
    seconds = {"prepare_s": time.time() - start}
    t = time.time()
    costs = _costs(req, prep, cands, board, log)
    seconds["costs_s"] = time.time() - t
    deadline = start + req.budget.max_hours * 3600 if req.budget.max_hours else None
    t = time.time()
    trained = _training(req, prep, meta, _survivors(req, cands, costs), costs, deadline, log)
    seconds["training_s"] = time.time() - t
    t = time.time()
    chosen, failures = _choose(req, prep, meta, trained, costs, log)
    seconds["export_s"] = time.time() - t
    if chosen is None:
        shutil.rmtree(req.out / "chosen", ignore_errors=True)
    seconds = {k: round(v, 1) for k, v in {**seconds, "total_s": time.time() - start}.items()}
    records = build_records(req, cands, costs, trained, chosen, failures)
    result = FitResult(req.out, records, chosen, seconds, "" if chosen else verdict(req.budget, records),
                       {"meta": meta, "vocab": prep.shrunk[2].to_dict() if prep.shrunk else None,
                        "stopped": trained["stopped"], "lengths": prep.lengths, "board": bool(board),
                        "data": {"train": len(prep.data.train_texts), "held_out": prep.data.held_out}})
    write_outputs(req, result)
    return result
