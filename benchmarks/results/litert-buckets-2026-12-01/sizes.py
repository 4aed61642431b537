import sys
from ai_edge_quantizer.utils import tfl_flatbuffer_utils as fu
import os
for path in sys.argv[1:]:
    m = fu.read_model(path)
    tot = sum(((len(b.data) if b.data is not None else 0) or (b.size or 0)) for b in m.buffers)
    q = 0
    for sg in m.subgraphs:
        for t in sg.tensors:
            if t.quantization is not None and t.quantization.scale is not None:
                q += 4 * len(t.quantization.scale) + 8 * len(t.quantization.zeroPoint if t.quantization.zeroPoint is not None else [])
    print(path, os.path.getsize(path), "buffers", tot, "quant params", q, "rest", os.path.getsize(path) - tot - q)
