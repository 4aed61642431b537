"""A user's own data end to end: CSV/TSV/JSONL with their columns and label names, finetune, distill, export with
label names, eval with truncation counted; every bad file is one line naming file:line and leaves nothing."""
from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgebert.distill.data import Columns, DataError, read_data
from tests.cli_helpers import run_cli

FILLER = ("please my order account the a it was is today again now this that help need still".split())
KEYWORDS = {"billing": ("refund", "charge", "invoice"), "shipping": ("parcel", "courier", "delivery"),
            "tech": ("password", "login", "crash")}


def tickets(n: int, seed: int) -> list[dict[str, str]]:
    """Support tickets whose category is decided by a keyword: learnable by a tiny model."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = sorted(KEYWORDS)[i % 3]
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 9))]
        words.insert(rng.randrange(len(words) + 1), rng.choice(KEYWORDS[label]))
        rows.append({"ticket": " ".join(words), "category": label, "channel": rng.choice(["email", "chat"])})
    return rows


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t" if path.suffix == ".tsv" else ",")
            writer.writeheader()
            writer.writerows(rows)
    return path


COLS = Columns.from_flags("ticket", None, "category")


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_readers_with_custom_columns_and_string_labels(tmp_path, suffix):
    rows = tickets(9, 0)
    rows[0]["ticket"] = 'she said "refund, now", twice'  # quotes and commas survive each layout
    ds = read_data(write(tmp_path / f"t{suffix}", rows), COLS)
    assert ds.label_names == ["billing", "shipping", "tech"]  # sorted: the order is fixed by the file's labels
    assert len(ds) == 9 and ds.text_a[0] == 'she said "refund, now", twice'
    assert [ds.label_names[i] for i in ds.labels] == [r["category"] for r in rows]
    pair = read_data(tmp_path / f"t{suffix}", Columns.from_flags("ticket", "channel", "category"))
    assert pair.text_b == [r["channel"] for r in rows]


def test_integer_labels_sort_numerically_and_defaults_find_text_and_label(tmp_path):
    path = write(tmp_path / "d.csv", [{"sentence": f"row {i}", "label": str(i % 11)} for i in range(22)])
    ds = read_data(path, Columns())
    assert ds.label_names == [str(i) for i in range(11)] and ds.labels.tolist()[:12] == list(range(11)) + [0]


@pytest.mark.parametrize("content,message", [
    (b"", "t.csv:1: empty file"),
    (b"ticket,category\nhello there,billing\nfine,billing\n",
     "t.csv: only one class ('billing') in 2 rows: a classifier needs two or more"),
    (b"body,kind\nhello,a\nbye,b\n", "t.csv:1: no text column (expected 'ticket'; the header has: 'body', 'kind')"),
    (b"ticket,category\nhello,a\ncaf\xe9 ok,b\n", "t.csv:3: not UTF-8"),
    (b"ticket,category\nhello,a\n,b\n", "t.csv:3: empty text in column 'ticket'"),
    (b"ticket,category\nhello,a\nhi there\n", "t.csv:3: 1 fields, the header has 2"),
])
def test_bad_files_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        read_data(path, COLS)
    assert str(err.value).startswith(f"{tmp_path}/{message}"), str(err.value)


def test_pair_column_sometimes_empty_and_jsonl_non_object(tmp_path):
    path = write(tmp_path / "p.csv", [{"ticket": "a", "channel": "chat", "category": "x"},
                                      {"ticket": "b", "channel": "", "category": "y"}])
    with pytest.raises(DataError, match=r"p.csv:3: empty second text in column 'channel'"):
        read_data(path, Columns.from_flags("ticket", "channel", "category"))
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"ticket": "a", "category": "x"}\n[1, 2]\n')
    with pytest.raises(DataError, match=r"b.jsonl:2: each line must be a JSON object, got list"):
        read_data(bad, COLS)
    skipped = read_data(path, Columns.from_flags("ticket", "channel", "category"), skip_bad_rows=True,
                        label_names=["x", "y"])
    assert len(skipped) == 1 and skipped.skipped == 1


@pytest.fixture(scope="module")
def ticket_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tickets")
    return write(root / "train.csv", tickets(300, 1)), write(root / "dev.jsonl", tickets(90, 2))


def _finetune(capsys, base, train, dev, out, *extra):
    return run_cli(capsys, "finetune", base, "--data", train, "--eval-data", dev, "--out", out,
                   "--text-column", "ticket", "--label-column", "category", "--steps", "40", "--batch-size", "16",
                   "--lr", "3e-3", "--eval-every", "20", "--seed", "7", *extra)


@pytest.fixture(scope="module")
def finetuned(tiny_encoder, ticket_data, tmp_path_factory):
    from edgebert.distill.finetune import finetune
    from edgebert.distill.config import TrainConfig

    train, dev = ticket_data
    out = tmp_path_factory.mktemp("ft") / "teacher"
    result = finetune(str(tiny_encoder), out, data=train, eval_data=dev, columns=COLS,
                      cfg=TrainConfig(steps=80, batch_size=16, lr=3e-3, eval_every=20, seed=7))
    return out, result


def test_finetune_learns_the_task_and_writes_label_names(finetuned):
    out, result = finetuned
    evals = [r["eval_accuracy"] for r in result.history if "eval_accuracy" in r]
    assert evals[-1] >= 0.9, evals  # a tiny random-init BERT learns the keyword task
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "billing", "1": "shipping", "2": "tech"}
    meta = json.loads((out / "finetune.json").read_text())
    assert meta["labels"] == ["billing", "shipping", "tech"] and meta["train_rows"] == 300
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert not (out.parent / ".teacher.training").exists()


def _torch_labels(model_dir: Path, texts: list[str]) -> list[str]:
    """The student's predicted class names, straight from transformers and its config's id2label."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    enc = AutoTokenizer.from_pretrained(model_dir)(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    return [model.config.id2label[i] for i in logits.argmax(-1).tolist()]


def test_label_names_round_trip_through_distill_export_predict_and_eval(capsys, finetuned, ticket_data, tmp_path):
    teacher, _ = finetuned
    train, dev = ticket_data
    res = run_cli(capsys, "distill", "--teacher", teacher, "--data", train, "--eval-data", dev, "--out",
                  tmp_path / "student", "--text-column", "ticket", "--label-column", "category", "--steps", "30",
                  "--batch-size", "16", "--lr", "2e-3")
    assert res.code == 0, res.err
    res = run_cli(capsys, "export", tmp_path / "student", "--format", "onnx", "--out", tmp_path / "b")
    assert res.code == 0, res.err
    texts = ["I need a refund for this charge", "my parcel is lost"]
    res = run_cli(capsys, "predict", tmp_path / "b", *texts)
    out = json.loads(res.out)["results"]
    assert [r["label"] for r in out] == _torch_labels(tmp_path / "student", texts) == ["billing", "shipping"]
    assert all(list(r["scores"]) == ["billing", "shipping", "tech"] and max(r["scores"], key=r["scores"].get) ==
               r["label"] for r in out)
    rows_path = tmp_path / "eval.jsonl"
    res = run_cli(capsys, "eval", teacher, tmp_path / "student", tmp_path / "b", "--data", dev, "--text-column",
                  "ticket", "--label-column", "category", "--out", rows_path)
    assert res.code == 0, res.err
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    assert [r["format"] for r in rows] == ["pytorch", "pytorch", "onnx"]
    assert rows[0]["metric"] == "accuracy" and "macro_f1" in rows[0]["metrics"]
    assert rows[2]["score"] == rows[1]["score"] and rows[2]["labels"] == ["billing", "shipping", "tech"]


def test_eval_refuses_a_label_the_model_never_saw(capsys, finetuned, tmp_path):
    teacher, _ = finetuned
    path = write(tmp_path / "odd.csv", [{"ticket": "refund please", "category": "billing"},
                                        {"ticket": "where is it", "category": "returns"}])
    res = run_cli(capsys, "eval", teacher, "--data", path, "--text-column", "ticket", "--label-column", "category")
    assert res.code == 2
    assert f"{path}:3: label 'returns' is not one the model knows (valid: billing, shipping, tech)" in res.err


def eval_rows(capsys, teacher: str, bundle: Path, data: Path, out: Path) -> list[dict]:
    """`edgebert eval TEACHER BUNDLE` on the ticket/category CSV; its rows (teacher first)."""
    res = run_cli(capsys, "eval", teacher, bundle, "--data", data, "--text-column", "ticket",
                  "--label-column", "category", "--out", out)
    assert res.code == 0, res.err
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_static_shape_bundle_truncates_and_the_row_says_so(capsys, finetuned, tmp_path):
    teacher, _ = finetuned
    res = run_cli(capsys, "export", teacher, "--format", "tflite", "--seq-len", "16", "--out", tmp_path / "t")
    assert res.code == 0, res.err
    long = " ".join(["please help with my refund"] * 12)
    path = write(tmp_path / "long.csv", [{"ticket": long, "category": "billing"},
                                         {"ticket": "parcel late", "category": "shipping"}])
    rows = eval_rows(capsys, teacher, tmp_path / "t", path, tmp_path / "e.jsonl")
    assert (rows[0]["max_tokens"], rows[0]["truncated_rows"]) == (512, 0)
    assert (rows[1]["max_tokens"], rows[1]["truncated_rows"]) == (16, 1)


def test_mediapipe_auto_length_cut_is_shown_by_export_and_eval(capsys, finetuned, tmp_path):
    """Issue 23 pt 4: MediaPipe keeps one length, chosen from the user's texts (the shortest keeping 95% whole);
    the export says what share that cuts, and eval on labelled data counts the texts cut and scores them cut."""
    teacher, _ = finetuned
    short = [("refund please", "billing"), ("parcel late", "shipping"), ("app crashes", "tech"),
             ("charged twice", "billing"), ("where is my box", "shipping")] * 4  # 20 texts, 4-6 tokens
    long = " ".join(["my parcel never arrived and nobody answers"] * 6)  # 40+ tokens: the one text cut
    rows = [{"ticket": t, "category": c} for t, c in short[:19]] + [{"ticket": long, "category": "shipping"}]
    data = write(tmp_path / "d.csv", rows)
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(r["ticket"] for r in rows) + "\n")
    res = run_cli(capsys, "export", teacher, "--format", "tflite-mediapipe", "--seq-len", "auto", "--texts", texts,
                  "--out", tmp_path / "mp")
    assert res.code == 0, res.err
    m = json.loads((tmp_path / "mp" / "manifest.json").read_text())
    assert m["shapes"]["seq_lens"] == [8]  # 95% of the texts fit 8 tokens ([CLS] + <= 6 + [SEP], rounded up to 8)
    assert m["shapes"]["buckets"]["on_texts"]["cut"] == 1 and m["shapes"]["buckets"]["on_texts"]["cut_share"] == 0.05
    assert "on your 20 texts: 1 cut (5.0%)" in res.out, res.out
    got = eval_rows(capsys, teacher, tmp_path / "mp", data, tmp_path / "e.jsonl")
    assert (got[0]["max_tokens"], got[0]["truncated_rows"]) == (512, 0)
    assert (got[1]["max_tokens"], got[1]["truncated_rows"]) == (8, 1)


def test_finetune_resume_equals_an_uninterrupted_run(tiny_encoder, ticket_data, tmp_path):
    from safetensors.torch import load_file

    from edgebert.distill.finetune import finetune
    from edgebert.distill.config import TrainConfig

    train, dev = ticket_data
    cfg = TrainConfig(steps=12, batch_size=16, lr=3e-3, checkpoint_every=4, seed=3)
    full = finetune(str(tiny_encoder), tmp_path / "full", data=train, eval_data=None, columns=COLS, cfg=cfg)

    class Stop(Exception):
        pass

    def crash_at_9(step, rec):
        if step == 9:
            raise Stop

    with pytest.raises(Stop):
        finetune(str(tiny_encoder), tmp_path / "cut", data=train, eval_data=None, columns=COLS, cfg=cfg,
                 on_step=crash_at_9)
    assert not (tmp_path / "cut").exists()
    resumed = finetune(str(tiny_encoder), tmp_path / "cut", data=train, eval_data=None, columns=COLS, cfg=cfg,
                       resume=True)
    assert resumed.resumed_from == 8 and [r["loss"] for r in resumed.history] == [r["loss"] for r in full.history[8:]]
    a, b = load_file(str(tmp_path / "full" / "model.safetensors")), load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


@pytest.mark.parametrize("content,message", [
    (b"ticket,category\nhi,a\nho,a\n", "only one class ('a') in 2 rows"),
    (b"text,label\nhi,a\n", "no text column (expected 'ticket'"),
    (b"ticket,category\nhi,a\n\xff\xfe,b\n", ":3: not UTF-8"),
])
def test_finetune_bad_data_is_one_line_and_leaves_nothing(capsys, tiny_encoder, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    res = _finetune(capsys, tiny_encoder, path, path, tmp_path / "out")
    lines = [ln for ln in res.err.splitlines() if ln.startswith("error:")]
    assert res.code == 2 and len(lines) == 1 and message in lines[0] and "Traceback" not in res.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_docs_dataset_script_is_deterministic(tmp_path):
    script = Path(__file__).parents[1] / "scripts" / "build_docs_dataset.py"
    for name in ("a", "b"):
        subprocess.run([sys.executable, str(script), str(tmp_path / name)], check=True, capture_output=True)
    for split in ("train.csv", "dev.csv", "test.csv", "meta.json"):
        assert (tmp_path / "a" / split).read_bytes() == (tmp_path / "b" / split).read_bytes()
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert set(meta["splits"]["train"]["per_label"]) == set(meta["topics"]) and len(meta["topics"]) == 9
    assert meta["splits"]["train"]["rows"] > 1000 and meta["splits"]["test"]["rows"] > 300
    ds = read_data(tmp_path / "a" / "test.csv", Columns())
    assert ds.label_names == sorted(meta["topics"])
