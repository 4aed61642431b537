"""ai-edge-quantizer (edgebert's own recipes) on the one- and four-signature files; every signature kept, cosine vs fp32."""
import sys, os, sys
from pathlib import Path
W = sys.argv[1]
from edgebert.formats.tflite import quantize
for src in ("one", "multi"):
    for p in ("int8", "fp16"):
        quantize(Path(f"{W}/{src}.tflite"), Path(f"{W}/{src}-{p}.tflite"), p)
        print(src, p, os.path.getsize(f"{W}/{src}-{p}.tflite"))
from ai_edge_litert.interpreter import Interpreter
import numpy as np
for p in ("int8", "fp16"):
    it = Interpreter(model_path=f"{W}/multi-{p}.tflite")
    print(p, list(it.get_signature_list()))
    ops = it._get_ops_details()
    print(p, sorted({o["op_name"] for o in ops}))
    ref = Interpreter(model_path=f"{W}/multi.tflite")
    for k in ("s16", "s128"):
        n = int(k[1:])
        feed = {"input_ids": np.random.RandomState(0).randint(1, 30000, (1, n)).astype(np.int32), "attention_mask": np.ones((1, n), np.int32)}
        a = it.get_signature_runner(k)(**feed)["output_0"].ravel(); b = ref.get_signature_runner(k)(**feed)["output_0"].ravel()
        print(p, k, a @ b / np.linalg.norm(a) / np.linalg.norm(b))
