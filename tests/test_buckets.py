"""Sequence-length buckets: parsing and refusing bad lists, ladders and one length from the user's texts, and what
they cost on those texts (issue 23: LiteRT ladders, MediaPipe's one length)."""
from __future__ import annotations

import math
import re

import pytest

from edgebert import buckets
from edgebert.errors import UsageError
from tests.cli_helpers import run_cli
from tests.conftest import read_manifest


@pytest.mark.parametrize("text, message", [
    (",", "at least one length"),
    ("32,16", "ascending order"),
    ("16,16,32", "a length twice"),
    ("0,16", "must be positive (got 0)"),
    ("-8,16", "must be positive (got -8)"),
    ("16,abc", "ascending whole numbers"),
])
def test_bad_bucket_lists_are_refused_with_a_reason(text, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        buckets.parse(text)


def test_parse_lists_auto_and_default():
    assert buckets.parse("16,32,64") == ([16, 32, 64], False)
    assert buckets.parse("AUTO") == (None, True)
    assert buckets.parse(None) == (None, False)
    with pytest.raises(UsageError, match="longer than the model takes .512 positions"):
        buckets.check([128, 1024], max_length=512)


def test_ladder_single_and_usage_on_known_lengths():
    lengths = [5] * 50 + [20] * 40 + [70] * 9 + [300]  # 100 texts
    # nearest-rank quantiles: 50% -> 5, 90% -> 20, 99% -> 70, 100% -> 300; rounded up to 8, capped at 256
    assert buckets.ladder(lengths, 256) == [8, 24, 72, 256]
    assert buckets.single(lengths, 256, keep=0.95) == 72  # the 95th text is 70 tokens
    assert buckets.single(lengths, 512, keep=1.0) == 304
    used = buckets.usage(lengths, [8, 24, 72, 256])
    assert used["per_bucket"] == {"8": 50, "24": 40, "72": 9, "256": 1}
    assert used["cut"] == 1 and used["cut_share"] == 0.01
    real = 5 * 50 + 20 * 40 + 70 * 9 + 256
    run = 8 * 50 + 24 * 40 + 72 * 9 + 256
    assert used["tokens"] == real and used["padding_tokens"] == run - real


def test_choose_defaults_and_one_length_rules():
    assert buckets.choose(None, False, False, 512, None, None).seq_lens == [16, 32, 64, 128]
    assert buckets.choose(None, False, False, 40, None, None).seq_lens == [16, 32, 40]  # capped at the model's 40
    assert buckets.choose(None, False, True, 512, None, None).seq_lens == [128]
    with pytest.raises(UsageError, match="one fixed length"):
        buckets.choose([32, 64], False, True, 512, None, None)
    with pytest.raises(UsageError, match="pass --texts FILE"):
        buckets.choose(None, True, False, 512, None, None)


@pytest.mark.parametrize("args, message", [
    (["--seq-len", "64,32"], "ascending order"),
    (["--seq-len", "16,16"], "a length twice"),
    (["--seq-len", "0"], "must be positive"),
    (["--seq-len", "auto"], "pass --texts FILE"),
    (["--seq-len", "16,4096"], "longer than the model takes"),
    (["--format", "tflite-mediapipe", "--seq-len", "16,32"], "one fixed length"),
])
def test_export_refuses_bad_buckets_before_writing(capsys, tmp_path, tiny_encoder, args, message):
    out = tmp_path / "b"
    args = args if "--format" in args else ["--format", "tflite", *args]
    res = run_cli(capsys, "export", tiny_encoder, "--out", out, *args)
    assert res.code == 2, res.err
    assert message in res.err and len(res.err.strip().splitlines()) == 1
    assert not out.exists()


def test_mediapipe_auto_length_keeps_95_percent_and_says_what_is_cut(capsys, tmp_path, tiny_encoder):
    """MediaPipe keeps one length per file: `auto` picks the shortest that keeps 95% of the user's texts whole; the
    manifest and the summary say what share of those texts is cut, computed here from the tokenizer."""
    from transformers import AutoTokenizer

    texts = [("word " * n).strip() for n in [3] * 60 + [12] * 30 + [40] * 6 + [90] * 4]
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(texts), encoding="utf-8")
    lengths = [len(ids) for ids in AutoTokenizer.from_pretrained(str(tiny_encoder))(texts)["input_ids"]]
    expected = math.ceil(sorted(lengths)[94] / 8) * 8  # the 95th of 100 texts, rounded up to 8
    out = tmp_path / "mp"
    res = run_cli(capsys, "export", tiny_encoder, "--format", "tflite-mediapipe", "--seq-len", "auto",
                  "--texts", path, "--out", out)
    assert res.code == 0, res.err
    m = read_manifest(out)
    assert m["shapes"]["seq_lens"] == [expected] and m["mediapipe"]["max_seq_len"] == expected
    on_texts = m["shapes"]["buckets"]["on_texts"]
    cut = sum(n > expected for n in lengths)
    assert cut == 4 and on_texts["cut"] == cut and on_texts["cut_share"] == 0.04
    assert m["shapes"]["buckets"]["how"].startswith("auto: the shortest length that keeps 95% of 100 texts")
    assert "4 cut (4.0%)" in " ".join(res.out.split())
