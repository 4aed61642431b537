import sys, numpy as np, collections
from ai_edge_litert import schema_py_generated as schema
data = open(sys.argv[1], 'rb').read()
m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(data), 0))
print("file", len(data), "buffers", len(m.buffers), "subgraphs", len(m.subgraphs), "sigs", [s.signatureKey for s in m.signatureDefs])
offs = [b for b in m.buffers if b.offset and b.offset > 1]
print("offset buffers", len(offs), "bytes", sum(b.size for b in offs), "min offset", min(b.offset for b in offs) if offs else None)
inline = sum(len(b.data) for b in m.buffers if b.data is not None)
print("inline buffer bytes", inline)
for i, sg in enumerate(m.subgraphs):
    qbytes = 0; nq = 0; bufs = set()
    for t in sg.tensors:
        q = t.quantization
        if q is not None and q.scale is not None and len(q.scale) > 1:
            nq += 1; qbytes += len(q.scale) * 4 + (len(q.zeroPoint) * 8 if q.zeroPoint is not None else 0)
        bufs.add(t.buffer)
    print(f"subgraph {i}: tensors {len(sg.tensors)} ops {len(sg.operators)} per-channel tensors {nq} quant bytes {qbytes}")
# are weight buffers shared between subgraphs?
sets = [set(t.buffer for t in sg.tensors if m.buffers[t.buffer].size or (m.buffers[t.buffer].data is not None and len(m.buffers[t.buffer].data))) for sg in m.subgraphs]
print("shared weight buffers between sg0 and sg1:", len(sets[0] & sets[1]), "sg0 only", len(sets[0]-sets[1]))
