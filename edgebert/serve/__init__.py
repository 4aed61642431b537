"""`edgebert serve`: bundles behind HTTP on the runtime install -- JSON predictions, OpenAI-compatible embeddings,
health, readiness and Prometheus metrics, dynamic batching, A/B weights and a shadow candidate.

server (bind, load, run, drain) · app (the ASGI routes) · batcher (queue, model threads, batching) · model (a
bundle as served) · routes (request checks, response bodies) · abtest (routing, shadow) · metrics (Prometheus).
Importing this package loads nothing heavy; uvicorn and the runtime load when `serve()` runs.
"""
