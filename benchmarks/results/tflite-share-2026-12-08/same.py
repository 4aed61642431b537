import numpy as np, sys
from ai_edge_litert.interpreter import Interpreter
a = Interpreter(model_path=sys.argv[1]); b = Interpreter(model_path=sys.argv[2])
for key in a.get_signature_list():
    ra, rb = a.get_signature_runner(key), b.get_signature_runner(key)
    n = int(key[1:])
    rng = np.random.default_rng(0)
    feed = {name: (rng.integers(0, 30000, (1, n)).astype(np.int32) if "ids" in name else np.ones((1, n), np.int32))
            for name in a.get_signature_list()[key]["inputs"]}
    oa, ob = ra(**feed), rb(**feed)
    print(key, {k: (oa[k].shape, float(np.abs(oa[k]-ob[k]).max())) for k in oa})
