"""The long sweep behind issue 21's tokenizer fix: every code point of planes 0-2 and 14, in three contexts, through
onnx-text's tokenizer graph against the model's own tokenizer. Slow (minutes); run with `-m slow`. Divergences
found are shrunk by hand into edgebert.hostile.REGRESSIONS, which the default tests check."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.slow
def test_every_code_point_tokenizes_as_the_model_does():
    import onnxruntime as ort
    from onnxruntime_extensions import get_library_path
    from tokenizers import Tokenizer

    from edgebert.formats.onnx_text import tokenizer_graph
    from edgebert.tokenizer import packaged_tokenizer

    tok = packaged_tokenizer()  # bert-base-uncased's vocabulary: MiniLM's and the tiny test models' too
    graph, _ = tokenizer_graph(tok, 512)
    opts = ort.SessionOptions()
    opts.register_custom_ops_library(get_library_path())
    sess = ort.InferenceSession(graph.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    hf = Tokenizer.from_str(tok.backend_tokenizer.to_str())
    hf.no_padding()
    cps = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and (cp < 0x32000 or cp >= 0xE0000)]
    differ = []
    for cp in cps:
        text = f"a{chr(cp)}b x{chr(cp)} {chr(cp)}"
        if sess.run(["input_ids"], {"text": np.array([text], dtype=object)})[0].tolist() != hf.encode(text).ids:
            differ.append(hex(cp))
    # before the in-graph normaliser, 121,133 of these code points diverged (onnxruntime-extensions 0.15.2 alone)
    assert differ == [], f"{len(differ)} of {len(cps)} code points diverge: {differ[:20]}"
