"""ONNX Runtime session options on edgebert's onnx-int8 DistilBERT (random weights, b1 s128, 2 threads): each option a
session in one process, 6 interleaved repetitions of 15 runs. Usage: python session_options.py BUNDLE/model.onnx"""
import sys, time, numpy as np, onnxruntime as ort
cfgs = {"default": {}, "block_base4": {"session.dynamic_block_base": "4"}, "nospin": {"session.intra_op.allow_spinning": "0"},
        "daz": {"session.set_denormal_as_zero": "1"}, "block_base2": {"session.dynamic_block_base": "2"}}
feed = {"input_ids": np.random.randint(1000, 20000, (1, 128)).astype(np.int64), "attention_mask": np.ones((1, 128), np.int64)}
sess = {}
for k, c in cfgs.items():
    o = ort.SessionOptions(); o.intra_op_num_threads = 2; o.inter_op_num_threads = 1
    for a, b in c.items(): o.add_session_config_entry(a, b)
    s = ort.InferenceSession(sys.argv[1], o, providers=["CPUExecutionProvider"])
    names = [i.name for i in s.get_inputs()]
    sess[k] = (s, {n: feed[n] for n in names})
res = {k: [] for k in cfgs}
for rep in range(10):
    for k, (s, f) in sess.items():
        for _ in range(3): s.run(None, f)
        t = []
        for _ in range(15):
            a = time.perf_counter(); s.run(None, f); t.append(time.perf_counter() - a)
        res[k].append(np.median(t) * 1e3)
# this VM flips between speed states (~22 and ~29 ms for the same model), so compare within each repetition
base = np.array(res["default"])
for k, v in res.items():
    ratio = np.array(v) / base
    print(f"{k:12} median {np.median(v):6.2f} ms  vs default in the same repetition: median {np.median(ratio):.3f} "
          f"(min {ratio.min():.3f}, max {ratio.max():.3f})  reps {' '.join(f'{x:.1f}' for x in v)}")
