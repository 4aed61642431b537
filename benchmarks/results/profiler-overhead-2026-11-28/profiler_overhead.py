"""What ONNX Runtime's profiler costs: one MiniLM onnx bundle (real all-MiniLM-L6-v2, b1 s128, 2 threads) in a plain
session and in a profiling session, 5 interleaved repetitions of 20 runs (median ms each).
Usage: python profiler_overhead.py BUNDLE/model.onnx"""
import sys
import time, json, numpy as np, onnxruntime as ort, tempfile
path = sys.argv[1]
feed = {"input_ids": np.random.randint(1000, 20000, (1, 128)).astype(np.int64), "attention_mask": np.ones((1, 128), np.int64), "token_type_ids": np.zeros((1,128),np.int64)}
def mk(prof):
    o = ort.SessionOptions(); o.intra_op_num_threads = 2; o.inter_op_num_threads = 1
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if prof: o.enable_profiling = True; o.profile_file_prefix = tempfile.mkdtemp() + "/p"
    s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    return s, {i.name: feed[i.name] for i in s.get_inputs()}
S = {"plain": mk(False), "prof": mk(True)}
res = {k: [] for k in S}
for rep in range(5):
    for k, (s, f) in S.items():
        for _ in range(3): s.run(None, f)
        t = []
        for _ in range(20):
            a = time.perf_counter(); s.run(None, f); t.append(time.perf_counter() - a)
        res[k].append(np.median(t) * 1e3)
for k, v in res.items(): print(f"{k:6} median {np.median(v):.2f} ms  reps {[round(float(x), 2) for x in v]}")
print(f"profiling session / plain: {np.median(res['prof']) / np.median(res['plain']):.3f}")
s = S["prof"][0]; ev = json.load(open(s.end_profiling()))
print("nodes per run", sum(1 for e in ev if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")) / sum(1 for e in ev if e.get("name") == "model_run"))
