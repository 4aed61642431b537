"""Issue 24's per-request overhead at concurrency 1, re-measured after the request log was buffered (13501f1):
`edgebert serve` started as its own process (benchmarks/serve_goals.overhead), one fixed 16-token text, 10 s a round;
the server's own split from /metrics: request time minus inference time (model + pooling), means. R rounds.
    flock /tmp/edgebert-measure.lock python benchmarks/results/serve-2026-12-07/overhead.py BUNDLE [R]"""
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from benchmarks.serve_goals import machine, overhead  # noqa: E402

out = Path(__file__).parent
rounds = []
for r in range(int(sys.argv[2]) if len(sys.argv) > 2 else 3):
    o = overhead(sys.argv[1], out)
    o["in_server_ms"] = o["server_request_mean_ms"] - o["server_inference_mean_ms"]
    rounds.append(o)
    print(f"round {r}: in-server {o['in_server_ms']:.3f} ms, client p50 {o['client_p50_ms']:.3f} ms, "
          f"inference mean {o['server_inference_mean_ms']:.3f} ms", flush=True)
vals = [o["in_server_ms"] for o in rounds]
result = {"machine": machine(), "bundle": Path(sys.argv[1]).name, "rounds": rounds,
          "in_server_ms_median": statistics.median(vals), "in_server_ms_min": min(vals), "in_server_ms_max": max(vals)}
(out / "overhead.json").write_text(json.dumps(result, indent=1) + "\n")
print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=1))
