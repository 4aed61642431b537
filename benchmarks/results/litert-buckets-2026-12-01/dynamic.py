import sys, time, os, torch
from transformers import AutoConfig, AutoModel
import litert_torch
from torch.export import Dim
big = len(sys.argv) > 1 and sys.argv[1] == "big"
cfg = AutoConfig.for_model("distilbert") if big else AutoConfig.for_model("distilbert", dim=64, n_layers=2, n_heads=2, hidden_dim=128)
torch.manual_seed(0)
m = AutoModel.from_config(cfg).eval()
class W(torch.nn.Module):
    def __init__(s, m): super().__init__(); s.m = m
    def forward(s, input_ids, attention_mask): return s.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
w = W(m).eval()
def kw(n): return {"input_ids": torch.ones((1, n), dtype=torch.long), "attention_mask": torch.ones((1, n), dtype=torch.long)}
import litert_torch.backend.export as be
_orig = be._convert_i64_to_i32
def _patched(ep):
    # measurement-only workaround: litert-torch 0.10 compares a symbolic arange end with ints and crashes
    for node in ep.graph_module.graph.nodes:
        if node.target == torch.ops.aten.arange.start_step and not all(isinstance(a, int) for a in node.args[:2]):
            node.meta["_skip"] = True
    saved = {}
    for node in ep.graph_module.graph.nodes:
        if node.meta.get("_skip"):
            saved[node] = node.meta.pop("tensor_meta", None)
    r = _orig(ep)
    for node, tm in saved.items():
        node.meta["tensor_meta"] = tm
    return r
if "patch" in sys.argv: be._convert_i64_to_i32 = _patched
seq = Dim("seq", min=2, max=512)
t = time.time()
try:
    litert_torch.convert(w, sample_kwargs=kw(128), dynamic_shapes={"input_ids": {1: seq}, "attention_mask": {1: seq}}, enable_x64=("x64" in sys.argv)).export(sys.argv[2])
    print("dynamic converted", time.time() - t, os.path.getsize(sys.argv[2]))
except Exception as e:
    import traceback; traceback.print_exc(); print("DYNAMIC FAILED:", type(e).__name__, str(e)[:2000])
