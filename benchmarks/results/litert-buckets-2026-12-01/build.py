"""Build a DistilBERT-shaped (random weights) LiteRT file twice: one signature at 128, and 4 signatures (s16..s128)."""
import sys, time, os, torch
from transformers import AutoConfig, AutoModel
import litert_torch
big = len(sys.argv) > 1 and sys.argv[1] == "big"
OUT = sys.argv[2]  # work folder
if big:
    cfg = AutoConfig.for_model("distilbert")
else:
    cfg = AutoConfig.for_model("distilbert", dim=64, n_layers=2, n_heads=2, hidden_dim=128)
torch.manual_seed(0)
m = AutoModel.from_config(cfg).eval()
class W(torch.nn.Module):
    def __init__(s, m): super().__init__(); s.m = m
    def forward(s, input_ids, attention_mask): return s.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
w = W(m).eval()
def kw(n): return {"input_ids": torch.ones((1, n), dtype=torch.long), "attention_mask": torch.ones((1, n), dtype=torch.long)}
t = time.time(); litert_torch.convert(w, sample_kwargs=kw(128)).export(f"{OUT}/one.tflite"); print("one", time.time()-t)
t = time.time()
c = litert_torch.signature("s16", w, sample_kwargs=kw(16))
for n in (32, 64, 128): c = c.signature(f"s{n}", w, sample_kwargs=kw(n))
c.convert().export(f"{OUT}/multi.tflite"); print("multi", time.time()-t)
print(os.path.getsize(f"{OUT}/one.tflite"), os.path.getsize(f"{OUT}/multi.tflite"))
from ai_edge_litert.interpreter import Interpreter
it = Interpreter(model_path=f"{OUT}/multi.tflite")
print(it.get_signature_list())
