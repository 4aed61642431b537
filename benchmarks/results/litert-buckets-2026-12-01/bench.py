"""Latency of one DistilBERT-shaped (random weights) LiteRT file, fp32, XNNPACK, 2 threads, batch 1:
the 4-signature file (s16,s32,s64,s128) at the bucket a text needs vs the single-length (128) file padding every
text to 128. Interleaved rounds; each cell is the median of RUNS calls; reported: median (min-max) over rounds."""
import json, statistics, sys, time

import numpy as np
from ai_edge_litert.interpreter import Interpreter

W, ROUNDS, RUNS = sys.argv[1], 5, 30
multi = Interpreter(model_path=f"{W}/multi.tflite", num_threads=2)
one = Interpreter(model_path=f"{W}/one.tflite", num_threads=2)
one.allocate_tensors()
sig = {k: multi.get_signature_runner(k) for k in multi.get_signature_list()}
single = one.get_signature_runner()


def feed(tokens, width):
    ids = np.zeros((1, width), np.int32)
    ids[0, :tokens] = np.random.RandomState(tokens).randint(1000, 30000, tokens)
    return {"input_ids": ids, "attention_mask": (ids != 0).astype(np.int32)}


cells = {"17 tok, 4-signature file, s32": (sig["s32"], feed(17, 32)),
         "17 tok, single 128 file": (single, feed(17, 128)),
         "128 tok, 4-signature file, s128": (sig["s128"], feed(128, 128)),
         "128 tok, single 128 file": (single, feed(128, 128))}
for run, f in cells.values():
    for _ in range(5):
        run(**f)
rounds = {k: [] for k in cells}
for _ in range(ROUNDS):
    for name, (run, f) in cells.items():
        times = []
        for _ in range(RUNS):
            t = time.perf_counter()
            run(**f)
            times.append((time.perf_counter() - t) * 1e3)
        rounds[name].append(statistics.median(times))
out = {k: {"median_ms": round(statistics.median(v), 3), "min_ms": round(min(v), 3), "max_ms": round(max(v), 3),
           "rounds_ms": [round(x, 3) for x in v]} for k, v in rounds.items()}
print(json.dumps(out, indent=1))
