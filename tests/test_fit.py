"""`edgebert fit` end to end on a tiny fine-tuned teacher: candidates measured before training, the ones a budget
rules out never trained, the chosen bundle exported and verified with its evidence, a rerun that redoes nothing, a
budget nothing meets (exit 1, the binding limit and the closest candidate named, the report still written), costs
from another device (--candidates-only, `edgebert bench`, --costs), and bad requests refused before anything is
written. The fit's parts one by one: tests/test_fit_units.py; pruning: tests/test_prune.py."""
from __future__ import annotations

import json
import re
import shutil
import statistics
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.synthetic import finetuned_teacher, write_task

# 2 depths x 2 head counts, FFN as is, onnx-int8 with an int8 or fp32 word embedding: 8 candidates. The int8
# embedding of the 30522-piece vocabulary is ~1 MB, the fp32 one ~3.9 MB: a 2 MB limit rules the fp32 ones out.
SPACE = ("--formats", "onnx-int8", "--depths", "1,2", "--heads", "1,2", "--ffn", "64", "--vocab", "full",
         "--embedding", "int8,fp32", "--steps", "24", "--batch-size", "32", "--lr", "2e-3", "--max-len", "32",
         "--min-seconds", "0.2", "--max-trained", "4")
# the fixture's budget: reruns pass it again (a memory limit is part of the device profile costs are keyed on)
BUDGET = ("--max-size-mb", "2", "--min-retention", "0.9", "--max-memory-mb", "1500")


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    from edgebert.models import require_torch

    require_torch()
    root = tmp_path_factory.mktemp("fit")
    train, dev = write_task(root, 320, 80)
    texts = root / "texts.txt"
    texts.write_text("\n".join(line.split("\t")[0] for line in dev.read_text().splitlines()[1:41]) + "\n")
    return root, train, dev, texts, finetuned_teacher(root, train)


def _fit(capsys, task, out, *extra):
    root, train, dev, texts, teacher = task
    return run_cli(capsys, "fit", teacher, "--data", train, "--eval-data", dev, "--texts", texts, *SPACE,
                   "--out", out, *extra)


def _records(out: Path) -> dict[str, dict]:
    return {r["label"]: r for r in map(json.loads, (out / "candidates.jsonl").read_text().splitlines())}


@pytest.fixture(scope="module")
def fitted(task, tmp_path_factory):
    """One fit with a size limit and a retention floor (module-scoped: the tests below copy it before changing it)."""
    from edgebert.cli import main

    root, train, dev, texts, teacher = task
    out = tmp_path_factory.mktemp("fitted") / "fit"
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in ("fit", teacher, "--data", train, "--eval-data", dev, "--texts", texts, *SPACE,
                               *BUDGET, "--out", out)])
    assert exc.value.code in (0, None)
    return out


def test_fit_measures_first_trains_what_fits_and_exports_the_winner(fitted, capsys):
    records = _records(fitted)
    assert len(records) == 8
    fp32_emb = {k: r for k, r in records.items() if r["embedding"] == "fp32"}
    # predicted over the 2 MB limit from parameter counts x bytes: never exported, never measured
    assert len(fp32_emb) == 4 and all(r["status"] == "dropped" and "> --max-size-mb 2" in r["reason"]
                                      and not r.get("costs") for r in fp32_emb.values()), fp32_emb
    chosen = [r for r in records.values() if r["status"] == "chosen"]
    assert len(chosen) == 1 and chosen[0]["embedding"] == "int8"
    c = chosen[0]
    assert c["costs"]["file_mb"] <= 2 and c["costs"]["golden"] == "pass" and c["retention"] >= 0.9
    from edgebert.fit.limits import unavailable

    memory = c["costs"]["memory"]
    if unavailable() is None:  # a real limit: the worker ran in a 1500 MB cgroup and was charged what it used
        assert (memory["check"], memory["fits"], memory["oom_killed"]) == ("cgroup-v1", True, False)
        assert 20 < memory["charged_max_mb"] <= 1500
    else:  # no writable cgroup here: peak RSS against the limit, and the row says it is an estimate and why
        assert memory["check"] == "estimate" and unavailable() in memory["how"]
    # successive halving: the winner was trained through every rung, the last one at --steps
    assert c["rungs"][-1]["step"] == 24 and [r["step"] for r in c["rungs"]] == sorted(r["step"] for r in c["rungs"])
    manifest = json.loads((fitted / "chosen" / "manifest.json").read_text())
    assert manifest["format"] == "onnx-int8" and manifest["parity"]["passed"]
    evidence = manifest["fit"]["evidence"]
    assert manifest["fit"]["budget"] == {"max_size_mb": 2.0, "min_retention": 0.9, "max_memory_mb": 1500.0}
    assert evidence["artifact"]["retention"] >= 0.9 and evidence["candidate"]["label"] == c["label"]
    report = (fitted / "report.md").read_text()
    assert f"**Chosen: {c['label']}**" in report and (fitted / "pareto.png").stat().st_size > 10_000
    # the chosen bundle is a bundle like any other: a device re-checks it with the runtime only
    assert run_cli(capsys, "verify", fitted / "chosen").code == 0


def test_a_rerun_redoes_nothing_and_a_budget_nothing_meets_says_why(fitted, task, capsys, tmp_path):
    out = tmp_path / "fit"
    shutil.copytree(fitted, out)
    rows = (out / "work" / "cost-rows.jsonl").read_text()
    again = _fit(capsys, task, out, *BUDGET)
    assert again.code == 0, again.err
    # every cost row and training rung was kept: nothing measured or trained again, the same answer
    assert (out / "work" / "cost-rows.jsonl").read_text() == rows
    measured = [ln for ln in again.err.splitlines() if ln.startswith("[costs") and "p95" in ln]
    assert len(measured) == 4 and all(ln.endswith("(kept from an earlier run)") for ln in measured), again.err
    assert not re.search(r"^\[train\] \dL", again.err, re.M), again.err
    assert {k: (r["status"], r.get("retention")) for k, r in _records(out).items()} == \
        {k: (r["status"], r.get("retention")) for k, r in _records(fitted).items()}
    cheapest = min(r["costs"]["p95_ms"] for r in _records(fitted).values() if r.get("costs"))
    missed = _fit(capsys, task, out, *BUDGET, "--max-latency-ms", f"{cheapest / 100:.6f}")
    assert missed.code == 1
    line = missed.err.strip().splitlines()[-1]
    assert "latency" in line and "closest" in line, missed.err
    assert (out / "report.md").is_file() and not (out / "chosen").exists()
    assert all(r["status"] != "chosen" for r in _records(out).values())


def test_costs_from_another_device_round_trip(fitted, task, capsys, tmp_path):
    root, train, dev, texts, teacher = task
    cand = tmp_path / "cand"
    wrote = _fit(capsys, task, cand, "--max-size-mb", "2", "--candidates-only")
    assert wrote.code == 0, wrote.err
    bundles = sorted(p for p in cand.iterdir() if (p / "manifest.json").is_file())
    assert len(bundles) == 4  # the fp32-embedding ones are predicted over 2 MB: not worth a device's time
    rows = tmp_path / "board.jsonl"
    assert run_cli(capsys, "bench", *bundles, "--texts", texts, "--min-seconds", "0.2", "--out", rows).code == 0
    out = tmp_path / "fit"
    shutil.copytree(fitted, out)
    used = _fit(capsys, task, out, *BUDGET, "--costs", rows)
    assert used.code == 0, used.err
    # costs come from the device's rows (nothing measured here); the halving, ranked by them, may train other shapes
    assert not re.search(r"^\[costs \d", used.err, re.M), used.err
    chosen = next(r for r in _records(out).values() if r["status"] == "chosen")
    board = [json.loads(line) for line in rows.read_text().splitlines()]
    mine = [r["p95_ms"] for r in board if r["model"] == chosen["name"] and r["input"].startswith("texts:")]
    assert mine and chosen["costs"]["p95_ms"] == statistics.median(mine)
    # rows from another teacher's candidates are refused, by name
    other = tmp_path / "other.jsonl"
    other.write_text(rows.read_text().replace("fit-", "fit-0"))
    refused = _fit(capsys, task, tmp_path / "never", "--costs", other)
    assert refused.code == 2 and not (tmp_path / "never").exists()


@pytest.mark.parametrize("extra, message", [
    (("--max-latency-ms", "-1"), "--max-latency-ms must be positive"),
    (("--min-retention", "1.5"), "--min-retention is a fraction of the teacher's score in (0, 1] (got 1.5)"),
    (("--formats", "onnx-int8-static"), "fit cannot search format 'onnx-int8-static'"),
    (("--candidates-only", "--costs", "x.jsonl"), "pick one"),
])
def test_bad_requests_exit_2_and_write_nothing(task, capsys, tmp_path, extra, message):
    result = _fit(capsys, task, tmp_path / "out", *extra)
    assert result.code == 2 and message in result.err and len(result.err.strip().splitlines()) == 1, result.err
    assert not (tmp_path / "out").exists()


def test_a_teacher_without_a_head_or_no_texts_is_refused(task, tiny_encoder, capsys, tmp_path):
    root, train, dev, texts, teacher = task
    headless = run_cli(capsys, "fit", tiny_encoder, "--data", train, "--out", tmp_path / "a")
    assert headless.code == 2 and "has no classification head" in headless.err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    no_texts = run_cli(capsys, "fit", teacher, "--data", train, "--texts", empty, "--out", tmp_path / "b")
    assert no_texts.code == 2 and len(no_texts.err.strip().splitlines()) == 1, no_texts.err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_trainings_on_a_local_ray_instance_give_the_same_student(fitted, task, capsys, tmp_path):
    """The winner's training redone as Ray tasks (one per successive-halving rung, resumed from its checkpoint) scores
    exactly what it scored in this process: same seeds, same schedule, same function."""
    pytest.importorskip("ray", reason="pip install 'edgebert[ray]'")
    out = tmp_path / "fit"
    shutil.copytree(fitted, out)
    winner = next(r for r in _records(fitted).values() if r["status"] == "chosen")
    shutil.rmtree(out / "work" / "train" / winner["training_key"])
    shutil.rmtree(out / "chosen")
    again = _fit(capsys, task, out, *BUDGET, "--ray", "local")
    assert again.code == 0, again.err
    rungs = [json.loads(line) for line in
             (out / "work" / "train" / winner["training_key"] / "rungs.jsonl").read_text().splitlines()]
    assert [r["ran_on"] for r in rungs] == ["ray"] * len(winner["rungs"])
    assert [(r["step"], r["score"]) for r in rungs] == [(r["step"], r["score"]) for r in winner["rungs"]]
    from safetensors.numpy import load_file

    weights = [load_file(d / "work" / "train" / winner["training_key"] / "model" / "model.safetensors")
               for d in (fitted, out)]
    assert weights[0].keys() == weights[1].keys()
    assert all((weights[0][k] == weights[1][k]).all() for k in weights[0]), "Ray's student differs from this process's"
    assert next(r for r in _records(out).values() if r["status"] == "chosen")["label"] == winner["label"]


def test_an_encoder_teacher_is_fitted_on_plain_text_by_embedding_cosine(tiny_encoder, capsys, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(f"request {i}: the {w} of the city by the river" for i, w in
                               enumerate(["book", "door", "window", "table", "paper", "light"] * 10)) + "\n")
    result = run_cli(capsys, "fit", tiny_encoder, "--data", texts, "--texts", texts, "--formats", "onnx-int8",
                     "--depths", "1", "--heads", "1,2", "--ffn", "64", "--vocab", "full", "--embedding", "int8",
                     "--steps", "6", "--min-seconds", "0.2", "--min-retention", "0.5", "--out", tmp_path / "fit")
    assert result.code == 0, result.err
    chosen = next(r for r in _records(tmp_path / "fit").values() if r["status"] == "chosen")
    manifest = json.loads((tmp_path / "fit" / "chosen" / "manifest.json").read_text())
    evidence = manifest["fit"]["evidence"]
    assert evidence["metric"] == "cosine" and manifest["task"] != "classification"
    # retention is the held-out mean cosine to the teacher's embeddings: in PyTorch, then again for the artifact
    assert 0.5 <= evidence["artifact"]["retention"] <= 1 and abs(evidence["artifact"]["retention"]
                                                                  - chosen["retention"]) < 0.05
